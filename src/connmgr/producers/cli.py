"""The CLI commands of the write and read sides, for the ``connmgr`` console script.

The glue mounts them and runs the chosen handler with a ``CliContext``::

    subparsers = parser.add_subparsers(dest="command", required=True)
    cli.register(subparsers)
    args = parser.parse_args()
    code = asyncio.run(args.handler(args, CliContext(nats_url=..., tenant=..., ...)))

Commands: ``create``, ``update``, ``rotate``, ``delete`` (publish and print the
outcome), ``test`` (a stored connection, or ``--draft`` with the create options)
and ``check`` (publish and print the outcome with its result), ``ls``, ``show``,
``status`` and ``alerts`` (read the API; the last two in ``cli_health``),
``plan``, ``apply`` and ``export`` (connections files, in ``cli_declared``), and
``import`` (a peer's file to a connections file, in ``cli_import``). No option
takes a secret value:
secrets come from ``--secret-prompt FIELD``, ``--secrets-stdin`` or
``--secrets-file PATH`` (JSON objects of strings). Option abbreviations are off,
so no prefix can stand for a secrets option.
"""

from __future__ import annotations

import argparse

from connmgr.schemas.kinds import Kind

from . import cli_declared as declared
from . import cli_handlers as handlers
from . import cli_health as health
from . import cli_import as importing
from . import cli_probes as probes
from .cli_handlers import (
    EXIT_OK,
    EXIT_REJECTED,
    EXIT_TIMEOUT,
    EXIT_UNAVAILABLE,
    EXIT_USAGE,
    CliContext,
    Handler,
)
from .cli_input import connection_id
from .probes import PROBE_OUTCOME_WAIT_S

__all__ = [
    "EXIT_OK",
    "EXIT_REJECTED",
    "EXIT_TIMEOUT",
    "EXIT_UNAVAILABLE",
    "EXIT_USAGE",
    "CliContext",
    "Handler",
    "register",
]

KINDS = [kind.value for kind in Kind]
PROBE_EPILOG = f"""\
The outcome is awaited up to {PROBE_OUTCOME_WAIT_S:g}s (the configured timeout if longer)
unless --timeout is given: a check may take up to 60s.

exit status:
  0  the test ran and its result is ok
  1  the command was rejected, or the result is not ok (auth_failed, timeout, ...)
  2  usage error: nothing was sent
  3  no outcome in time: the command is stored and may still run
  4  NATS or the seal key is unavailable
"""


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the producer commands; each sets ``args.handler`` (an async ``Handler``)."""
    _create(_parser(subparsers, "create", "create a connection", handlers.create))
    _update(_parser(subparsers, "update", "change a connection", handlers.update))
    rotate = _parser(subparsers, "rotate", "replace a connection's secrets", handlers.rotate)
    rotate.add_argument("id", type=connection_id)
    _secrets(rotate, required=True)
    rotate.add_argument("--expected-version", type=int)
    delete = _parser(subparsers, "delete", "delete a connection", handlers.delete)
    delete.add_argument("id", type=connection_id)
    delete.add_argument("--expected-version", type=int)
    delete.add_argument("--reason", default="")
    summary = "test a connection now: a stored one (ID) or a draft (--draft, create options)"
    _test(_parser(subparsers, "test", summary, probes.test, epilog=PROBE_EPILOG))
    summary = "run a connection's health check now"
    check = _parser(subparsers, "check", summary, probes.check, epilog=PROBE_EPILOG)
    check.add_argument("id", type=connection_id)
    _ls(_parser(subparsers, "ls", "list connections", handlers.list_connections, write=False))
    show = _parser(subparsers, "show", "show a connection", handlers.show, write=False)
    show.add_argument("id", type=connection_id)
    _api_options(show)
    health.register(subparsers)
    declared.register(subparsers)
    importing.register(subparsers)


def _parser(
    subparsers: argparse._SubParsersAction[argparse.ArgumentParser],
    name: str,
    summary: str,
    handler: Handler,
    *,
    write: bool = True,
    epilog: str | None = None,
) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        name,
        help=summary,
        description=summary,
        epilog=epilog,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        allow_abbrev=False,
    )
    parser.set_defaults(handler=handler)
    parser.add_argument("--json", action="store_true", help="print one JSON document")
    if write:
        parser.add_argument("--timeout", type=float, help="seconds to wait for the outcome")
        parser.add_argument("--correlation-id", help="carried into the resulting events")
    return parser


def _create(parser: argparse.ArgumentParser, *, required: bool = True) -> None:
    parser.add_argument("--name", required=required)
    parser.add_argument("--kind", required=required, choices=KINDS)
    parser.add_argument("--template", help="template id")
    parser.add_argument("--id", type=connection_id, help="connection id (default: a new one)")
    _fields(parser, tags_help="tag (repeat for more)")


def _test(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "connection", nargs="?", type=connection_id, metavar="ID", help="the stored connection"
    )
    parser.add_argument(
        "--draft",
        action="store_true",
        help="test the configuration the create options give, without storing it",
    )
    _create(parser, required=False)


def _update(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("id", type=connection_id)
    parser.add_argument("--name")
    parser.add_argument("--kind", choices=KINDS)
    parser.add_argument("--expected-version", type=int)
    parser.add_argument("--clear-tags", action="store_true", help="remove every tag")
    parser.add_argument(
        "--clear-notify", action="store_true", help="remove the e-mail recipients and sender"
    )
    _fields(parser, tags_help="tag (replaces all tags; repeat for more)")


def _fields(parser: argparse.ArgumentParser, *, tags_help: str) -> None:
    config = parser.add_mutually_exclusive_group()
    config.add_argument("--config-json", metavar="JSON", help="config as a JSON object")
    config.add_argument("--config", action="append", metavar="KEY=VALUE", help="config field")
    parser.add_argument("--auth-json", metavar="JSON", help="auth as a JSON object")
    parser.add_argument("--auth-method", help="auth method (default basic with --username)")
    parser.add_argument("--username")
    _secrets(parser, required=False)
    parser.add_argument("--tag", action="append", help=tags_help)
    parser.add_argument("--description")
    parser.add_argument("--health-json", metavar="JSON", help="health check settings")
    parser.add_argument(
        "--notify-to",
        action="append",
        metavar="ADDRESS",
        help="e-mail recipient of alerts, smtp channels only (repeat for more; replaces all)",
    )
    parser.add_argument("--notify-from", metavar="ADDRESS", help="sender of those e-mails")


def _secrets(parser: argparse.ArgumentParser, *, required: bool) -> None:
    group = parser.add_mutually_exclusive_group(required=required)
    group.add_argument("--secrets-file", metavar="PATH", help="JSON object of secret fields")
    group.add_argument("--secrets-stdin", action="store_true", help="read that JSON from stdin")
    group.add_argument(
        "--secret-prompt", action="append", metavar="FIELD", help="prompt for a secret field"
    )


def _ls(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--kind", choices=KINDS)
    parser.add_argument("--status")
    parser.add_argument("--tag")
    parser.add_argument("--q", help="substring of name or description")
    parser.add_argument("--limit", type=int)
    parser.add_argument("--cursor", help="next_cursor of the previous page")
    _api_options(parser)


def _api_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--api-url", help="read API base URL (default: CONNMGR_API_URL)")
    parser.add_argument("--token", help="read API token (default: CONNMGR_API_TOKEN)")
