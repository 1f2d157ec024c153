"""The AsyncAPI 3.0 document of the bus: every command, reply and event channel.

``asyncapi_document(version)`` builds it from ``schemas.bus`` (subjects, streams,
headers) and the models, through ``schemas.json_schema``, so it cannot drift from
the code: an address is a ``bus`` function called with ``{parameter}`` names, a
message's payload is a generated schema, a header name is a ``bus`` constant.

From connmgr's side: it *receives* commands on ``connmgr.cmd.<tenant>.<verb>.<id>``
and answers each on the command's ``reply_to`` (an AsyncAPI reply), and it *sends*
each event on ``connmgr.evt.<tenant>.<id>.<type>``. Channels tagged ``internal``
are the pools' and operators' own (schedules, firings, dead letters, the stream
upgrade's holding subjects): no tenant identity may use them.

Schemas are the generated JSON Schema 2020-12 in the form the AsyncAPI Schema
Object takes (a superset of draft 07): definitions under ``components/schemas``
and a discriminator given by its property name. The document has no ``servers``:
it is the contract, the same for every deployment, and names no address of one.
"""

from __future__ import annotations

from typing import Any, Final

from connmgr.schemas import sealed
from connmgr.schemas.asyncapi_channels import COMMAND_VERBS, channels
from connmgr.schemas.asyncapi_headers import header_schemas
from connmgr.schemas.asyncapi_operations import operations
from connmgr.schemas.bus.headers import EXPECTED_STREAM_HEADER, MSG_ID_HEADER, TRACEPARENT_HEADER
from connmgr.schemas.bus.inboxes import gateway_inbox_prefix, tenant_inbox_prefix
from connmgr.schemas.bus.streams import (
    COMMAND_STREAM,
    DUPLICATE_WINDOW_S,
    EVENT_STREAM,
    KEYS_BUCKET,
    MAX_COMMAND_BYTES,
    SEAL_KEY_ENTRY,
)
from connmgr.schemas.bus.subjects import TENANT_PATTERN
from connmgr.schemas.events import EVENT_TYPES
from connmgr.schemas.json_schema import DEFS_REF, definitions, retarget, rewrite
from connmgr.schemas.outcomes import REASON_CODES

ASYNCAPI_VERSION: Final = "3.0.0"
COMPONENTS_REF: Final = "#/components/schemas/"
DOCUMENT_ID: Final = "urn:connmgr:asyncapi"


def asyncapi_document(version: str) -> dict[str, Any]:
    """The whole document; ``version`` is the application's (``info.version``)."""
    roots, defs = definitions()
    schemas = {key: _as_asyncapi_schema(schema) for key, schema in defs.items()}
    schemas.update(header_schemas())
    return {
        "asyncapi": ASYNCAPI_VERSION,
        "id": DOCUMENT_ID,
        "info": {
            "title": "connmgr bus",
            "version": version,
            "description": _DESCRIPTION,
            "tags": [{"name": tag, "description": text} for tag, text in _TAGS.items()],
        },
        "defaultContentType": "application/json",
        "channels": channels(),
        "operations": operations(),
        "components": {"schemas": schemas, "messages": _messages(roots)},
    }


def _as_asyncapi_schema(schema: dict[str, Any]) -> dict[str, Any]:
    """A generated definition as an AsyncAPI Schema Object: refs under
    ``components/schemas``, and ``discriminator`` the property name alone."""

    def by_name(node: dict[str, Any]) -> dict[str, Any]:
        discriminator = node.get("discriminator")
        if isinstance(discriminator, dict):
            node["discriminator"] = discriminator["propertyName"]
        return node

    converted: dict[str, Any] = rewrite(retarget(schema, DEFS_REF, COMPONENTS_REF), by_name)
    return converted


def _messages(roots: dict[str, str]) -> dict[str, Any]:
    """One message per command, the reply, each event, the seal key and the
    operators' opaque copies; payloads refer to the generated schemas."""
    messages: dict[str, Any] = {}
    for verb, model in COMMAND_VERBS.items():
        messages[model] = _message(
            roots[model], "CommandHeaders", f"A `{verb}` command.", correlated=True
        )
    messages["CommandOutcome"] = _message(
        roots["CommandOutcome"], None, _OUTCOME_TEXT, correlated=True
    )
    for event_type in EVENT_TYPES:
        messages[f"{event_type}Message"] = _message(
            roots[f"{event_type}Message"], "EventHeaders", f"A relayed `{event_type}` event."
        )
    messages["SealKeyInfo"] = _message(roots["SealKeyInfo"], None, _SEAL_KEY_TEXT)
    messages["ScheduledCheck"] = _message(
        roots["CheckConnection"], "ScheduleHeaders", "A check schedule, or one firing of it."
    )
    messages["HeldCommand"] = {
        "name": "HeldCommand",
        "summary": "A command stream message set aside, its body as it was published.",
        "headers": {"$ref": f"{COMPONENTS_REF}HeldHeaders"},
        "payload": {"description": "The original body, unchanged (not validated here)."},
    }
    messages["ConsumerAdvisory"] = {
        "name": "ConsumerAdvisory",
        "summary": "nats-server's advisory: a command ran out of deliveries or was terminated.",
        "payload": _ADVISORY,
    }
    return messages


