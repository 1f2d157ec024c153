"""Notifying the channels of one alert event: the notifier's handler (no NATS in sight).

``Notifier.notify(notice, last_chance=…)`` returns True when the delivery to
every chosen channel is final (delivered, or failed for good) — the pool then
acks — and False when some delivery should be tried again later (the pool naks
with a delay). A channel whose record is already final is skipped before its
secrets are even opened: a redelivered alert is not sent twice.

Channels are served concurrently and each records its result as soon as it
has one, so a crash loses at most the deliveries in flight. Those are sent
again on redelivery: on the wire delivery is at-least-once in that one case
(the CloudEvents ``id`` and the PagerDuty ``dedup_key`` let a receiver drop the
repeat); in every other case the record makes it exactly once per channel.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Protocol

import structlog
from sqlalchemy.ext.asyncio import AsyncEngine

from connmgr.schemas.kinds import Kind
from connmgr.workers.keyring import Keyring
from connmgr.workers.metrics import record_notification
from connmgr.workers.notifier.channels import (
    Channel,
    channel_rows,
    chosen,
    describe_connection,
    open_channel,
)
from connmgr.workers.notifier.delivery import Attempt, DeliveryPolicy, Tried, with_retries
from connmgr.workers.notifier.notices import AlertNotice
from connmgr.workers.notifier.records import (
    DeliveryRecord,
    channels_told,
    record_delivery,
    records_of,
)

log = structlog.get_logger("connmgr.notifier")


class Sender(Protocol):
    async def send(self, channel: Channel, notice: AlertNotice) -> Attempt: ...


@dataclass(frozen=True, slots=True)
class Plan:
    """What one alert event needs done: the channels still owed a delivery."""

    notice: AlertNotice
    channels: list[Channel]
    records: dict[str, DeliveryRecord]


class Notifier:
    def __init__(
        self,
        engine: AsyncEngine,
        keyring: Keyring,
        senders: Mapping[Kind, Sender],
        policy: DeliveryPolicy,
    ) -> None:
        self._engine = engine
        self._keyring = keyring
        self._senders = senders
        self._policy = policy

    async def notify(self, notice: AlertNotice, *, last_chance: bool = False) -> bool:
        """Deliver ``notice`` to its channels; True when nothing is left to retry.

        ``last_chance``: the message will not be delivered again, so a delivery
        that fails now is recorded as failed rather than pending.
        """
        plan = await self.plan(notice)
        results = await asyncio.gather(
            *(self._serve(plan, channel, last_chance) for channel in plan.channels),
            return_exceptions=True,
        )
        for channel, result in zip(plan.channels, results, strict=True):
            if isinstance(result, BaseException):
                log.error("notification_error", channel_id=channel.id, exc_info=result)
        return all(result is True for result in results)

    async def plan(self, notice: AlertNotice) -> Plan:
        async with self._engine.connect() as connection:
            notice = await describe_connection(connection, notice)
            rows = await channel_rows(connection, notice.tenant)
            told = set() if notice.raised else await channels_told(connection, notice)
            records = await records_of(connection, notice.event_id)
            channels = []
            for row in chosen(rows, notice, told):
                if (record := records.get(row.id)) is not None and record.final:
                    continue
                channel = await open_channel(connection, notice.tenant, row, self._keyring)
                if channel is not None:
                    channels.append(channel)
        return Plan(notice, channels, records)

    async def _serve(self, plan: Plan, channel: Channel, last_chance: bool) -> bool:
        notice, policy = plan.notice, self._policy
        record = plan.records.get(channel.id)
        budget = policy.max_attempts - (record.attempts if record else 0)
        budget = max(min(policy.attempts_per_delivery, budget), 1)
        sender = self._senders[channel.target.kind]
        tried = await with_retries(lambda: sender.send(channel, notice), policy, budget)
        stored = await record_delivery(
            self._engine,
            notice,
            channel,
            tried,
            max_attempts=policy.max_attempts,
            last_chance=last_chance,
        )
        _log_delivery(notice, channel, tried, stored)
        record_notification(channel.format, stored.status, tried.attempts)
        return stored.final


def _log_delivery(
    notice: AlertNotice, channel: Channel, tried: Tried, stored: DeliveryRecord
) -> None:
    emit = {"delivered": log.info, "pending": log.warning}.get(stored.status, log.error)
    emit(
        f"notification_{stored.status}",
        event_id=notice.event_id,
        alert_id=notice.alert_id,
        alert_type=notice.event_type,
        connection_id=notice.connection_id,
        channel_id=channel.id,
        channel_format=channel.format.value,
        attempts=stored.attempts,
        code=tried.last.code,
    )
