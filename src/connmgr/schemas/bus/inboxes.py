"""Reply inboxes: where each identity receives replies, and where a ``reply_to`` may point.

Inboxes are per identity (nats-py's ``inbox_prefix``): each identity may
subscribe only under its own prefix, so nobody reads another's replies or
another pool's pull batches. A command's ``reply_to`` must lie under an inbox of
the command's own tenant (``reply_allowed``), or no reply is sent at all: a pool
never answers into another tenant's inbox (``docs/security.md``, "The broker
boundary").
"""

from __future__ import annotations

from typing import Final

INBOX_ROOT: Final = "_INBOX"
REPLY_INBOX_PREFIX: Final = "_INBOX."
OPERATOR_INBOX_PREFIX: Final = f"{INBOX_ROOT}.operator"


def tenant_inbox_prefix(tenant: str) -> str:
    """A tenant's producers receive replies only under this prefix."""
    return f"{INBOX_ROOT}.tenant.{tenant}"


def gateway_inbox_prefix(tenant: str) -> str:
    """The HTTP gateway's inbox when it publishes for ``tenant``."""
    return f"{INBOX_ROOT}.gateway.{tenant}"


def pool_inbox_prefix(pool: str) -> str:
    """A pool's own inbox: its pull batches and JetStream API replies arrive here."""
    return f"{INBOX_ROOT}.pool.{pool}"


def reply_allowed(tenant: str, reply_to: str) -> bool:
    """A command's ``reply_to`` must lie under an inbox prefix of the command's tenant."""
    return any(
        reply_to.startswith(f"{prefix}.") and len(reply_to) > len(prefix) + 1
        for prefix in (tenant_inbox_prefix(tenant), gateway_inbox_prefix(tenant))
    )
