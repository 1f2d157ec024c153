"""The intents of the commands that test a connection: ``test``, a draft test, ``check``.

Contract:

- ``stored`` is a ``test`` or ``check`` of a stored connection: an empty payload
  on ``connmgr.cmd.<tenant>.test.<id>`` (``.check.<id>``, which the prober answers);
- ``draft_test`` is the "test before save": a spec's whole create payload with
  ``"draft": true``, its secrets sealed exactly as for ``create`` (HPKE to the
  seal key, bound to the draft's id); nothing is stored;
- ``probe_wait`` is the wait for a test's outcome: ``max(default, PROBE_OUTCOME_WAIT_S)``
  unless told: a check may take up to the longest per-connection timeout the
  contract allows (``HealthCheckSettings.timeout_s`` <= 60 s), plus time to queue
  and record it.
"""

from __future__ import annotations

from typing import Final, Literal
from uuid import UUID

from connmgr.schemas.connection_spec import ConnectionSpec
from connmgr.schemas.probe_commands import DraftTestPayload, StoredTestPayload

from .building import CommandIntent

LONGEST_CHECK_S: Final = 60.0  # HealthCheckSettings.timeout_s's upper bound
PROBE_OUTCOME_WAIT_S: Final = LONGEST_CHECK_S + 10.0


def stored(
    verb: Literal["test", "check"], connection_id: UUID, correlation_id: str | None
) -> CommandIntent:
    """Test (``test``) or health-check (``check``) the stored connection now."""
    return CommandIntent(verb, StoredTestPayload, {}, connection_id, correlation_id)


def draft_test(
    spec: ConnectionSpec, connection_id: UUID, correlation_id: str | None
) -> CommandIntent:
    """Test ``spec`` under ``connection_id`` without storing it."""
    fields = {**spec.payload_fields(), "draft": True}
    return CommandIntent(
        "test", DraftTestPayload, fields, connection_id, correlation_id, spec.secret_values()
    )


def probe_wait(default_s: float, timeout_s: float | None) -> float:
    """``timeout_s`` when given, else long enough for the longest check."""
    return max(default_s, PROBE_OUTCOME_WAIT_S) if timeout_s is None else timeout_s
