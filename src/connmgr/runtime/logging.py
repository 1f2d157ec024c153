"""Logging for every connmgr process: structlog, configured once in ``main()``.

Each line has an ISO-8601 UTC ``timestamp``, ``level``, ``logger``, the context
bound with ``structlog.contextvars`` and the call's fields; JSON per line when
``log_format`` is ``json`` (or ``auto`` and stderr is not a terminal), a console
layout otherwise. Standard ``logging`` records (nats, aiohttp) take the same route.

``redact_secrets`` runs on every line: the value of any key whose name looks
secret becomes ``"[redacted]"`` at any depth of dicts, lists and tuples, and
credentials inside URLs or ``Bearer`` values are masked. It guards the rule that
secrets are never bound; it is not a licence to bind them.
"""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import MutableMapping
from typing import Any, Final

import structlog
from structlog.typing import EventDict, Processor, WrappedLogger

from connmgr.schemas.settings import Settings

REDACTED: Final = "[redacted]"
# Matched against the key lowercased with everything but letters and digits
# removed, so "API-Key", "x_api_key" and "clientSecret" are all caught.
_SECRET_KEY_PARTS: Final = (
    "password", "passwd", "passphrase", "pwd", "secret", "token", "apikey",
    "authorization", "privatekey", "signingkey", "sealed", "plaintext", "ciphertext",
    "cookie", "credential", "datakey", "wrappedkey", "sessionid", "dsn",
)  # fmt: skip
_URL_CREDENTIALS: Final = re.compile(r"(?P<head>[a-z][a-z0-9+.-]*://[^:/@\s]*):[^@\s]+@", re.I)
_BEARER_VALUE: Final = re.compile(r"(?P<head>\bbearer\s+)[^\s\"',;]+", re.I)
_MAX_DEPTH: Final = 12


def is_secret_key(key: object) -> bool:
    """True when a field named ``key`` may hold a secret."""
    normalized = re.sub(r"[^a-z0-9]", "", str(key).lower())
    return any(part in normalized for part in _SECRET_KEY_PARTS)


def _mask_text(text: str) -> str:
    if "://" in text:
        text = _URL_CREDENTIALS.sub(rf"\g<head>:{REDACTED}@", text)
    if "earer" in text:
        text = _BEARER_VALUE.sub(rf"\g<head>{REDACTED}", text)
    return text


def _redact(value: Any, depth: int) -> Any:
    if depth > _MAX_DEPTH:
        return REDACTED  # unreadable depth (or a cycle): refuse rather than leak
    if isinstance(value, str):
        return _mask_text(value)
    if isinstance(value, dict):
        return {
            key: REDACTED if is_secret_key(key) else _redact(item, depth + 1)
            for key, item in value.items()
        }
    if isinstance(value, list):
        return [_redact(item, depth + 1) for item in value]
    if isinstance(value, tuple):
        return tuple(_redact(item, depth + 1) for item in value)
    return value


def redact_secrets(_logger: WrappedLogger, _method: str, event_dict: EventDict) -> EventDict:
    """structlog processor: mask secret-looking fields and embedded credentials."""
    redacted: MutableMapping[str, Any] = _redact(dict(event_dict), 0)
    event_dict.clear()
    event_dict.update(redacted)
    return event_dict


def _renderers(settings: Settings) -> list[Processor]:
    """The end of every chain. Tracebacks leave out local variables (they may
    hold secrets) and come before redaction, which masks their messages too."""
    use_json = settings.log_format == "json" or (
        settings.log_format == "auto" and not sys.stderr.isatty()
    )
    if use_json:
        exceptions = structlog.processors.ExceptionRenderer(
            structlog.tracebacks.ExceptionDictTransformer(show_locals=False)
        )
        return [exceptions, redact_secrets, structlog.processors.JSONRenderer()]
    return [
        structlog.processors.format_exc_info,
        redact_secrets,
        structlog.dev.ConsoleRenderer(colors=sys.stderr.isatty()),
    ]


def configure_logging(settings: Settings) -> None:
    """Route structlog and standard logging through one pipeline to stderr.

    Call once per process, before the first line is logged; calling again
    replaces the previous configuration.
    """
    level = logging.getLevelNamesMapping()[settings.log_level.upper()]
    shared: list[Processor] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        structlog.processors.StackInfoRenderer(),
    ]
    meta = structlog.stdlib.ProcessorFormatter.remove_processors_meta
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=shared, processors=[meta, *_renderers(settings)]
        )
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    structlog.configure(
        processors=[*shared, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.make_filtering_bound_logger(level),
        cache_logger_on_first_use=True,
    )
