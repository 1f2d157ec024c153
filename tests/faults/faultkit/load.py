"""What a fault test sends: a deterministic plan of commands.

``mixed_plan``: every connection is created first, then updates, rotations and a
run of updates to a few *hot* connections (the ones an I5 reader watches) are
interleaved, and some connections are deleted last. ``one_connection_plan``:
one create, then many updates and rotations of that one connection, every
``conditional_every``-th with an ``expected_version`` that is usually stale.
``http_tests_plan``: HTTP connections, then ``test`` commands of them for the tester.
Plaintext secrets keep the load cheap (the cluster allows them).
"""

from __future__ import annotations

import json
import os
import random
import uuid
from dataclasses import dataclass
from typing import Any

from faultkit.targets import HEALTH_PATH
from support.commands import command, postgres_payload, subject_of

SCALE = float(os.environ.get("FAULTS_SCALE", "1"))
"""Multiplies every fault test's load: ``FAULTS_SCALE=5 make faults`` is a soak."""


def scaled(count: int) -> int:
    return max(1, round(count * SCALE))


@dataclass(frozen=True, slots=True)
class PlannedCommand:
    command_id: str
    verb: str
    connection_id: str
    subject: str
    data: bytes


@dataclass(frozen=True, slots=True)
class Plan:
    commands: list[PlannedCommand]
    hot: list[str]

    def __len__(self) -> int:
        return len(self.commands)


def planned(
    verb: str, connection_id: str, payload: dict[str, Any], rng: random.Random
) -> PlannedCommand:
    command_id = str(uuid.UUID(int=rng.getrandbits(128), version=4))
    document = command(verb, connection_id, payload, command_id=command_id)
    return PlannedCommand(
        command_id, verb, connection_id, subject_of(document), json.dumps(document).encode()
    )


def _create(index: int, connection_id: str, rng: random.Random) -> PlannedCommand:
    payload = postgres_payload(
        name=f"conn-{index}", secrets={"plaintext": {"password": f"pw-{index}"}}
    )
    return planned("create", connection_id, payload, rng)


def _rotate(index: int, connection_id: str, rng: random.Random) -> PlannedCommand:
    payload = {"secrets": {"plaintext": {"password": f"rotated-{index}"}}}
    return planned("rotate", connection_id, payload, rng)


def _update(index: int, connection_id: str, rng: random.Random) -> PlannedCommand:
    return planned("update", connection_id, {"description": f"update {index}"}, rng)


def mixed_plan(
    connections: int = 600,
    updates: int = 700,
    rotations: int = 350,
    deletions: int = 150,
    hot: int = 2,
    hot_updates: int = 100,
    seed: int = 5,
) -> Plan:
    """About 2000 commands by default (times ``FAULTS_SCALE``)."""
    connections, updates, rotations = scaled(connections), scaled(updates), scaled(rotations)
    deletions, hot_updates = scaled(deletions), scaled(hot_updates)
    rng = random.Random(seed)
    ids = [str(uuid.UUID(int=rng.getrandbits(128), version=4)) for _ in range(connections)]
    hot_ids, cold_ids = ids[:hot], ids[hot:]
    creates = [_create(n, cid, rng) for n, cid in enumerate(ids)]
    middle = [_update(n, rng.choice(cold_ids), rng) for n in range(updates)]
    middle += [_rotate(n, rng.choice(cold_ids), rng) for n in range(rotations)]
    middle += [_update(n + updates, hot_ids[n % hot], rng) for n in range(hot * hot_updates)]
    rng.shuffle(middle)
    doomed = rng.sample(cold_ids, deletions)
    deletes = [planned("delete", cid, {"reason": "fault test"}, rng) for cid in doomed]
    return Plan([*creates, *middle, *deletes], hot_ids)


STALE_EVERY = 7
"""In ``one_connection_plan`` every 7th change expects version 1: stale by construction."""


def one_connection_plan(changes: int = 1500, conditional_every: int = 3, seed: int = 7) -> Plan:
    """One connection, ``changes`` updates and rotations of it. Every
    ``conditional_every``-th expects the version it would see if all went in order
    (right or stale, as the race goes); every ``STALE_EVERY``-th expects version 1,
    which no change after the first can meet."""
    changes = scaled(changes)
    rng = random.Random(seed)
    connection_id = str(uuid.UUID(int=rng.getrandbits(128), version=4))
    commands = [_create(0, connection_id, rng)]
    for n in range(1, changes + 1):
        payload: dict[str, Any] = (
            {"description": f"update {n}"}
            if n % 2
            else {"secrets": {"plaintext": {"password": f"rotated-{n}"}}}
        )
        if n % STALE_EVERY == 0:
            payload["expected_version"] = 1
        elif n % conditional_every == 0:
            payload["expected_version"] = n
        commands.append(planned("update" if n % 2 else "rotate", connection_id, payload, rng))
    return Plan(commands, [connection_id])


def http_tests_plan(
    base_url: str, connections: int = 30, tests: int = 400, seed: int = 11
) -> tuple[Plan, Plan]:
    """``connections`` HTTP connections to ``base_url`` (the creates, for the encryptor),
    then ``tests`` test commands spread over them (for the tester pool)."""
    rng = random.Random(seed)
    ids = [str(uuid.UUID(int=rng.getrandbits(128), version=4)) for _ in range(connections)]
    creates = [
        planned("create", cid, http_payload(f"target-{n}", base_url), rng)
        for n, cid in enumerate(ids)
    ]
    runs = [planned("test", ids[n % connections], {}, rng) for n in range(scaled(tests))]
    return Plan(creates, []), Plan(runs, [])


def http_payload(name: str, base_url: str) -> dict[str, Any]:
    return {
        "name": name,
        "kind": "http",
        "config": {"base_url": base_url, "test": {"path": HEALTH_PATH}},
        "auth": {"method": "none"},
    }
