"""An event as other systems receive it on ``CONNMGR_EVT``: its subject and JSON body.

The subject is ``connmgr.evt.<tenant>.<connection_id>.<type>``; the body carries
the event's position, ids, version, type, tenant, metadata and time, and its
data with every ``secrets`` object reduced to its version and field names
(``storage/reads/views.py``): no ciphertext, nonce or key material leaves the log.
"""

from __future__ import annotations

import json

from connmgr.schemas.bus.subjects import event_subject
from connmgr.schemas.upcasting import upcast
from connmgr.storage.event_log import StoredEvent
from connmgr.storage.reads.views import redact_event_data


def event_message(event: StoredEvent) -> tuple[str, bytes]:
    """Subject and body of an event as other systems receive it: its data upcast to
    the model's version today (``schemas.upcasting``), secrets reduced to names."""
    connection_id = str(event.data.get("connection_id") or event.stream_id)
    body = {
        "event_id": event.event_id,
        "position": event.position,
        "stream_id": event.stream_id,
        "connection_id": connection_id,
        "version": event.version,
        "type": event.type,
        "tenant": event.tenant,
        "data": redact_event_data(upcast(event.type, event.data)),
        "metadata": event.metadata,
        "recorded_at": event.recorded_at.isoformat(),
    }
    subject = event_subject(event.tenant, connection_id, event.type)
    return subject, json.dumps(body, separators=(",", ":")).encode()
