"""The encryptor's and tester's metrics, scraped over HTTP from a real probe port, after
real commands through the real pools (the stack of ``test_tester_pool``), and what the
scrape must never carry: a tenant, an id, a host, a name, a made-up verb or reason."""

from __future__ import annotations

import uuid

from connmgr.schemas.bus.headers import MSG_ID_HEADER
from connmgr.schemas.kinds import Kind
from connmgr.schemas.outcomes import CommandOutcome
from connmgr.workers.backlog import read_backlog
from connmgr.workers.checks.base import Outcome
from connmgr.workers.metric_labels import OTHER
from connmgr.workers.metrics import record_check, record_command
from support.commands import TENANT, command
from support.scrape import metrics_port
from support.waiting import wait_for
from tester.test_tester_pool import Stack, create, listener, stack, tcp_payload

__all__ = ["listener", "stack"]  # fixtures

HANDLED = "connmgr_commands_handled_total"
REJECTED = "connmgr_commands_rejected_total"


async def test_commands_checks_batches_and_backlog_move_with_bounded_labels(
    stack: Stack, listener: int
) -> None:
    with metrics_port("tester") as port:
        before = await port.scrape()
        connection_id = await create(stack, tcp_payload(listener, name="Secret Name Of acme"))
        reply = await stack.request(command("test", connection_id, {}))
        assert reply["result"]["outcome"] == "ok"
        bad = command("test", connection_id, {})
        bad["surprise"] = True
        assert (await stack.request(bad))["reason"] == "invalid_command"
        await read_backlog(stack.nc.jetstream(), stack.engine, "tester")
        after = await port.scrape()

    def moved(name: str, **labels: str) -> float:
        return after.value(name, **labels) - before.value(name, **labels)

    assert moved(HANDLED, pool="encryptor", verb="create", outcome="accepted") == 1
    assert moved(HANDLED, pool="tester", verb="test", outcome="accepted") == 1
    assert moved(HANDLED, pool="tester", verb="test", outcome="rejected") == 1
    assert moved(REJECTED, pool="tester", verb="test", reason="invalid_command") == 1
    assert moved("connmgr_checks_total", pool="tester", kind="tcp", outcome="ok") == 1
    assert moved("connmgr_check_duration_seconds_count", pool="tester", kind="tcp") == 1
    assert moved("connmgr_command_handling_seconds_count", pool="tester", verb="test") == 2
    assert moved("connmgr_batch_size_count", pool="encryptor") >= 1
    assert moved("connmgr_batch_size_sum", pool="tester") >= 2
    assert after.value("connmgr_worker_ready", pool="tester") == 1
    backlog = {"pool": "tester", "consumer": "tester"}
    assert ("connmgr_consumer_pending_messages", frozenset(backlog.items())) in after.samples
    assert after.value("connmgr_consumer_ack_pending_messages", **backlog) >= 0
    for secret in (TENANT, connection_id, "Secret Name", "127.0.0.1"):
        assert secret not in after.text


async def test_unknown_verbs_reasons_and_kinds_become_other_and_never_reach_the_scrape(
    stack: Stack,
) -> None:
    hostile_tenant, hostile_id = "tenant-hostile-7f3a", str(uuid.uuid4())
    subject = f"connmgr.cmd.{hostile_tenant}.frobnicate.{hostile_id}"
    made_up = CommandOutcome.model_construct(
        command_id=uuid.uuid4(), outcome="rejected", reason="db.internal.example:5432"
    )
    with metrics_port("tester") as port:
        before = await port.scrape()
        record_command("tester", subject, made_up, 0.0)
        record_command("evil-pool.example.com", subject, made_up, 0.0)
        record_check("tester", Kind.TCP, Outcome.OK, 1.0)
        # a real message of a hostile tenant through the real tester: rejected, counted
        msg_id = str(uuid.uuid4())
        real_subject = f"connmgr.cmd.{hostile_tenant}.test.{hostile_id}"
        await stack.nc.jetstream().publish(real_subject, b"{", headers={MSG_ID_HEADER: msg_id})

        async def rejected() -> float:
            scrape = await port.scrape()
            labels = {"pool": "tester", "verb": "test", "reason": "invalid_json"}
            return scrape.value(REJECTED, **labels) - before.value(REJECTED, **labels)

        await wait_for(rejected, message="the hostile tenant's command counted")
        after = await port.scrape()
    assert after.value(REJECTED, pool="tester", verb=OTHER, reason=OTHER) >= 1
    assert after.value(HANDLED, pool=OTHER, verb=OTHER, outcome="rejected") >= 1
    for hostile in (hostile_tenant, hostile_id, "frobnicate", "db.internal", "evil-pool"):
        assert hostile not in after.text
