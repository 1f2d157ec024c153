"""``connmgr health [--url URL] [--ready | --live]``: ask a probe port, exit 0 on 200.

What compose's healthchecks run inside a container (the slim image has no
curl). The default URL is this machine's worker probe port,
``http://127.0.0.1:<CONNMGR_HEALTH_PORT>/readyz`` (``--live``: ``/livez``); any
``http(s)`` URL may be given instead, say the API's ``/readyz``. It prints one
line and exits 0 when the answer is 200, 1 otherwise (another status, no answer
within ``--timeout`` seconds, refused, not HTTP):

    ok: http://127.0.0.1:8081/readyz
    unavailable (503): http://127.0.0.1:8081/readyz: nats_disconnected
    unreachable: http://127.0.0.1:8081/readyz: Connection refused

Only the answer's ``reason`` field (a short code) is shown, never its body.
Importing this module loads the standard library and the settings only: it
runs every few seconds in every container.
"""

from __future__ import annotations

import argparse
import json
import urllib.error
import urllib.request
from typing import Final
from urllib.parse import urlsplit

from connmgr.schemas.settings import Settings

EXIT_OK: Final = 0
EXIT_UNHEALTHY: Final = 1
DEFAULT_TIMEOUT_S: Final = 3.0
_MAX_REASON: Final = 120
_MAX_BODY: Final = 4096


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--url", help="probe URL (default: this machine's worker /readyz)")
    route = parser.add_mutually_exclusive_group()
    route.add_argument("--ready", action="store_true", help="the readiness route (default)")
    route.add_argument("--live", action="store_true", help="the liveness route")
    parser.add_argument(
        "--timeout", type=float, default=DEFAULT_TIMEOUT_S, help="seconds to wait for an answer"
    )


def probe_url(args: argparse.Namespace, settings: Settings) -> str:
    if args.url:
        return str(args.url)
    route = "livez" if args.live else "readyz"
    return f"http://127.0.0.1:{settings.health_port}/{route}"


def _reason(body: bytes) -> str:
    try:
        reason = json.loads(body).get("reason")
    except (ValueError, AttributeError):
        return ""
    if not isinstance(reason, str):
        return ""
    printable = "".join(c for c in reason if c.isprintable())
    return printable[:_MAX_REASON]


def probe(url: str, timeout_s: float) -> tuple[int, str]:
    """``(exit status, the line to print)`` for one request to ``url``."""
    if urlsplit(url).scheme not in ("http", "https"):
        return EXIT_UNHEALTHY, f"unusable: {url}: only http and https URLs are probed"
    try:
        with urllib.request.urlopen(url, timeout=timeout_s) as answer:  # noqa: S310 - scheme checked
            status = answer.status
    except urllib.error.HTTPError as error:
        reason = _reason(error.read(_MAX_BODY))
        return EXIT_UNHEALTHY, f"unavailable ({error.code}): {url}" + (
            f": {reason}" if reason else ""
        )
    except (urllib.error.URLError, OSError, ValueError) as error:
        cause = getattr(error, "reason", error)
        text = getattr(cause, "strerror", None) or str(cause) or type(cause).__name__
        return EXIT_UNHEALTHY, f"unreachable: {url}: {text}"
    if status != 200:
        return EXIT_UNHEALTHY, f"unavailable ({status}): {url}"
    return EXIT_OK, f"ok: {url}"


def run(args: argparse.Namespace, settings: Settings) -> int:
    code, line = probe(probe_url(args, settings), args.timeout)
    print(line)
    return code


def main(argv: list[str]) -> int:
    """``connmgr health …`` without building the whole command line (see the docstring)."""
    parser = argparse.ArgumentParser(prog="connmgr health", allow_abbrev=False)
    add_arguments(parser)
    return run(parser.parse_args(argv), Settings())
