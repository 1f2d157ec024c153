"""An encryptor batch driven directly with Inbound messages: no NATS in between."""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine

from connmgr.schemas.outcomes import CommandOutcome
from connmgr.storage.projection import ConnectionState
from connmgr.storage.projection_store import load_connection
from connmgr.workers.encryptor.batch import EncryptorBatch, Handled, Inbound
from connmgr.workers.keyring import Keyring
from support.commands import encode, subject_of

_sequence = itertools.count(1)


@dataclass
class Encryptor:
    engine: AsyncEngine
    keyring: Keyring
    batch: EncryptorBatch

    async def run(
        self, *documents: dict[str, Any] | bytes, subject: str | None = None, delivered: int = 1
    ) -> list[Handled]:
        items = [
            Inbound(
                data=document if isinstance(document, bytes) else encode(document),
                subject=subject or (subject_of(document) if isinstance(document, dict) else ""),
                msg_id=None,
                stream_sequence=next(_sequence),
                num_delivered=delivered,
            )
            for document in documents
        ]
        return await self.batch.process(items)

    async def one(self, document: dict[str, Any] | bytes, **options: Any) -> CommandOutcome:
        (handled,) = await self.run(document, **options)
        assert handled.outcome is not None
        return handled.outcome

    async def state(self, connection_id: str) -> ConnectionState | None:
        async with self.engine.connect() as connection:
            return await load_connection(connection, connection_id)
