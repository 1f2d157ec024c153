"""Walk the hash chain and name the first position where it breaks.

See ``docs/security.md``, "The log is evidence".
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from connmgr.storage.event_log import GENESIS_HASH, chain_hash, read_after
from connmgr.storage.tables import chain_head

PAGE = 2000


@dataclass(frozen=True, slots=True)
class AuditReport:
    ok: bool
    events_checked: int
    first_bad_position: int | None
    problem: str | None


async def verify_chain(engine: AsyncEngine) -> AuditReport:
    """Check positions are 1..n without gaps, every hash links to the previous one,
    and the chain head matches the last event (a truncated tail is detected)."""
    previous_hash, checked = GENESIS_HASH, 0
    async with engine.connect() as connection:
        while page := await read_after(connection, checked, PAGE):
            for event in page:
                if event.position != checked + 1:
                    return _bad(checked, checked + 1, "an event is missing (deleted)")
                if chain_hash(previous_hash, event) != event.hash:
                    return _bad(checked, event.position, "the event does not match its hash")
                previous_hash, checked = event.hash, checked + 1
        head = (await connection.execute(select(chain_head.c.position, chain_head.c.hash))).one()
    if head.position != checked or head.hash != previous_hash:
        return _bad(checked, checked + 1, "the log ends before its recorded head (truncated)")
    return AuditReport(ok=True, events_checked=checked, first_bad_position=None, problem=None)


def _bad(checked: int, position: int, problem: str) -> AuditReport:
    return AuditReport(
        ok=False, events_checked=checked, first_bad_position=position, problem=problem
    )
