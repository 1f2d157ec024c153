"""Dead letters: commands that failed on every delivery, kept where an operator finds them.

When a pool gives up on a message (its last delivery failed), it records
``CommandRejected`` with reason ``max_deliveries`` in the log and copies the
original message to ``connmgr.dlq.<tenant>.<command_id>`` on stream
``CONNMGR_DLQ``, with its subject and stream sequence in headers. The same
stream also captures the server's max-deliveries and terminated advisories for
the command stream, so a message no pool could even record is still found.
``connmgr dlq ls`` lists both; ``connmgr dlq replay`` sends one again.
"""

from __future__ import annotations

import structlog
from nats.aio.client import Client as NatsClient
from nats.aio.msg import Msg

from connmgr.schemas.bus.addresses import parse_command_subject
from connmgr.schemas.bus.headers import (
    DEAD_LETTER_REASON_HEADER,
    ORIGINAL_SEQUENCE_HEADER,
    ORIGINAL_SUBJECT_HEADER,
)
from connmgr.schemas.bus.subjects import dead_letter_subject

log = structlog.get_logger("connmgr.dead_letters")


async def set_aside(nc: NatsClient, message: Msg, command_id: str) -> None:
    """Copy ``message`` to the dead-letter stream; a failure is logged, never raised
    (the rejection is already in the log and the server's advisory is captured too)."""
    address = parse_command_subject(message.subject)
    headers = {
        ORIGINAL_SUBJECT_HEADER: message.subject,
        ORIGINAL_SEQUENCE_HEADER: str(message.metadata.sequence.stream),
        DEAD_LETTER_REASON_HEADER: "max_deliveries",
    }
    subject = dead_letter_subject(address.tenant if address else "", command_id)
    try:
        await nc.jetstream().publish(subject, message.data, headers=headers)
    except Exception:
        log.warning("dead_letter_not_recorded", command_id=command_id, exc_info=True)
