"""Notification channels: connections of the alert's tenant tagged ``notify``.

A channel is an ordinary connection of kind ``webhook`` or ``smtp`` in the same
tenant, marked by a tag (so channels reuse connection commands, sealed
secrets, the egress policy and connection tests):

- ``notify``: every alert; ``notify:<severity>`` (``info``, ``warning``,
  ``critical``): alerts of that severity or above. With several such tags the
  lowest threshold wins; an unknown severity makes that tag no mark at all.
- The format comes from the connection's template (``FORMAT_BY_TEMPLATE``);
  any other ``webhook`` gets CloudEvents, an ``smtp`` connection gets e-mail,
  sent to the recipients of its ``notify`` field (``schemas.recipients``).
- A raise goes to every channel whose threshold admits its severity; a
  resolution goes to the channels the raise was delivered to, or, when the
  notifier never saw the raise, to every channel of the tenant.

Secrets are opened in memory with the key ring exactly as the tester does
(``checks.targets.prepare_stored``); a channel whose secrets cannot be opened
is ``unusable`` and its delivery fails without a request.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from enum import StrEnum
from typing import Any, Final

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncConnection

from connmgr.schemas.kinds import Kind
from connmgr.schemas.outcomes import Rejection
from connmgr.storage.projection_store import load_connection
from connmgr.storage.tables import connection_tags, connections
from connmgr.workers.checks.base import CheckTarget
from connmgr.workers.checks.targets import prepare_stored
from connmgr.workers.keyring import Keyring
from connmgr.workers.notifier.notices import AlertNotice, Severity

NOTIFY_TAG: Final = "notify"
CHANNEL_KINDS: Final = (Kind.WEBHOOK.value, Kind.SMTP.value)


class ChannelFormat(StrEnum):
    CLOUDEVENTS = "cloudevents"
    SLACK = "slack"
    TEAMS = "teams"
    DISCORD = "discord"
    PAGERDUTY = "pagerduty"
    EMAIL = "email"


FORMAT_BY_TEMPLATE: Final = {
    "slack-webhook": ChannelFormat.SLACK,
    "teams-webhook": ChannelFormat.TEAMS,
    "discord-webhook": ChannelFormat.DISCORD,
    "pagerduty-events": ChannelFormat.PAGERDUTY,
}


@dataclass(frozen=True, slots=True)
class ChannelRow:
    """A candidate channel as the projection holds it (no secrets); ``notify``: the
    stored e-mail recipients and sender, read by ``email`` (never trusted blindly)."""

    id: str
    kind: str
    template: str | None
    tags: tuple[str, ...]
    notify: Mapping[str, Any] | None = None

    @property
    def format(self) -> ChannelFormat:
        if self.kind == Kind.SMTP.value:
            return ChannelFormat.EMAIL
        return FORMAT_BY_TEMPLATE.get(self.template or "", ChannelFormat.CLOUDEVENTS)


@dataclass(frozen=True, slots=True)
class Channel:
    """A channel ready to deliver to: its target holds the opened secrets (never printed)."""

    id: str
    format: ChannelFormat
    target: CheckTarget
    notify: Mapping[str, Any] | None = None
    unusable: bool = False


def threshold(tags: tuple[str, ...]) -> Severity | None:
    """The lowest severity the tags admit, or None when they do not mark a channel."""
    found: list[Severity] = []
    for tag in tags:
        if tag == NOTIFY_TAG:
            found.append(Severity.INFO)
        elif tag.startswith(f"{NOTIFY_TAG}:"):
            label = tag.removeprefix(f"{NOTIFY_TAG}:").upper()
            if label in Severity.__members__:
                found.append(Severity[label])
    return min(found, default=None)


def chosen(rows: list[ChannelRow], notice: AlertNotice, told: set[str]) -> list[ChannelRow]:
    """The channels ``notice`` goes to; ``told``: channels the raise was delivered to."""
    marked = [(row, threshold(row.tags)) for row in rows]
    if notice.raised:
        return [row for row, lowest in marked if lowest is not None and notice.severity >= lowest]
    live = [row for row, lowest in marked if lowest is not None]
    return [row for row in live if row.id in told] if told else live


async def channel_rows(connection: AsyncConnection, tenant: str) -> list[ChannelRow]:
    """The tenant's live ``webhook`` and ``smtp`` connections with a ``notify`` tag.

    The tags are looked up per connection of the tenant, on the tag rows' key: a
    ``LIKE`` over every tenant's tags would read them all, since under a non-C
    collation no index serves it."""
    tags, c = connection_tags.c, connections.c
    marked = (
        select(tags.connection_id)
        .where(tags.connection_id == c.id)
        .where(or_(tags.tag == NOTIFY_TAG, tags.tag.like(f"{NOTIFY_TAG}:%")))
        .exists()
    )
    query = (
        select(c.id, c.kind, c.template, c.tags, c.notify)
        .where(c.tenant == tenant, c.deleted.is_(False), c.kind.in_(CHANNEL_KINDS))
        .where(marked)
        .order_by(c.id)
    )
    rows = await connection.execute(query)
    return [ChannelRow(row.id, row.kind, row.template, tuple(row.tags), row.notify) for row in rows]


async def open_channel(
    connection: AsyncConnection, tenant: str, row: ChannelRow, keyring: Keyring
) -> Channel | None:
    """The channel with its secrets opened; None when it vanished meanwhile."""
    prepared = await prepare_stored(connection, tenant, row.id, keyring)
    if isinstance(prepared, Rejection):
        return None
    return Channel(
        id=row.id,
        format=row.format,
        target=prepared.target,
        notify=row.notify,
        unusable=prepared.unusable is not None,
    )


async def describe_connection(connection: AsyncConnection, notice: AlertNotice) -> AlertNotice:
    """``notice`` with the name and kind of the connection it is about, when it exists."""
    state = await load_connection(connection, notice.connection_id)
    if state is None or state.tenant != notice.tenant:
        return notice
    return replace(notice, connection_name=state.name, connection_kind=state.kind)
