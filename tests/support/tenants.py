"""Publishing commands as a tenant: a client whose inboxes lie under the tenant's prefix,
the only ones pools answer (``bus.inboxes.reply_allowed``)."""

from __future__ import annotations

import json
import uuid
from typing import Any

import nats
from nats.aio.client import Client

from connmgr.schemas.bus.headers import MSG_ID_HEADER
from connmgr.schemas.bus.inboxes import tenant_inbox_prefix
from support.commands import encode, subject_of


async def tenant_client(url: str, tenant: str) -> Client:
    return await nats.connect(url, inbox_prefix=tenant_inbox_prefix(tenant))


async def publish_as(
    nc: Client, tenant: str, document: dict[str, Any], headers: dict[str, str] | None = None
) -> None:
    """Publish on the tenant's subject with a fresh ``Nats-Msg-Id`` (plus ``headers``)."""
    all_headers = {MSG_ID_HEADER: str(uuid.uuid4()), **(headers or {})}
    await nc.jetstream().publish(
        subject_of(document, tenant), encode(document), headers=all_headers
    )


async def request_as(
    nc: Client, tenant: str, document: dict[str, Any], headers: dict[str, str] | None = None
) -> dict[str, Any]:
    """Publish with a ``reply_to`` in the client's own inbox; the outcome it gets."""
    inbox = nc.new_inbox()
    subscription = await nc.subscribe(inbox)
    await publish_as(nc, tenant, {**document, "reply_to": inbox}, headers)
    reply = await subscription.next_msg(timeout=30)
    await subscription.unsubscribe()
    answer: dict[str, Any] = json.loads(reply.data)
    return answer
