"""The write path under test: connmgr's encryptor, ``--encryptors`` replicas of it.

Each replica is ``connmgr worker encryptor``, a process of its own on the run's
stack, so its CPU time and memory are its own and the load generator does not
share its interpreter. It is ready once it has published its seal key (the
commands are sealed to it). ``write_load.WritePath`` is the shape every
implementation of the write path measured by this bench has; another one (a
raw-client floor, say) is a module of its own beside this one.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import Table

from bench.harness import (
    ChildProcess,
    Outgoing,
    Stack,
    all_running,
    peak_rss_mb,
    wait_for_seal_key,
)
from connmgr.producers.client import Producer
from connmgr.schemas.bus.streams import COMMAND_STREAM
from connmgr.storage.tables import connections


@dataclass(frozen=True, slots=True)
class Encryptors:
    """The encryptor replicas of one run."""

    children: Sequence[ChildProcess]
    stream: str = COMMAND_STREAM
    projection: Table = connections

    @classmethod
    def start(cls, stack: Stack, replicas: int, label: str = "encryptor") -> Encryptors:
        """``replicas`` encryptor processes; their logs are ``<label>-<n>.log``."""
        return cls([stack.start_worker("encryptor", f"{label}-{n}") for n in range(replicas)])

    def addressed(self, items: Sequence[Outgoing]) -> Sequence[Outgoing]:
        return items

    def check(self) -> None:
        all_running(*self.children)()

    async def ready(self, producer: Producer) -> None:
        """Until the seal key is published: the commands can be sealed and taken."""
        await wait_for_seal_key(producer, self.check)

    def peak_rss_mb(self) -> float:
        """The largest ``VmHWM`` of the replicas."""
        return max(peak_rss_mb(child.pid) for child in self.children)
