"""The CLI's async handlers: one per command, ``(args, ctx) -> exit code``.

Exit codes (``test`` and ``check``, in ``cli_probes``, read 0 and 1 more narrowly):

- 0 accepted, or the read succeeded; ``test``/``check``: the test ran and its
  result is ``ok`` (a check acknowledged without a result also exits 0);
- 1 rejected, or the API answered an error; ``test``/``check``: also a result
  other than ``ok`` (``auth_failed``, ``timeout``, ...);
- 2 usage error: nothing was sent;
- 3 no outcome in time: the command is stored and may still be handled;
- 4 a service was unreachable (NATS, the seal key, the API).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from functools import wraps
from typing import Any, Final

from connmgr.schemas.outcomes import CommandOutcome

from . import api_client
from .cli_input import UsageError, changes_of, read_secrets, spec_of
from .cli_output import print_connection, print_connections, print_outcome, print_timeout
from .client import Producer
from .errors import InvalidCommand, OutcomeTimeout, ProducerError

EXIT_OK: Final = 0
EXIT_REJECTED: Final = 1
EXIT_USAGE: Final = 2
EXIT_TIMEOUT: Final = 3
EXIT_UNAVAILABLE: Final = 4


@dataclass(frozen=True, slots=True)
class CliContext:
    """What the glue knows from Settings and global options; handlers read nothing else."""

    nats_url: str
    tenant: str
    actor_id: str
    api_url: str | None = None
    api_token: str | None = field(default=None, repr=False)
    nats_token: str | None = field(default=None, repr=False)
    allow_plaintext: bool = False
    timeout_s: float = 10.0


Handler = Callable[[argparse.Namespace, CliContext], Awaitable[int]]
Call = Callable[[Producer], Awaitable[CommandOutcome]]


def exit_codes(handler: Handler) -> Handler:
    """Map the errors a handler can meet to their exit codes, printed to stderr."""

    @wraps(handler)
    async def run(args: argparse.Namespace, ctx: CliContext) -> int:
        try:
            return await handler(args, ctx)
        except (UsageError, InvalidCommand) as error:
            print(f"error: {error}", file=sys.stderr)
            return EXIT_USAGE
        except api_client.ApiError as error:
            print(f"error: {error}", file=sys.stderr)
            return EXIT_REJECTED
        except OutcomeTimeout as error:
            print_timeout(error, args.json)
            return EXIT_TIMEOUT
        except ProducerError as error:
            print(f"error: {error}", file=sys.stderr)
            return EXIT_UNAVAILABLE

    return run


async def outcome_of(args: argparse.Namespace, ctx: CliContext, call: Call) -> CommandOutcome:
    """Connect, run ``call`` (``--timeout`` bounds the connect and the wait), close."""
    async with await Producer.connect(
        ctx.nats_url,
        tenant=ctx.tenant,
        actor_id=ctx.actor_id,
        timeout_s=ctx.timeout_s if args.timeout is None else args.timeout,
        allow_plaintext=ctx.allow_plaintext,
        token=ctx.nats_token,
    ) as producer:
        return await call(producer)


async def _submit(args: argparse.Namespace, ctx: CliContext, call: Call) -> int:
    outcome = await outcome_of(args, ctx, call)
    print_outcome(outcome, args.json)
    return EXIT_OK if outcome.outcome == "accepted" else EXIT_REJECTED


def _common(args: argparse.Namespace) -> dict[str, Any]:
    return {"correlation_id": args.correlation_id}


@exit_codes
async def create(args: argparse.Namespace, ctx: CliContext) -> int:
    spec = spec_of(args)
    return await _submit(
        args, ctx, lambda p: p.create(spec, connection_id=args.id, **_common(args))
    )


@exit_codes
async def update(args: argparse.Namespace, ctx: CliContext) -> int:
    changes = changes_of(args)
    version = args.expected_version
    return await _submit(
        args,
        ctx,
        lambda p: p.update(args.id, changes, expected_version=version, **_common(args)),
    )


@exit_codes
async def rotate(args: argparse.Namespace, ctx: CliContext) -> int:
    secrets = read_secrets(args)
    if secrets is None:
        raise UsageError("rotate needs new secrets")
    version = args.expected_version
    return await _submit(
        args,
        ctx,
        lambda p: p.rotate(args.id, secrets, expected_version=version, **_common(args)),
    )


@exit_codes
async def delete(args: argparse.Namespace, ctx: CliContext) -> int:
    fields = {"expected_version": args.expected_version, "reason": args.reason}
    return await _submit(args, ctx, lambda p: p.delete(args.id, **fields, **_common(args)))


def _api(args: argparse.Namespace, ctx: CliContext) -> tuple[str, str]:
    api_url, token = args.api_url or ctx.api_url, args.token or ctx.api_token
    if not api_url or not token:
        raise UsageError("the API needs --api-url and --token (or CONNMGR_API_URL/_TOKEN)")
    return api_url, token


@exit_codes
async def list_connections(args: argparse.Namespace, ctx: CliContext) -> int:
    api_url, token = _api(args, ctx)
    page = await api_client.list_connections(
        api_url,
        token,
        kind=args.kind,
        status=args.status,
        tag=args.tag,
        q=args.q,
        limit=args.limit,
        cursor=args.cursor,
        timeout_s=ctx.timeout_s,
    )
    print_connections(page, args.json)
    return EXIT_OK


@exit_codes
async def show(args: argparse.Namespace, ctx: CliContext) -> int:
    api_url, token = _api(args, ctx)
    document = await api_client.get_connection(api_url, token, args.id, timeout_s=ctx.timeout_s)
    print_connection(document, args.json)
    return EXIT_OK
