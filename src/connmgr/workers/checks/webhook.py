"""The ``webhook`` check: POST a signed test event; any 2xx answer is ``ok``.

The request, sent once through the egress policy (a 3xx is an answer, never
followed), with the connection's auth method applied as for ``http``::

    POST <url>
    Content-Type: application/json
    X-Connmgr-Timestamp: 1767225600
    X-Connmgr-Signature: v1=5f0c...e9        (the configured ``signature_header``)

    {"type":"connmgr.test","connection_id":"…","sent_at":"2026-01-01T00:00:00Z"}

Signature scheme ``v1`` (present only when the ``signing_secret`` secret is
stored): the lower-case hex HMAC-SHA256, keyed with the UTF-8 bytes of the
secret, over ``"<timestamp>.<body>"`` — the decimal timestamp header value, a
dot, and the raw body bytes exactly as received. A receiver recomputes it,
compares in constant time, and rejects a timestamp more than 5 minutes
(300 s) from its own clock, so a captured request cannot be replayed later;
it may also remember the signatures seen within those 5 minutes.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from datetime import UTC, datetime
from typing import ClassVar, Final

from multidict import CIMultiDict
from yarl import URL

from connmgr.schemas.kinds import Kind, WebhookConfig
from connmgr.workers.checks.base import CheckResult, CheckTarget, Outcome
from connmgr.workers.checks.http_auth import Authorizer
from connmgr.workers.checks.http_check import HttpBasedCheck
from connmgr.workers.checks.http_exchange import TlsTarget, send
from connmgr.workers.checks.http_outcomes import status_failure
from connmgr.workers.checks.http_transport import Outgoing
from connmgr.workers.checks.net import Stopwatch

TIMESTAMP_HEADER: Final = "X-Connmgr-Timestamp"
REPLAY_WINDOW_S: Final = 300
EVENT_TYPE: Final = "connmgr.test"


def signature(secret: str, timestamp: str, body: bytes) -> str:
    """The header value ``v1=<hex HMAC-SHA256 over "<timestamp>.<body>">``."""
    digest = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return "v1=" + digest.hexdigest()


def build_test_event(connection_id: str, now: float) -> bytes:
    """The compact JSON body of the test event."""
    sent_at = datetime.fromtimestamp(now, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    event = {"type": EVENT_TYPE, "connection_id": connection_id, "sent_at": sent_at}
    return json.dumps(event, separators=(",", ":")).encode()


class WebhookCheck(HttpBasedCheck[WebhookConfig]):
    """Checks a ``webhook`` connection; ``clock`` stamps (and signs) the event."""

    kind: ClassVar[Kind] = Kind.WEBHOOK
    config_type = WebhookConfig
    wrong_config = "the configuration is not a webhook one"

    async def _attempt(
        self, target: CheckTarget, config: WebhookConfig, authorizer: Authorizer, watch: Stopwatch
    ) -> CheckResult:
        reply = await send(
            self._egress,
            self._signed_request(target, config),
            authorizer=authorizer,
            tls=TlsTarget(config.ca_pem, config.server_name),
            timeout_s=target.timeout_s,
            watch=watch,
        )
        if 200 <= reply.status < 300:
            detail = f"the receiver accepted the test event (status {reply.status})"
            return watch.result(Outcome.OK, detail, reply.identity)
        return watch.result(*status_failure(reply.status, None), reply.identity)

    def _signed_request(self, target: CheckTarget, config: WebhookConfig) -> Outgoing:
        now = self._clock()
        timestamp = str(int(now))
        body = build_test_event(target.connection_id, now)
        headers = CIMultiDict({"Content-Type": "application/json", TIMESTAMP_HEADER: timestamp})
        if secret := target.secrets.get("signing_secret"):
            headers[config.signature_header] = signature(secret, timestamp, body)
        return Outgoing("POST", URL(config.url), headers, body)
