"""The tester bench's connections and the test commands it sends to them.

``create_fleet`` creates ``per_kind`` connections of each kind through the
encryptor (``Producer.create``: a real sealed password for PostgreSQL), all to
local targets: the machine's PostgreSQL (127.0.0.1:5432, database ``test``, user
``postgres``, trust authentication, so any password logs in; ``ssl: disable``,
the server has TLS off), the machine's Redis (127.0.0.1:6379, auth ``none``) and
an aiohttp app in its own process (``GET /healthz``, expected status 200).

``test_commands`` builds stored-connection ``test`` commands (empty payload,
``Nats-Msg-Id`` = ``command_id``) spread round-robin over the connections of the
kinds asked for, before any clock starts.
"""

from __future__ import annotations

import asyncio
import itertools
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

from bench.harness import BenchError, Outgoing, command
from connmgr.producers.client import Producer
from connmgr.schemas.connection_spec import ConnectionSpec

KINDS: Final = ("postgres", "redis", "http")
POSTGRES: Final = {"host": "127.0.0.1", "port": 5432, "database": "test", "ssl": "disable"}
REDIS: Final = {"host": "127.0.0.1", "port": 6379}
HTTP_PATH: Final = "/healthz"
CREATES_AT_ONCE: Final = 32


@dataclass(frozen=True, slots=True)
class Fleet:
    """The created connections: ids per kind, and each id's kind."""

    ids: Mapping[str, Sequence[str]]

    def kind_of(self) -> dict[str, str]:
        return {cid: kind for kind, ids in self.ids.items() for cid in ids}


def connection_fields(kind: str, http_url: str) -> dict[str, Any]:
    """The spec fields (and secrets) of one connection of ``kind``."""
    if kind == "postgres":
        return {
            "config": POSTGRES,
            "auth": {"method": "basic", "username": "postgres"},
            "secrets": {"password": secrets.token_urlsafe(16)},  # trust: any password works
        }
    if kind == "redis":
        return {"config": REDIS}
    return {"config": {"base_url": http_url, "test": {"path": HTTP_PATH}}}


async def create_fleet(producer: Producer, per_kind: int, http_url: str) -> Fleet:
    """``per_kind`` connections of each kind, created through the encryptor."""
    slots = asyncio.Semaphore(CREATES_AT_ONCE)

    async def create(kind: str, index: int) -> str:
        async with slots:
            spec = ConnectionSpec(
                name=f"bench-{kind}-{index}", kind=kind, **connection_fields(kind, http_url)
            )
            outcome = await producer.create(spec)
        if outcome.outcome != "accepted" or outcome.connection_id is None:
            raise BenchError(f"creating a {kind} connection was rejected: {outcome.reason}")
        return str(outcome.connection_id)

    ids: dict[str, list[str]] = {}
    for kind in KINDS:
        ids[kind] = list(await asyncio.gather(*(create(kind, i) for i in range(per_kind))))
    return Fleet(ids)


def test_commands(fleet: Fleet, kinds: Sequence[str], count: int) -> list[Outgoing]:
    """``count`` test commands, round-robin over the kinds, then over each kind's ids."""
    cycles = {kind: itertools.cycle(fleet.ids[kind]) for kind in kinds}
    order = itertools.cycle(kinds)
    return [command("test", next(cycles[next(order)]), {}) for _ in range(count)]
