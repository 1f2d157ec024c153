"""Connecting a producer to NATS: bounded in time, with the tenant's reply inboxes."""

from __future__ import annotations

import asyncio

import nats.errors
import structlog
from nats.aio.client import Client

from connmgr.schemas.bus.inboxes import tenant_inbox_prefix

from .errors import ProducerError

log = structlog.get_logger(__name__)


async def _log_nats_error(error: Exception) -> None:
    """nats-py reports connection trouble here; only its type is logged."""
    log.debug("nats_error", error=type(error).__name__)


async def connect_nats(nats_url: str, tenant: str, timeout_s: float, token: str | None) -> Client:
    """A connected client within ``timeout_s`` (nats-py alone would retry for minutes),
    whose reply inboxes lie under the tenant's prefix (the only ones pools answer).

    ``token`` is the tenant's connmgr token: the broker's auth callout turns it into
    a NATS identity confined to the tenant's subjects (none: an open dev broker).
    """
    nc = Client()
    servers = nats_url.split(",")
    connecting = nc.connect(
        servers=servers,
        name="connmgr-producer",
        error_cb=_log_nats_error,
        inbox_prefix=tenant_inbox_prefix(tenant),
        token=token or None,
    )
    try:
        await asyncio.wait_for(connecting, timeout_s)
    except (nats.errors.Error, OSError, TimeoutError) as error:
        await nc.close()
        timed_out = isinstance(error, TimeoutError)
        why = f"within {timeout_s:g}s" if timed_out else type(error).__name__
        raise ProducerError(f"cannot connect to NATS ({why})") from None
    return nc
