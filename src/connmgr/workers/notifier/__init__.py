"""The notifier pool: alert events from ``connmgr.evt.…`` delivered to notification channels.

Choices (issue 4, item 5):

- **Channels are connections.** A notification channel is a connection of kind
  ``webhook`` (generic CloudEvents, Slack, Teams, Discord, PagerDuty) or
  ``smtp`` in the alert's tenant, tagged ``notify`` or ``notify:<severity>``.
  So channels are created, updated, rotated and deleted by the ordinary
  connection commands, their secrets (``signing_secret``, the PagerDuty routing
  key as ``api_key``, the SMTP password) are sealed by producers like any
  other, the egress policy applies to them, and ``connmgr test`` tests them.
  The template picks the format (``channels.FORMAT_BY_TEMPLATE``); e-mail
  recipients are the ``smtp`` connection's ``notify`` field (``email``,
  ``schemas.recipients``).
- **Exactly once per (alert event, channel)** comes from the database row in
  ``notification_deliveries`` (``records``), not from NATS.
- **Outcomes are evidence.** Each final delivery appends ``NotificationSent``
  or ``NotificationFailed`` to the log, in a stream of its own; the relay
  publishes it under the alerting connection's subject.
- **Retries**: a few attempts with exponential backoff within one message
  delivery, then a delayed nak, up to ``DeliveryPolicy.max_attempts`` in all
  (``delivery``); permanent failures (4xx, egress refusal) stop at once.

Modules: ``notices`` (reading the relay's body), ``channels`` (which channels,
opened secrets), ``texts`` and ``formats`` (payloads), ``delivery`` (HTTP and
retry policy), ``email`` (SMTP), ``records`` (the delivery record and audit
events), ``notify`` (the handler), ``pool`` (the NATS adapter).
"""

from connmgr.workers.notifier.delivery import DeliveryPolicy
from connmgr.workers.notifier.service import NotifierPool

__all__ = ["DeliveryPolicy", "NotifierPool"]
