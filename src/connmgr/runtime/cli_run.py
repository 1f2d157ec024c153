"""Runs one ``connmgr`` command line (``cli.main`` hands it over): settings read once,
logging configured, the command run, its failure reported in one line.

A failure is one line, never a traceback. An operator command prints
``connmgr: <command>: <reason>`` on standard error; a process (``worker``,
``api``, ``up``) logs it as one ``process_failed`` line in its log format (JSON
under compose). Exit status: 78 for a key ring that fails closed (``connmgr:
refusing to start: …``, for every command) and for a missing extra, 69 for a
database or broker that did not answer, an ``OperatorError``'s own status, 1
for anything else. The traceback is logged at debug level only
(``CONNMGR_LOG_LEVEL=debug``).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from typing import Final

import structlog
from nats.errors import Error as NatsError

from connmgr.producers import cli as producer_cli
from connmgr.runtime.cli_parser import Command, build_parser
from connmgr.runtime.event_loop import run_command
from connmgr.runtime.failures import OperatorError, ServiceUnavailable, describe, root_cause
from connmgr.runtime.logging import configure_logging
from connmgr.runtime.tracing_setup import TracingSettings, configure_tracing
from connmgr.schemas.settings import Settings

log = structlog.get_logger("connmgr.cli")
PROCESSES: Final = frozenset({"up", "worker", "api"})
EXIT_CONFIG: Final = 78
EXIT_FAILED: Final = 1


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


def _is_keyring_error(error: BaseException) -> bool:
    """A ``KeyringError``, without importing the key ring (and its server dependencies)
    for a command that never loaded it."""
    keyring = sys.modules.get("connmgr.workers.keyring")
    return keyring is not None and isinstance(error, keyring.KeyringError)


def _exit_status(error: Exception) -> int:
    if isinstance(error, OperatorError):
        return error.exit_code
    if isinstance(root_cause(error), OSError | TimeoutError | NatsError):
        return ServiceUnavailable.exit_code
    return EXIT_FAILED


def _report(command: str, error: Exception) -> int:
    log.debug("command_failed", command=command, exc_info=error)
    if _is_keyring_error(error):
        sys.stderr.write(f"connmgr: refusing to start: {error}\n")
        return EXIT_CONFIG
    reason = str(error) if isinstance(error, OperatorError) else describe(error)
    if command.split()[0] in PROCESSES:
        log.critical("process_failed", command=command, error=reason)
    else:
        sys.stderr.write(f"connmgr: {command}: {reason}\n")
    return _exit_status(error)


def run(argv: list[str]) -> int:
    args = build_parser().parse_args(argv)
    settings = Settings()
    configure_logging(settings)
    configure_tracing(TracingSettings())
    command = " ".join(str(w) for w in (args.command, getattr(args, "action", None)) if w)
    try:
        if hasattr(args, "handler"):
            handler: producer_cli.Handler = args.handler
            return asyncio.run(_call(handler, args, settings))
        command_run: Command = args.run
        return run_command(command_run(settings, args), command)
    except KeyboardInterrupt:
        return 130
    except Exception as error:
        return _report(command, error)
