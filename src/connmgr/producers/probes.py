"""``ConnectionProbes``: test a stored connection, test a draft, check a connection.

Contract:

- ``test`` publishes ``connmgr.cmd.<tenant>.test.<id>`` with an empty payload;
  ``check`` publishes ``.check.<id>`` the same way (the prober answers it);
- ``test_draft`` publishes a full create payload with ``"draft": true`` under a
  new uuid4 id unless one is given; its secrets are sealed exactly as for
  ``create`` (HPKE to the seal key, bound to the draft's id) and nothing is stored;
- each returns the ``CommandOutcome``: ``result`` holds what the test found
  (``outcome``, ``detail``, ``latency_ms``, ``phases``, ``server``, ``tested_at``),
  a rejection is returned, not raised, and ``OutcomeTimeout`` means no outcome
  arrived within the wait (the command is stored and may still run);
- the default wait is ``max(timeout_s of the channel, PROBE_OUTCOME_WAIT_S)``:
  a check may take up to the longest per-connection timeout the contract allows
  (``HealthCheckSettings.timeout_s`` <= 60 s), plus time to queue and record it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Final
from uuid import UUID, uuid4

from connmgr.schemas.outcomes import CommandOutcome
from connmgr.schemas.probe_commands import DraftTestPayload, StoredTestPayload

from .building import Verb, creation_fields, to_uuid
from .channel import CommandChannel, Draft, Secrets

LONGEST_CHECK_S: Final = 60.0  # HealthCheckSettings.timeout_s's upper bound
PROBE_OUTCOME_WAIT_S: Final = LONGEST_CHECK_S + 10.0


class ConnectionProbes(CommandChannel):
    """``test``, ``test_draft`` and ``check`` over the channel (see the module doc)."""

    async def test(
        self,
        connection_id: UUID | str,
        *,
        correlation_id: str | None = None,
        timeout_s: float | None = None,
    ) -> CommandOutcome:
        """Test the stored connection now; the outcome's ``result`` is what it found."""
        return await self._probe("test", connection_id, correlation_id, timeout_s)

    async def check(
        self,
        connection_id: UUID | str,
        *,
        correlation_id: str | None = None,
        timeout_s: float | None = None,
    ) -> CommandOutcome:
        """Run the connection's health check now, as the schedule would."""
        return await self._probe("check", connection_id, correlation_id, timeout_s)

    async def test_draft(
        self,
        *,
        name: str,
        kind: str,
        config: Mapping[str, Any] | None = None,
        auth: Mapping[str, Any] | None = None,
        secrets: Secrets | None = None,
        template: str | None = None,
        health_check: Mapping[str, Any] | None = None,
        tags: Sequence[str] = (),
        description: str = "",
        connection_id: UUID | str | None = None,
        correlation_id: str | None = None,
        timeout_s: float | None = None,
    ) -> CommandOutcome:
        """Test a configuration without storing it (the same fields as ``create``).

        The draft's id is a new uuid4 unless given; ``secrets`` are sealed for it.
        """
        fields = creation_fields(
            name=name,
            kind=kind,
            config=config,
            auth=auth,
            template=template,
            health_check=health_check,
            tags=tags,
            description=description,
        )
        cid = uuid4() if connection_id is None else to_uuid(connection_id)
        draft = Draft(DraftTestPayload, {**fields, "draft": True}, cid, correlation_id)
        return await self.request(draft, secrets, self.probe_wait(timeout_s))

    def probe_wait(self, timeout_s: float | None) -> float:
        """``timeout_s`` when given, else long enough for the longest check."""
        return max(self.timeout_s, PROBE_OUTCOME_WAIT_S) if timeout_s is None else timeout_s

    async def _probe(
        self,
        verb: Verb,
        connection_id: UUID | str,
        correlation_id: str | None,
        timeout_s: float | None,
    ) -> CommandOutcome:
        draft = Draft(StoredTestPayload, {}, to_uuid(connection_id), correlation_id, verb)
        return await self.request(draft, None, self.probe_wait(timeout_s))
