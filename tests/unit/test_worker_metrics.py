"""The workers' metric writers: bounded labels, and counters exposed at 0 from the start."""

from __future__ import annotations

from prometheus_client import REGISTRY, generate_latest

from connmgr.runtime.pool_names import WORKERS
from connmgr.schemas.kinds import Kind
from connmgr.workers.checks.base import Outcome
from connmgr.workers.metric_labels import OTHER, POOLS, bounded, enum_label, verb_of
from connmgr.workers.metrics import declare_pool
from support.scrape import parse


def test_a_pool_s_dead_letter_counter_is_exposed_at_zero_before_its_first_letter() -> None:
    series = (
        "connmgr_dead_letters_total",
        frozenset({"pool": "tester", "reason": "max_deliveries"}.items()),
    )
    assert series not in parse(generate_latest(REGISTRY).decode()).samples
    declare_pool("tester")
    assert parse(generate_latest(REGISTRY).decode()).samples[series] == 0


def test_only_enumerated_values_become_labels() -> None:
    assert bounded("tester", ("tester",)) == "tester"
    assert bounded("tester.example.com", ("tester",)) == OTHER
    assert bounded(None, ("tester",)) == OTHER
    assert enum_label(Kind.TCP, Kind) == "tcp"
    assert enum_label("acme-tenant", Outcome) == OTHER
    assert verb_of("connmgr.cmd.acme.create.5f0e4c3a-6a57-4a55-9c1b-6f4f1d8c2b11") == "create"
    assert verb_of("connmgr.cmd.acme.frobnicate.x") == OTHER
    assert verb_of("not a subject") == OTHER


def test_the_pool_label_values_are_the_pools_connmgr_worker_runs() -> None:
    assert set(POOLS) == set(WORKERS)
