"""Walk the hash chain and name the first position where it breaks.

See ``docs/security.md``, "The log is evidence". A walk starts at the genesis, or
onward from a position verified before (``since``): then only the events appended
after it are linked, after checking that the event at ``since`` still carries the
hash verified then. Only a walk from the genesis catches a rewritten older event.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from connmgr.storage.event_log import GENESIS_HASH, ChainHead, chain_hash, read_after
from connmgr.storage.tables import chain_head, events

PAGE = 2000


@dataclass(frozen=True, slots=True)
class AuditReport:
    """``events_checked``: the position up to which the chain held; ``last_hash``
    the hash there (the genesis hash for an empty log), where a later walk may go on."""

    ok: bool
    events_checked: int
    first_bad_position: int | None
    problem: str | None
    last_hash: str = GENESIS_HASH


async def verify_chain(engine: AsyncEngine, since: ChainHead | None = None) -> AuditReport:
    """Check positions are 1..n without gaps, every hash links to the previous one,
    and the chain head matches the last event (a truncated tail is detected); from
    ``since`` on when given (module docstring)."""
    previous_hash, checked = GENESIS_HASH, 0
    async with engine.connect() as connection:
        if since is not None and since.position > 0:
            anchor = await connection.scalar(
                select(events.c.hash).where(events.c.position == since.position)
            )
            if anchor != since.hash:
                return _bad(
                    since.position - 1, since.position, "a verified event changed or was removed"
                )
            previous_hash, checked = since.hash, since.position
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
    return AuditReport(
        ok=True,
        events_checked=checked,
        first_bad_position=None,
        problem=None,
        last_hash=previous_hash,
    )


def _bad(checked: int, position: int, problem: str) -> AuditReport:
    return AuditReport(
        ok=False, events_checked=checked, first_bad_position=position, problem=problem
    )
