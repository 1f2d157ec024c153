"""The prober's targets: one batched read per moment, secrets opened once per version.

``CheckTargets.get(tenant, connection_id)`` answers what a check needs: the
prepared target (None when the connection is absent, deleted or another
tenant's) and whether its probing is suspended. Lookups asked together share a
micro-batch (``BatchWriter``: up to ``max_batch`` ids, or those that arrive
within ``max_delay_s``) read in one statement (``read_check_heads``): tenant,
version, deleted, suspended. A batch's statement starts after every lookup in it
was asked, so a lookup never sees an older version than a read of its own.

Prepared targets are cached by connection id together with the version they
were prepared from; a lookup whose head shows another version prepares again
(one ``load_check_sources`` statement for all such ids of the batch, then the
data-key unwrap and AES-GCM decryption), so a connection's secrets are
decrypted once per version, not once per check. Every change to a connection
(update, rotation, deletion) moves its version, so a cached target is never
used past the change; a deleted or vanished connection is dropped from the cache.

The cache holds decrypted secrets in this process's memory only (never on disk,
in logs or on the bus), the same plaintext a check holds while it runs, for at
most ``max_cached`` connections (least recently used go first) between batches,
and one batch more while a batch is answered.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass
from typing import Final

from sqlalchemy.ext.asyncio import AsyncEngine

from connmgr.storage.database import autocommit_reads
from connmgr.storage.reads.check_targets import (
    CheckHead,
    CheckSource,
    load_check_sources,
    read_check_heads,
)
from connmgr.workers.batch_writer import BatchWriter
from connmgr.workers.checks.targets import Prepared, prepare_state
from connmgr.workers.keyring import Keyring

MAX_CACHED: Final = 20_000


@dataclass(frozen=True, slots=True)
class TargetLookup:
    """``prepared`` is None when there is nothing to check (absent, deleted, other tenant)."""

    prepared: Prepared | None
    suspended: bool = False


_NOTHING: Final = TargetLookup(None)


class CheckTargets:
    def __init__(
        self,
        engine: AsyncEngine,
        keyring: Keyring,
        *,
        max_cached: int = MAX_CACHED,
        max_batch: int = 256,
        max_delay_s: float = 0.005,
    ) -> None:
        self._engine = autocommit_reads(engine)
        self._keyring = keyring
        self._max_cached = max_cached
        self._cache: OrderedDict[str, Prepared] = OrderedDict()
        self._batcher: BatchWriter[tuple[str, str], TargetLookup] = BatchWriter(
            self._look_up, max_batch=max_batch, max_delay_s=max_delay_s
        )

    async def get(self, tenant: str, connection_id: str) -> TargetLookup:
        return await self._batcher.submit((tenant, connection_id))

    async def close(self) -> None:
        await self._batcher.close()
        self._cache.clear()

    def __len__(self) -> int:
        return len(self._cache)

    async def _look_up(self, asked: list[tuple[str, str]]) -> list[TargetLookup]:
        tenants = {cid: tenant for tenant, cid in asked}
        heads = await read_check_heads(self._engine, list(tenants))
        stale = [cid for cid, head in heads.items() if self._stale(cid, head, tenants[cid])]
        if stale:
            sources = await load_check_sources(self._engine, sorted(stale))
            for cid, source in sources.items():
                self._remember(cid, source)
        answers = [self._answer(tenant, cid, heads.get(cid)) for tenant, cid in asked]
        self._evict()
        return answers

    def _stale(self, connection_id: str, head: CheckHead, tenant: str) -> bool:
        """A live connection of the tenant asking whose version is not prepared yet."""
        if head.deleted or head.tenant != tenant:
            return False
        cached = self._cache.get(connection_id)
        return cached is None or cached.tested_version != head.version

    def _answer(self, tenant: str, connection_id: str, head: CheckHead | None) -> TargetLookup:
        if head is None or head.deleted:
            self._cache.pop(connection_id, None)
            return _NOTHING
        prepared = self._cache.get(connection_id)
        if (
            head.tenant != tenant
            or prepared is None
            or (prepared.tested_version or 0) < head.version
        ):
            return _NOTHING
        self._cache.move_to_end(connection_id)
        return TargetLookup(prepared, head.suspended)

    def _remember(self, connection_id: str, source: CheckSource) -> None:
        if source.state.deleted:
            self._cache.pop(connection_id, None)
            return
        self._cache[connection_id] = prepare_state(source.state, source.data_key, self._keyring)
        self._cache.move_to_end(connection_id)

    def _evict(self) -> None:
        """Only once a batch is answered: evicting while it is being answered could
        drop a live connection's cached target before its answer, which would then say
        "absent". Between batches the cache holds at most ``max_cached``."""
        while len(self._cache) > self._max_cached:
            self._cache.popitem(last=False)
