"""The ``connmgr`` console script: reads settings once and dispatches a subcommand.

Processes: ``up`` (dev stack), ``worker <pool>``, ``api``. Operators: ``migrate``,
``projection rebuild``, ``audit verify``, ``keys …``, ``token …``. Producers:
``create``, ``update``, ``rotate``, ``delete``, ``ls``, ``show``.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any, NoReturn

from connmgr.producers import cli as producer_cli
from connmgr.runtime import admin, nats_auth_keys
from connmgr.runtime import dlq as dead_letters
from connmgr.runtime.devstack import DevStackOptions, run_dev_stack
from connmgr.runtime.logging import configure_logging
from connmgr.runtime.pools import WORKERS
from connmgr.runtime.processes import run_api_process, run_worker_process
from connmgr.schemas.settings import Settings
from connmgr.workers.keyring import KeyringError

Command = Callable[[Settings, argparse.Namespace], Coroutine[Any, Any, int]]


def _processes(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    up = commands.add_parser("up", help="run the embedded dev stack")
    up.add_argument("--data-dir", type=Path, default=Path(".connmgr"))
    up.add_argument("--nats-port", type=int, default=4223, help="0: any free port")
    up.add_argument("--api-port", type=int, default=8080, help="0: any free port")
    up.set_defaults(
        run=lambda settings, args: run_dev_stack(
            settings, DevStackOptions(args.data_dir, args.nats_port, args.api_port)
        )
    )
    worker = commands.add_parser("worker", help="run one worker pool process")
    worker.add_argument("pool", choices=list(WORKERS))
    worker.set_defaults(run=lambda settings, args: run_worker_process(settings, args.pool))
    api = commands.add_parser("api", help="serve the read API")
    api.set_defaults(run=lambda settings, _args: run_api_process(settings))


def _operators(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    commands.add_parser("migrate", help="bring the schema up to date").set_defaults(
        run=admin.run_migrate
    )
    projection = commands.add_parser("projection").add_subparsers(dest="action", required=True)
    projection.add_parser("rebuild", help="replay the log into the projection").set_defaults(
        run=admin.run_rebuild
    )
    audit = commands.add_parser("audit").add_subparsers(dest="action", required=True)
    audit.add_parser("verify", help="walk the hash chain").set_defaults(run=admin.run_audit)
    keys = commands.add_parser("keys").add_subparsers(dest="action", required=True)
    keys.add_parser("rotate", help="new primary KEK, re-wrap data keys").set_defaults(
        run=admin.run_keys_rotate
    )
    retire = keys.add_parser("retire", help="remove a KEK no data key uses")
    retire.add_argument("key_id")
    retire.set_defaults(run=admin.run_keys_retire)
    keys.add_parser("show", help="key ids and the public seal key").set_defaults(
        run=admin.run_keys_show
    )
    streams = commands.add_parser("streams").add_subparsers(dest="action", required=True)
    ensure = streams.add_parser("ensure", help="create or update the JetStream streams")
    ensure.add_argument("--replicas", type=int, choices=[1, 3, 5], help="default: keep")
    ensure.set_defaults(run=admin.run_streams_ensure)
    dlq = commands.add_parser("dlq", help="dead letters").add_subparsers(
        dest="action", required=True
    )
    dlq.add_parser("ls", help="list dead letters").set_defaults(run=dead_letters.run_dlq_ls)
    replay = dlq.add_parser("replay", help="send a dead letter's command again, new id")
    replay.add_argument("sequence", type=int)
    replay.set_defaults(run=dead_letters.run_dlq_replay)
    token = commands.add_parser("token").add_subparsers(dest="action", required=True)
    issue = token.add_parser("issue", help="print a new API token (stored hashed)")
    _token_owner(issue)
    issue.add_argument(
        "--scope",
        action="append",
        help="repeatable: connections:read, events:read, commands:write, read; default: read",
    )
    issue.set_defaults(run=admin.run_token_issue)
    revoke = token.add_parser("revoke", help="revoke a tenant's (or the operator's) tokens")
    _token_owner(revoke)
    revoke.set_defaults(run=admin.run_token_revoke)


def _token_owner(parser: argparse.ArgumentParser) -> None:
    owner = parser.add_mutually_exclusive_group(required=True)
    owner.add_argument("--tenant")
    owner.add_argument(
        "--operator", action="store_true", help="an operator token: metrics:read, no tenant"
    )
    parser.add_argument("--name", required=True)


class _QuietParser(argparse.ArgumentParser):
    """Never echoes unrecognised arguments: one of them may be a mistyped secret."""

    def error(self, message: str) -> NoReturn:
        if message.startswith("unrecognized arguments"):
            message = "unrecognized arguments (not shown: they may hold a secret)"
        super().error(message)


def build_parser() -> argparse.ArgumentParser:
    parser = _QuietParser(prog="connmgr", allow_abbrev=False)
    # Extra arguments reach the root parser, whose error() keeps them out of sight.
    commands: argparse._SubParsersAction[argparse.ArgumentParser] = parser.add_subparsers(
        dest="command", required=True, parser_class=argparse.ArgumentParser
    )
    _processes(commands)
    _operators(commands)
    nats_auth_keys.register(commands)
    producer_cli.register(commands)
    return parser


def _cli_context(settings: Settings) -> producer_cli.CliContext:
    return producer_cli.CliContext(
        nats_url=settings.nats_url,
        tenant=settings.tenant,
        actor_id=settings.actor,
        api_url=settings.api_url,
        api_token=settings.api_token.get_secret_value() if settings.api_token else None,
        nats_token=settings.nats_token.get_secret_value() if settings.nats_token else None,
        allow_plaintext=settings.allow_plaintext_secrets,
    )


async def _call(handler: producer_cli.Handler, args: argparse.Namespace, settings: Settings) -> int:
    return await handler(args, _cli_context(settings))


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    settings = Settings()
    configure_logging(settings)
    try:
        if hasattr(args, "handler"):
            handler: producer_cli.Handler = args.handler
            return asyncio.run(_call(handler, args, settings))
        run: Command = args.run
        return asyncio.run(run(settings, args))
    except KeyringError as error:
        sys.stderr.write(f"connmgr: refusing to start: {error}\n")
        return 78  # EX_CONFIG
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    raise SystemExit(main())
