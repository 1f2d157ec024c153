"""How a pool answers one command it has handled: the outcome to the command's
``reply_to``, when it asked for one, then the one handled line (``message_context``)
and the command counted (``metrics``), both after the reply, so the line's
``duration_ms`` covers it.

The prober's manual checks and the tester's tests answer one command at a time this
way; the encryptor answers a batch's outcomes together once its transaction commits.
"""

from __future__ import annotations

from typing import Any

from nats.aio.client import Client as NatsClient

from connmgr.schemas.outcomes import CommandOutcome
from connmgr.workers.message_context import log_handled
from connmgr.workers.metrics import record_command


async def answer_command(
    nc: NatsClient,
    reply_to: str | None,
    outcome: CommandOutcome,
    *,
    log: Any,
    pool: str,
    subject: str,
    started: float,
) -> None:
    """Reply with ``outcome``, log the handled line (with the check's own outcome as
    ``result`` when there is one) and count the command under ``pool`` and ``subject``."""
    if reply_to is not None:
        await nc.publish(reply_to, outcome.model_dump_json().encode())
    result = (outcome.result or {}).get("outcome")
    log_handled(log, started, outcome.outcome, reason=outcome.reason, result=result)
    record_command(pool, subject, outcome, started)
