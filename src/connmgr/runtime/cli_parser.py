"""The ``connmgr`` command line: every command, its help, and what it runs.

Light to import: an operator or process command names its function as
``"module:function"`` (``lazy``), imported only when that command runs. So the
client install (no ``server`` extra) builds the whole parser, runs the producer
commands, ``--help`` and ``--version``, and a server command it lacks the
modules for ends in one line naming the extra (``MissingExtra``).
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Coroutine
from importlib import import_module
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any, NoReturn, TypeAlias

from connmgr.producers import cli as producer_cli
from connmgr.runtime import health_probe
from connmgr.runtime.failures import MissingExtra
from connmgr.runtime.pool_names import WORKERS
from connmgr.schemas.settings import Settings

Command = Callable[[Settings, argparse.Namespace], Coroutine[Any, Any, int]]
Commands: TypeAlias = "argparse._SubParsersAction[argparse.ArgumentParser]"
SERVER_MODULES = frozenset(
    {"sqlalchemy", "asyncpg", "aiosqlite", "alembic", "aiomysql", "pymongo", "redis",
     "aioboto3", "botocore", "prometheus_client", "nkeys", "greenlet", "mako"}
)  # fmt: skip
"""Top-level modules of the ``server`` extra's distributions."""


def lazy(target: str) -> Command:
    """The command ``"module:function"``, imported when it runs."""
    module_name, _, name = target.partition(":")

    async def run(settings: Settings, args: argparse.Namespace) -> int:
        try:
            module = import_module(module_name)
        except ModuleNotFoundError as error:
            missing = (error.name or "").partition(".")[0]
            if missing not in SERVER_MODULES:
                raise
            raise MissingExtra("server", missing) from None
        command: Command = getattr(module, name)
        return await command(settings, args)

    return run


def _version() -> str:
    try:
        return version("connmgr")
    except PackageNotFoundError:  # run from a source tree that was never installed
        return "unknown"


def _processes(commands: Commands) -> None:
    up = commands.add_parser("up", help="run the embedded dev stack (needs connmgr[dev-stack])")
    up.add_argument("--data-dir", type=Path, default=Path(".connmgr"))
    up.add_argument("--nats-port", type=int, default=4223, help="0: any free port")
    up.add_argument("--api-port", type=int, default=8080, help="0: any free port")
    up.set_defaults(run=lazy("connmgr.runtime.devstack:run_up"))
    worker = commands.add_parser("worker", help="run one worker pool process")
    worker.add_argument("pool", choices=list(WORKERS))
    worker.set_defaults(run=lazy("connmgr.runtime.processes:run_worker"))
    api = commands.add_parser("api", help="serve the read API")
    api.set_defaults(run=lazy("connmgr.runtime.processes:run_api"))
    health = commands.add_parser(
        "health", help="ask a probe port: exit 0 when it answers 200 (healthchecks)"
    )
    health_probe.add_arguments(health)
    health.set_defaults(run=_health)


async def _health(settings: Settings, args: argparse.Namespace) -> int:
    return health_probe.run(args, settings)


def _group(commands: Commands, name: str, summary: str) -> Commands:
    parser = commands.add_parser(name, help=summary, description=summary)
    return parser.add_subparsers(dest="action", required=True)


def _schema_and_log(commands: Commands) -> None:
    migrate = commands.add_parser("migrate", help="bring the schema up to date")
    migrate.add_argument(
        "--wait-s", type=float, default=60.0, help="wait this long for the database (default 60)"
    )
    migrate.set_defaults(run=lazy("connmgr.runtime.admin:run_migrate"))
    projection = _group(commands, "projection", "the read model, a fold of the event log")
    projection.add_parser("rebuild", help="replay the log into the projection").set_defaults(
        run=lazy("connmgr.runtime.admin:run_rebuild")
    )
    duplicates = projection.add_parser(
        "duplicate-names", help="names two live connections of a tenant share (exit 1 if any)"
    )
    duplicates.add_argument("--tenant", help="only this tenant")
    duplicates.set_defaults(run=lazy("connmgr.runtime.name_check:run_duplicate_names"))
    audit = _group(commands, "audit", "the hash-chained event log, which is the audit trail")
    audit.add_parser("verify", help="walk the hash chain").set_defaults(
        run=lazy("connmgr.runtime.admin:run_audit")
    )


