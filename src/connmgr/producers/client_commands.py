"""``ProducerCommands``: the commands of ``Producer`` (``client.py``), a method each.

Each command builds its intent with ``writes`` or ``probes`` and requests it over the
producer's ``channel``: a change waits ``timeout_s``, else the producer's default; a
test or check waits at least ``probes.PROBE_OUTCOME_WAIT_S`` (``probe_wait``). The
contract they keep is ``client.py``'s module doc.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Literal
from uuid import UUID, uuid4

from connmgr.schemas.connection_spec import ConnectionChanges, ConnectionSpec
from connmgr.schemas.outcomes import CommandOutcome

from . import probes, writes
from .building import CommandIntent, to_uuid
from .channel import CommandChannel


class ProducerCommands:
    """The commands of a ``Producer`` over its ``channel`` (``client.py``), which
    ``Producer`` sets up: this class only sends over it."""

    channel: CommandChannel
    timeout_s: float

    async def create(
        self,
        spec: ConnectionSpec,
        *,
        connection_id: UUID | str | None = None,
        correlation_id: str | None = None,
        timeout_s: float | None = None,
    ) -> CommandOutcome:
        """Create ``spec``; its id is a new uuid4 unless given (``outcome.connection_id``)."""
        intent = writes.create(spec, _id_or_new(connection_id), correlation_id)
        return await self._write(intent, timeout_s)

    async def update(
        self,
        connection_id: UUID | str,
        changes: ConnectionChanges | ConnectionSpec,
        *,
        expected_version: int | None = None,
        correlation_id: str | None = None,
        timeout_s: float | None = None,
    ) -> CommandOutcome:
        """Change the fields ``changes`` gives (``config`` and ``auth`` replace whole).

        A whole ``ConnectionSpec`` makes the connection that spec (but its template).
        Changing host, port, kind or username needs new secrets (``docs/security.md``,
        "A changed destination asks for the secrets again").
        """
        intent = writes.update(changes, to_uuid(connection_id), expected_version, correlation_id)
        return await self._write(intent, timeout_s)

    async def rotate(
        self,
        connection_id: UUID | str,
        secrets: Mapping[str, str],
        *,
        expected_version: int | None = None,
        correlation_id: str | None = None,
        timeout_s: float | None = None,
    ) -> CommandOutcome:
        """Replace the connection's secrets with ``secrets`` (all of them, not a merge)."""
        intent = writes.rotate(secrets, to_uuid(connection_id), expected_version, correlation_id)
        return await self._write(intent, timeout_s)

    async def delete(
        self,
        connection_id: UUID | str,
        *,
        expected_version: int | None = None,
        reason: str = "",
        correlation_id: str | None = None,
        timeout_s: float | None = None,
    ) -> CommandOutcome:
        """Delete the connection: its data key is destroyed, its history stays."""
        intent = writes.delete(to_uuid(connection_id), expected_version, reason, correlation_id)
        return await self._write(intent, timeout_s)

    async def test_draft(
        self,
        spec: ConnectionSpec,
        *,
        connection_id: UUID | str | None = None,
        correlation_id: str | None = None,
        timeout_s: float | None = None,
    ) -> CommandOutcome:
        """Test ``spec`` without storing it (test before save); the outcome's ``result`` is
        what the test found. The draft's id is a new uuid4 unless given."""
        intent = probes.draft_test(spec, _id_or_new(connection_id), correlation_id)
        return await self._probe(intent, timeout_s)

    async def test(
        self,
        connection_id: UUID | str,
        *,
        correlation_id: str | None = None,
        timeout_s: float | None = None,
    ) -> CommandOutcome:
        """Test the stored connection now; the outcome's ``result`` is what it found."""
        return await self._probe_stored("test", connection_id, correlation_id, timeout_s)

    async def check(
        self,
        connection_id: UUID | str,
        *,
        correlation_id: str | None = None,
        timeout_s: float | None = None,
    ) -> CommandOutcome:
        """Run the connection's health check now, as the schedule would."""
        return await self._probe_stored("check", connection_id, correlation_id, timeout_s)

    def probe_wait(self, timeout_s: float | None) -> float:
        """``timeout_s`` when given, else long enough for the longest check."""
        return probes.probe_wait(self.timeout_s, timeout_s)

    async def _write(self, intent: CommandIntent, timeout_s: float | None) -> CommandOutcome:
        """Send a change and await its outcome: ``timeout_s``, else the producer's default."""
        wait_s = self.timeout_s if timeout_s is None else timeout_s
        return await self.channel.request(intent, wait_s)

    async def _probe(self, intent: CommandIntent, timeout_s: float | None) -> CommandOutcome:
        """Send a test or check and await its outcome (``probe_wait``)."""
        return await self.channel.request(intent, self.probe_wait(timeout_s))

    async def _probe_stored(
        self,
        verb: Literal["test", "check"],
        connection_id: UUID | str,
        correlation_id: str | None,
        timeout_s: float | None,
    ) -> CommandOutcome:
        intent = probes.stored(verb, to_uuid(connection_id), correlation_id)
        return await self._probe(intent, timeout_s)


def _id_or_new(connection_id: UUID | str | None) -> UUID:
    return uuid4() if connection_id is None else to_uuid(connection_id)
