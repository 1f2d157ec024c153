"""``connmgr plan``, ``apply`` and ``export``: connections as code, for CI.

    connmgr plan -f connections.yaml            # what would change; changes nothing
    connmgr apply -f connections.yaml --yes     # send it (--prune, --test, --adopt)
    connmgr export --source platform/prod > connections.yaml

The tenant's state is read through the read API (``--api-url``/``--token``, or
``CONNMGR_API_URL``/``_TOKEN``): the token's tenant is the one changed, and the
commands go over NATS through the ``Producer`` for ``CONNMGR_TENANT``, which must
be the same (a view of another tenant stops the command). Exit codes, for CI:
0 no changes, 2 changes pending (``plan``) or applied (``apply``), 1 an error, a
problem in the plan, a conflict, or a failed ``--test`` — a command line argparse
refuses exits 1 too, never 2.
"""

from __future__ import annotations

import argparse
import getpass
import os
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Final, NoReturn, TypeAlias

from pydantic import SecretStr

from connmgr.schemas.declared.source import DEFAULT_SOURCE
from connmgr.schemas.declared.text import DeclaredFileError, dump_declared, load_declared

from .cli_declared_output import plan_lines
from .cli_handlers import CliContext, Handler
from .client import Producer
from .declared_apply import apply_plan, resolve, test_first
from .declared_export import export_file
from .declared_plan import Plan, make_plan
from .declared_secrets import SecretSources
from .declared_state import Existing, read_existing
from .errors import ProducerError

EXIT_NO_CHANGES: Final = 0
EXIT_ERROR: Final = 1
EXIT_CHANGES: Final = 2

Subparsers: TypeAlias = "argparse._SubParsersAction[argparse.ArgumentParser]"


class _CiParser(argparse.ArgumentParser):
    """A refused command line exits 1: for ``plan``/``apply`` 2 means changes."""

    def error(self, message: str) -> NoReturn:
        self.print_usage(sys.stderr)
        self.exit(EXIT_ERROR, f"{self.prog}: error: {message}\n")


def register(subparsers: Subparsers) -> None:
    plan = _parser(
        subparsers, "plan", "show what applying a connections file would change", run_plan
    )
    apply = _parser(
        subparsers, "apply", "apply a connections file: create, update, prune", run_apply
    )
    for parser in (plan, apply):
        parser.add_argument("-f", "--file", required=True, type=Path, help="YAML or JSON file")
        parser.add_argument(
            "--prune",
            action="store_true",
            help="delete what this source manages and the file no longer lists",
        )
        parser.add_argument(
            "--adopt", action="store_true", help="take over unmanaged connections of the same name"
        )
    apply.add_argument("--yes", action="store_true", help="apply without asking")
    apply.add_argument(
        "--test",
        action="store_true",
        help="draft-test each changed connection first; stop on a failure",
    )
    export = _parser(
        subparsers, "export", "write the tenant's connections as a connections file", run_export
    )
    export.add_argument(
        "--source", default=DEFAULT_SOURCE, help="the file's source (managed-by marker)"
    )
    export.add_argument("--format", choices=["yaml", "json"], default="yaml")
    export.add_argument(
        "-o", "--output", type=Path, help="file to write (default: standard output)"
    )


def _parser(
    subparsers: Subparsers, name: str, summary: str, handler: Handler
) -> argparse.ArgumentParser:
    previous = subparsers._parser_class
    subparsers._parser_class = _CiParser
    try:
        parser = subparsers.add_parser(name, help=summary, description=summary, allow_abbrev=False)
    finally:
        subparsers._parser_class = previous
    parser.set_defaults(handler=handler)
    parser.add_argument("--api-url", help="read API base URL (default: CONNMGR_API_URL)")
    parser.add_argument("--token", help="read API token (default: CONNMGR_API_TOKEN)")
    parser.add_argument("--timeout", type=float, help="seconds to wait for each outcome")
    return parser


async def run_plan(args: argparse.Namespace, ctx: CliContext) -> int:
    try:
        plan = await _plan(args, ctx)
    except (DeclaredFileError, ProducerError, OSError) as error:
        return _failed(error)
    print("\n".join(plan_lines(plan)))
    if plan.problems:
        return EXIT_ERROR
    return EXIT_CHANGES if plan.changes else EXIT_NO_CHANGES


