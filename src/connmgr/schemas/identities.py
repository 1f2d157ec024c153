"""What each broker identity the auth callout issues may publish and subscribe to.

The pools, the operator and the callout service itself are static users of
``infra/nats/accounts.conf``; every other client is a *tenant identity* whose
permissions are built here, from the names in ``schemas.bus``, and signed into
its user JWT by the callout (``workers/nats_auth``). Allow lists only: anything
not listed is refused by the server.

- a **producer** (connects with a token): publishes commands under its tenant's
  subjects (scope ``commands:write``), reads the seal key, receives replies only
  under ``bus.inboxes.tenant_inbox_prefix``; with ``events:read`` it also subscribes to
  its tenant's live events and owns a fixed set of durable consumer *slots* on
  the event stream (``event_consumer_slot``): the slots are the per-tenant
  consumer limit, enforced by the permissions alone;
- a **gateway** (connects as user ``gateway`` with the token as password):
  publishes commands for the token's tenant only, reads the seal key (public:
  the gateway serves it to browsers) and receives replies under
  ``bus.inboxes.gateway_inbox_prefix``; no event reads, no JetStream API beyond the
  publish acknowledgements and the seal-key reads.

A slot is created only through the filtered create subject
``$JS.API.CONSUMER.CREATE.<stream>.<slot>.<filter>`` with the tenant's own
event filter: the server refuses a body whose filter differs from the
subject's, and multi-filter bodies on that subject.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final

from connmgr.schemas.bus.inboxes import gateway_inbox_prefix, tenant_inbox_prefix
from connmgr.schemas.bus.streams import EVENT_STREAM, KEYS_BUCKET
from connmgr.schemas.bus.subjects import COMMAND_PREFIX, EVENT_PREFIX

BROKER_ACCOUNT: Final = "CONNMGR"
"""The one JetStream account of ``infra/nats/accounts.conf``: pools, operator and tenants."""
AUTH_REQUEST_SUBJECT: Final = "$SYS.REQ.USER.AUTH"
"""Where nats-server asks the auth callout about a connecting client."""
JS_API_PREFIX: Final = "$JS.API"
JS_ACK_PREFIX: Final = "$JS.ACK"
GATEWAY_USER: Final = "gateway"
"""The connect user name that asks the callout for a gateway identity."""
EVENT_SLOT_INFIX: Final = "-evt-"
_SLOT_RE: Final = re.compile(r"^(?P<tenant>[a-z0-9_-]{1,64})-evt-(?P<number>[1-9][0-9]{0,3})$")


@dataclass(frozen=True, slots=True)
class Permissions:
    """Allow lists of subjects: what an identity may publish and subscribe to."""

    publish: tuple[str, ...]
    subscribe: tuple[str, ...]


def event_consumer_slot(tenant: str, number: int) -> str:
    """The name of a tenant's durable event consumer ``number`` (1-based).

    The trailing ``-evt-<digits>`` makes a name belong to exactly one tenant (a
    tenant id never ends that way inside another's slot name, since the split is
    at the last ``-evt-``) and never equal to a pool durable.
    """
    if number < 1:
        raise ValueError("slot numbers start at 1")
    return f"{tenant}{EVENT_SLOT_INFIX}{number}"


def event_consumer_slots(tenant: str, count: int) -> tuple[str, ...]:
    return tuple(event_consumer_slot(tenant, number) for number in range(1, count + 1))


def slot_tenant(name: str) -> str | None:
    """The tenant a slot name belongs to, or None when it is no slot name."""
    match = _SLOT_RE.fullmatch(name)
    return match.group("tenant") if match else None


def tenant_event_filter(tenant: str) -> str:
    """The subject filter of a tenant's own events."""
    return f"{EVENT_PREFIX}.{tenant}.>"


def tenant_command_subjects(tenant: str) -> str:
    return f"{COMMAND_PREFIX}.{tenant}.>"


def _seal_key_reads() -> tuple[str, ...]:
    bucket_stream = f"KV_{KEYS_BUCKET}"
    return (
        f"{JS_API_PREFIX}.STREAM.INFO.{bucket_stream}",
        f"{JS_API_PREFIX}.DIRECT.GET.{bucket_stream}.>",
        f"{JS_API_PREFIX}.STREAM.MSG.GET.{bucket_stream}",
    )


def _slot_rights(tenant: str, slot: str) -> tuple[str, ...]:
    api = f"{JS_API_PREFIX}.CONSUMER"
    return (
        f"{api}.CREATE.{EVENT_STREAM}.{slot}.{tenant_event_filter(tenant)}",
        f"{api}.INFO.{EVENT_STREAM}.{slot}",
        f"{api}.DELETE.{EVENT_STREAM}.{slot}",
        f"{api}.MSG.NEXT.{EVENT_STREAM}.{slot}",
        f"{JS_ACK_PREFIX}.{EVENT_STREAM}.{slot}.>",
    )


def producer_permissions(
    tenant: str, *, write_commands: bool, read_events: bool, slots: int
) -> Permissions:
    """A producer of ``tenant``: commands (if allowed), seal-key reads, its events (if allowed)."""
    publish: list[str] = [f"{JS_API_PREFIX}.INFO"]
    subscribe: list[str] = [f"{tenant_inbox_prefix(tenant)}.>"]
    if write_commands:
        publish += [tenant_command_subjects(tenant), *_seal_key_reads()]
    if read_events:
        subscribe.append(tenant_event_filter(tenant))
        for slot in event_consumer_slots(tenant, slots):
            publish += _slot_rights(tenant, slot)
    return Permissions(publish=tuple(publish), subscribe=tuple(subscribe))


def gateway_permissions(tenant: str) -> Permissions:
    """The HTTP gateway acting for ``tenant``: its commands, the public seal key (served
    at ``GET /api/keys/seal``) and its own inbox, nothing else."""
    return Permissions(
        publish=(tenant_command_subjects(tenant), *_seal_key_reads()),
        subscribe=(f"{gateway_inbox_prefix(tenant)}.>",),
    )