def _keys(commands: Commands) -> None:
    keys = _group(commands, "keys", "the key ring: key-encryption keys and the seal key")
    init = keys.add_parser("init", help="write a new key ring (mode 0600), or print it")
    target = init.add_mutually_exclusive_group()
    target.add_argument("--out", type=Path, help="file to create (default CONNMGR_KEYRING_FILE)")
    target.add_argument("--print", action="store_true", help="print it, for a secret store")
    init.set_defaults(run=lazy("connmgr.runtime.keyring_init:run_keys_init"))
    keys.add_parser("rotate", help="new primary KEK, re-wrap data keys").set_defaults(
        run=lazy("connmgr.runtime.admin:run_keys_rotate")
    )
    retire = keys.add_parser("retire", help="remove a KEK no data key uses")
    retire.add_argument("key_id")
    retire.set_defaults(run=lazy("connmgr.runtime.admin:run_keys_retire"))
    keys.add_parser("show", help="key ids and the public seal key").set_defaults(
        run=lazy("connmgr.runtime.admin:run_keys_show")
    )
    nats_auth = _group(commands, "nats-auth", "the auth callout's issuer key")
    keygen = nats_auth.add_parser("keygen", help="write a new issuer seed, print its public key")
    keygen.add_argument("--seed-file", type=Path, required=True)
    keygen.set_defaults(run=lazy("connmgr.runtime.nats_auth_keys:run_keygen"))


def _broker(commands: Commands) -> None:
    streams = _group(commands, "streams", "the JetStream streams and the pools' durables")
    ensure = streams.add_parser("ensure", help="create or update the JetStream streams")
    ensure.add_argument("--replicas", type=int, choices=[1, 3, 5], help="default: keep")
    ensure.set_defaults(run=lazy("connmgr.runtime.admin:run_streams_ensure"))
    dlq = _group(commands, "dlq", "dead letters: commands that failed on every delivery")
    dlq.add_parser("ls", help="list dead letters").set_defaults(
        run=lazy("connmgr.runtime.dlq:run_dlq_ls")
    )
    replay = dlq.add_parser("replay", help="send a dead letter's command again, new id")
    replay.add_argument("sequence", type=int)
    replay.set_defaults(run=lazy("connmgr.runtime.dlq:run_dlq_replay"))


def _contract(commands: Commands) -> None:
    contract = _group(commands, "contract", "print the published contract (reads no settings)")
    contract.add_parser("asyncapi", help="the AsyncAPI 3.0 document of the bus").set_defaults(
        run=lazy("connmgr.runtime.contract:run_asyncapi")
    )
    one = contract.add_parser("json-schema", help="a JSON Schema by name; no name: list names")
    one.add_argument("name", nargs="?")
    one.set_defaults(run=lazy("connmgr.runtime.contract:run_json_schema"))


def _tokens(commands: Commands) -> None:
    token = _group(commands, "token", "API tokens of tenants and operators, stored hashed")
    issue = token.add_parser("issue", help="print a new API token (stored hashed)")
    _token_owner(issue, required=True)
    issue.add_argument("--name", required=True)
    issue.add_argument(
        "--scope",
        action="append",
        help="repeatable: connections:read, events:read, commands:write, read; default: read",
    )
    issue.set_defaults(run=lazy("connmgr.runtime.admin:run_token_issue"))
    listing = token.add_parser("ls", help="list tokens: name, owner, scopes, created (no secret)")
    _token_owner(listing, required=False)
    listing.add_argument("--all", action="store_true", help="revoked tokens too")
    listing.set_defaults(run=lazy("connmgr.runtime.admin:run_token_ls"))
    revoke = token.add_parser("revoke", help="revoke a tenant's (or the operator's) tokens")
    _token_owner(revoke, required=True)
    revoke.add_argument("--name", required=True)
    revoke.set_defaults(run=lazy("connmgr.runtime.admin:run_token_revoke"))


def _token_owner(parser: argparse.ArgumentParser, *, required: bool) -> None:
    owner = parser.add_mutually_exclusive_group(required=required)
    owner.add_argument("--tenant")
    owner.add_argument(
        "--operator", action="store_true", help="an operator token: metrics:read, no tenant"
    )


class _QuietParser(argparse.ArgumentParser):
    """Never echoes unrecognised arguments: one of them may be a mistyped secret."""

    def error(self, message: str) -> NoReturn:
        if message.startswith("unrecognized arguments"):
            message = "unrecognized arguments (not shown: they may hold a secret)"
        super().error(message)


def build_parser() -> argparse.ArgumentParser:
    parser = _QuietParser(prog="connmgr", allow_abbrev=False)
    parser.add_argument("--version", action="version", version=f"connmgr {_version()}")
    # Extra arguments reach the root parser, whose error() keeps them out of sight.
    commands: Commands = parser.add_subparsers(
        dest="command", required=True, parser_class=argparse.ArgumentParser
    )
    _processes(commands)
    _schema_and_log(commands)
    _keys(commands)
    _broker(commands)
    _tokens(commands)
    _contract(commands)
    producer_cli.register(commands)
    return parser