def _message(
    schema_key: str, headers: str | None, summary: str, *, correlated: bool = False
) -> dict[str, Any]:
    message: dict[str, Any] = {
        "name": schema_key,
        "summary": summary,
        "payload": {"$ref": f"{COMPONENTS_REF}{schema_key}"},
    }
    if headers is not None:
        message["headers"] = {"$ref": f"{COMPONENTS_REF}{headers}"}
    if correlated:
        message["correlationId"] = {
            "description": "A reply carries the command's id.",
            "location": "$message.payload#/command_id",
        }
    return message


_ADVISORY: Final = {
    "type": "object",
    "description": "nats-server's own JSON (its type names the advisory); kept as sent.",
    "required": ["type", "stream", "consumer", "stream_seq"],
    "properties": {
        "type": {"type": "string"},
        "stream": {"const": COMMAND_STREAM},
        "consumer": {"type": "string"},
        "stream_seq": {"type": "integer"},
    },
}

_OUTCOME_TEXT: Final = (
    "The outcome of one command, published to its `reply_to` when that lies under the "
    "tenant's inbox prefix. `accepted`: the events it appended (`events`) and the "
    "connection's `version`; `rejected`: a stable `reason` code, a sentence and the "
    "fields concerned (`errors`), never an input value or a secret. A redelivered or "
    "re-published command gets its recorded outcome again and changes nothing."
)

_SEAL_KEY_TEXT: Final = (
    "The encryptor's public seal key, read with a KV get of bucket "
    f"`{KEYS_BUCKET}` key `{SEAL_KEY_ENTRY}`: seal secrets to it (below)."
)

_TAGS: Final = {
    "commands": "What producers publish; connmgr's pools receive and answer them.",
    "events": "What connmgr publishes: every committed event, once, in log order.",
    "internal": "The pools' and operators' own subjects: no tenant identity may use them.",
}

_REASONS: Final = ", ".join(f"`{code}`" for code in REASON_CODES)

_DESCRIPTION: Final = f"""\
The asynchronous contract of connmgr over NATS JetStream, for producers and
consumers in any language. Generated from the code that enforces it.

**Tenants.** Every subject carries the tenant (`{TENANT_PATTERN}`). A tenant's
identity may publish commands and read events only under its own tenant; a command's
`actor.tenant` must equal its subject's (`tenant_mismatch` otherwise), its
`connection_id` and verb the subject's (`subject_mismatch`).

**Commands** are JSON of at most {MAX_COMMAND_BYTES} bytes on stream
`{COMMAND_STREAM}` (work queue). Header `{MSG_ID_HEADER}` = `command_id`: a
re-publish within {int(DUPLICATE_WINDOW_S)} s is stored once. Any other `Nats-*`
header but `{EXPECTED_STREAM_HEADER}` is refused (`control_headers`).
`{TRACEPARENT_HEADER}` (optional) is the W3C Trace Context header, version 00, for
tracing across hops: the span that handles the command is its child, the events it
appends keep that span's `{TRACEPARENT_HEADER}` in their `metadata`, and the relay
publishes each event with the `{TRACEPARENT_HEADER}` of its own span. A value in
any other format is dropped, never an error: the handling starts a new trace.

**Replies.** Every command ends in exactly one outcome. When `reply_to` lies under
`{tenant_inbox_prefix("<tenant>")}.` or `{gateway_inbox_prefix("<tenant>")}.`,
the `CommandOutcome` is published there; otherwise the command is refused
(`invalid_reply_to`) and no reply is sent. Reason codes: {_REASONS}.

**Sealed secrets.** {" ".join((sealed.__doc__ or "").replace("``", "`").split())}
Plaintext secrets are refused (`plaintext_not_allowed`) unless the deployment allows them.

**Events** are published by the relay on stream `{EVENT_STREAM}` with
`{MSG_ID_HEADER}` = `event_id`, in log order. Their data never holds a secret:
each `secrets` object is reduced to its version and field names (`SecretsSummary`).
"""
