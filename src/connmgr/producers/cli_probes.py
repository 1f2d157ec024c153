"""The CLI's ``test`` and ``check`` handlers: publish, await the outcome, print its result.

``connmgr test ID`` tests a stored connection; ``connmgr test --draft`` tests the
configuration given with the create options, without storing it; ``connmgr check
ID`` runs a connection's health check now. Exit 0 only when the outcome is
accepted and its result is ``ok`` (or absent: a check only acknowledged); 1 when
rejected or the result is anything else; 2, 3 and 4 as every write command
(``cli_handlers``).
"""

from __future__ import annotations

import argparse
from typing import Final

from connmgr.schemas.connection_spec import ConnectionSpec
from connmgr.schemas.outcomes import CommandOutcome

from .cli_handlers import (
    EXIT_OK,
    EXIT_REJECTED,
    Call,
    CliContext,
    exit_codes,
    outcome_of,
)
from .cli_input import UsageError, spec_of
from .cli_output import print_probe_outcome

# The ``dest`` of every option ``test`` shares with ``create``: meaningful with --draft only.
DRAFT_OPTIONS: Final = (
    "name",
    "kind",
    "template",
    "id",
    "config_json",
    "config",
    "auth_json",
    "auth_method",
    "username",
    "secrets_file",
    "secrets_stdin",
    "secret_prompt",
    "tag",
    "description",
    "health_json",
    "notify_to",
    "notify_from",
)


def passed(outcome: CommandOutcome) -> bool:
    """Accepted, and the result (when there is one) is ``ok``."""
    result = outcome.result
    return outcome.outcome == "accepted" and (result is None or result.get("outcome") == "ok")


async def _probe(args: argparse.Namespace, ctx: CliContext, call: Call) -> int:
    outcome = await outcome_of(args, ctx, call)
    print_probe_outcome(outcome, args.json)
    return EXIT_OK if passed(outcome) else EXIT_REJECTED


@exit_codes
async def test(args: argparse.Namespace, ctx: CliContext) -> int:
    wait = {"correlation_id": args.correlation_id, "timeout_s": args.timeout}
    if args.draft:
        spec = _draft_spec(args)
        return await _probe(args, ctx, lambda p: p.test_draft(spec, connection_id=args.id, **wait))
    if args.connection is None:
        raise UsageError("test needs a connection ID, or --draft with --name and --kind")
    if extra := [name for name in DRAFT_OPTIONS if getattr(args, name)]:
        raise UsageError(f"{_option(extra[0])} needs --draft")
    return await _probe(args, ctx, lambda p: p.test(args.connection, **wait))


@exit_codes
async def check(args: argparse.Namespace, ctx: CliContext) -> int:
    wait = {"correlation_id": args.correlation_id, "timeout_s": args.timeout}
    return await _probe(args, ctx, lambda p: p.check(args.id, **wait))


def _draft_spec(args: argparse.Namespace) -> ConnectionSpec:
    if args.connection is not None:
        raise UsageError("--draft takes no ID: --id chooses the draft's id")
    if not args.name or not args.kind:
        raise UsageError("--draft needs --name and --kind")
    return spec_of(args)


def _option(dest: str) -> str:
    return "--" + dest.replace("_", "-")