async def run_apply(
    args: argparse.Namespace, ctx: CliContext, imported: Mapping[str, SecretStr] | None = None
) -> int:
    """Plan, confirm, apply. ``imported``: values for ``env:`` references the environment
    does not set (``connmgr import --apply``), read from memory, never put in the environment."""
    try:
        plan = await _plan(args, ctx)
        print("\n".join(plan_lines(plan)))
        if plan.problems:
            return EXIT_ERROR
        if not plan.changes:
            return EXIT_NO_CHANGES
        if not args.yes and not _confirmed(plan):
            print("apply: nothing sent", file=sys.stderr)
            return EXIT_ERROR
        return await _apply(args, ctx, plan, imported or {})
    except (DeclaredFileError, ProducerError, OSError) as error:
        return _failed(error)


async def _apply(
    args: argparse.Namespace, ctx: CliContext, plan: Plan, imported: Mapping[str, SecretStr]
) -> int:
    prompt = getpass.getpass if sys.stdin.isatty() else None
    # env: references name the user's own variables, not settings: read them here; a
    # variable the user set wins over an imported value
    environment = {name: value.get_secret_value() for name, value in imported.items()}
    environment.update(os.environ)
    sources = SecretSources(environment, args.file.resolve().parent, prompt)
    sendable = resolve(plan, sources, every=args.test)
    async with await _producer(args, ctx) as producer:
        if args.test and (failure := await test_first(sendable, producer)):
            print("\n".join([*failure, "apply: nothing sent"]), file=sys.stderr)
            return EXIT_ERROR
        applied = await apply_plan(plan, sendable, producer)
    print("\n".join(applied.lines))
    if applied.failed:
        return EXIT_ERROR
    return EXIT_CHANGES if applied.changed else EXIT_NO_CHANGES


async def run_export(args: argparse.Namespace, ctx: CliContext) -> int:
    try:
        exported = export_file(await _existing(args, ctx), args.source)
        text = dump_declared(exported.declared, as_json=args.format == "json")
        if args.output is None:
            sys.stdout.write(text)
        else:
            args.output.write_text(text, encoding="utf-8")
    except (ProducerError, OSError, ValueError) as error:
        return _failed(error)
    for note in exported.notes:
        print(f"note: {note}", file=sys.stderr)
    return EXIT_NO_CHANGES


async def _plan(args: argparse.Namespace, ctx: CliContext) -> Plan:
    declared = load_declared(args.file.read_bytes())
    return make_plan(declared, await _existing(args, ctx), prune=args.prune, adopt=args.adopt)


async def _existing(args: argparse.Namespace, ctx: CliContext) -> list[Existing]:
    api_url, token = args.api_url or ctx.api_url, args.token or ctx.api_token
    if not api_url or not token:
        raise ProducerError("the API needs --api-url and --token (or CONNMGR_API_URL/_TOKEN)")
    existing = await read_existing(api_url, token, timeout_s=_timeout(args, ctx))
    if any(connection.tenant != ctx.tenant for connection in existing):
        raise ProducerError(f"the API token is not for tenant {ctx.tenant} (CONNMGR_TENANT)")
    return existing


async def _producer(args: argparse.Namespace, ctx: CliContext) -> Producer:
    return await Producer.connect(
        ctx.nats_url,
        tenant=ctx.tenant,
        actor_id=ctx.actor_id,
        timeout_s=_timeout(args, ctx),
        allow_plaintext=ctx.allow_plaintext,
        token=ctx.nats_token,
    )


def _timeout(args: argparse.Namespace, ctx: CliContext) -> float:
    return ctx.timeout_s if args.timeout is None else float(args.timeout)


def _confirmed(plan: Plan) -> bool:
    if not sys.stdin.isatty():
        print("error: apply needs --yes when standard input is not a terminal", file=sys.stderr)
        return False
    return input(f"apply {plan.changes} change(s)? [y/N] ").strip().lower() in ("y", "yes")


def _failed(error: Exception) -> int:
    for line in str(error).splitlines() or [type(error).__name__]:
        print(f"error: {line}", file=sys.stderr)
    return EXIT_ERROR
