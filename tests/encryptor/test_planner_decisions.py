"""The planner's decisions in memory, without a database: what each command adds to the
write plan (events, outcomes, data keys, touched connections), how a message the gate
refuses, a duplicate or a failing handler ends, and the update handler's rules on a
state the planner folded. ``test_commands.py`` checks the same through the database;
these are the fast, exact checks of each decision."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import pytest
from structlog.testing import capture_logs

from connmgr.schemas.command_parsing import parse_encryptor_command
from connmgr.schemas.commands import UpdateConnection
from connmgr.schemas.outcomes import CommandOutcome, FieldError, Reason, Rejection
from connmgr.storage.projection import ConnectionState
from connmgr.workers.encryptor import planner as planner_module
from connmgr.workers.encryptor.decisions import Accepted, EncryptorPorts
from connmgr.workers.encryptor.planner import Handled, Inbound, Planner
from connmgr.workers.encryptor.updates import update_connection
from connmgr.workers.keyring import Keyring
from connmgr.workers.secret_box import decrypt_secrets
from support.commands import TENANT, command, encode, postgres_payload, sealed, subject_of

KEYRING = Keyring.generate()
TRACEPARENT = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
NOW = datetime(2026, 3, 4, 5, 6, 7, tzinfo=UTC)
PASSWORD = "pw-first"


def new_id() -> str:
    return str(uuid.uuid4())


def make_planner(
    *,
    allow_plaintext: bool = False,
    max_deliver: int = 3,
    recorded: dict[tuple[str, str], CommandOutcome] | None = None,
    states: dict[str, ConnectionState | None] | None = None,
    now: datetime | None = NOW,
) -> Planner:
    ports = EncryptorPorts(keyring=KEYRING, allow_plaintext=allow_plaintext)
    return Planner(ports, max_deliver, recorded if recorded is not None else {}, states or {}, now)


def inbound(
    document: dict[str, Any] | bytes,
    *,
    subject: str | None = None,
    msg_id: str | None = None,
    sequence: int = 7,
    delivered: int = 1,
    headers: dict[str, str] | None = None,
    traceparent: str | None = None,
) -> Inbound:
    data = document if isinstance(document, bytes) else encode(document)
    if subject is None:
        assert isinstance(document, dict)
        subject = subject_of(document, document["actor"]["tenant"])
    return Inbound(data, subject, msg_id, sequence, delivered, headers, traceparent=traceparent)


async def decide(planner: Planner, item: Inbound) -> Handled:
    return await planner.decide(item, item.admission())


async def outcome_of(planner: Planner, document: dict[str, Any], **options: Any) -> CommandOutcome:
    handled = await decide(planner, inbound(document, **options))
    assert handled.outcome is not None
    return handled.outcome


def secrets(values: dict[str, str], connection_id: str) -> dict[str, str]:
    return sealed(values, KEYRING.seal_public_info(), connection_id)


def create_document(connection_id: str, **overrides: Any) -> dict[str, Any]:
    payload = postgres_payload(secrets=secrets({"password": PASSWORD}, connection_id))
    payload.update(overrides)
    return command("create", connection_id, payload)


async def created(planner: Planner, **overrides: Any) -> str:
    connection_id = new_id()
    outcome = await outcome_of(planner, create_document(connection_id, **overrides))
    assert outcome.outcome == "accepted", outcome
    return connection_id


def state_of(planner: Planner, connection_id: str) -> ConnectionState:
    return planner.touched_states()[connection_id]


def plain(planner: Planner, connection_id: str) -> dict[str, str]:
    """The secrets of the planned state, decrypted with the plan's data key."""
    state = state_of(planner, connection_id)
    wrapped = planner.plan.data_keys[connection_id]
    assert state.secrets is not None
    assert wrapped is not None
    data_key = KEYRING.unwrap(wrapped, connection_id)
    return decrypt_secrets(data_key, state.secrets, connection_id)


# --- the plan of accepted commands --------------------------------------------------


async def test_a_create_then_an_update_in_one_batch_plan_versions_one_and_two() -> None:
    planner = make_planner()
    connection_id = new_id()
    create = create_document(connection_id)
    first = await decide(planner, inbound(create))
    renaming = command("update", connection_id, {"name": "renamed"})
    second = await decide(planner, inbound(renaming))

    assert first == Handled(first.outcome, None)
    assert first.outcome == CommandOutcome(
        command_id=create["command_id"],
        connection_id=connection_id,
        outcome="accepted",
        version=1,
        events=["ConnectionCreated"],
    )
    assert second.outcome is not None
    assert (second.outcome.version, second.outcome.events) == (2, ["ConnectionUpdated"])
    events = planner.plan.events
    assert [(e.stream_id, e.version, e.type, e.tenant) for e in events] == [
        (connection_id, 1, "ConnectionCreated", TENANT),
        (connection_id, 2, "ConnectionUpdated", TENANT),
    ]
    assert (events[1].data["changed"], events[1].data["name"]) == (["name"], "renamed")
    assert events[0].metadata["command_id"] == create["command_id"]
    assert events[1].metadata == {
        "command_id": renaming["command_id"],
        "actor_id": "tester",
        "tenant": TENANT,
        "correlation_id": None,
        "causation_id": None,
    }
    assert planner.plan.touched == {connection_id}
    assert planner.plan.outcomes == [(TENANT, first.outcome), (TENANT, second.outcome)]
    state = state_of(planner, connection_id)
    assert (state.name, state.version, state.tenant) == ("renamed", 2, TENANT)
    assert (state.created_at, state.updated_at) == (NOW, NOW)
    assert plain(planner, connection_id) == {"password": PASSWORD}


async def test_an_update_of_a_loaded_state_continues_from_its_version() -> None:
    first = make_planner()
    connection_id = await created(first)
    await outcome_of(first, command("update", connection_id, {"name": "two"}))
    loaded = state_of(first, connection_id)

    planner = make_planner(states={connection_id: loaded})
    outcome = await outcome_of(planner, command("update", connection_id, {"name": "three"}))
    assert (outcome.outcome, outcome.version) == ("accepted", 3)
    assert [(e.version, e.type) for e in planner.plan.events] == [(3, "ConnectionUpdated")]
    assert planner.plan.data_keys == {}
    assert state_of(planner, connection_id).name == "three"


async def test_a_create_plans_its_new_data_key_and_a_delete_drops_it() -> None:
    planner = make_planner()
    connection_id = await created(planner)
    key = planner.plan.data_keys[connection_id]
    assert key is not None
    assert KEYRING.unwrap(key, connection_id)

    outcome = await outcome_of(planner, command("delete", connection_id, {}))
    assert (outcome.outcome, outcome.version, outcome.events) == (
        "accepted",
        2,
        ["ConnectionDeleted"],
    )
    assert planner.plan.data_keys == {connection_id: None}
    state = state_of(planner, connection_id)
    assert (state.deleted, state.secrets) == (True, None)


async def test_a_rotation_replaces_the_planned_data_key() -> None:
    planner = make_planner()
    connection_id = await created(planner)
    first_key = planner.plan.data_keys[connection_id]
    document = command(
        "rotate", connection_id, {"secrets": secrets({"password": "pw-2"}, connection_id)}
    )
    outcome = await outcome_of(planner, document)
    assert (outcome.outcome, outcome.version) == ("accepted", 2)
    assert planner.plan.data_keys[connection_id] != first_key
    assert plain(planner, connection_id) == {"password": "pw-2"}
    state = state_of(planner, connection_id)
    assert state.secrets is not None
    assert state.secrets.secrets_version == 2


async def test_an_update_that_changes_nothing_is_accepted_without_events() -> None:
    planner = make_planner()
    connection_id = await created(planner)
    document = command("update", connection_id, {"name": "orders-db"})
    outcome = await outcome_of(planner, document)
    assert outcome == CommandOutcome(
        command_id=document["command_id"],
        connection_id=connection_id,
        outcome="accepted",
        version=1,
        events=[],
    )
    assert len(planner.plan.events) == 1
    assert len(planner.plan.outcomes) == 2


async def test_a_no_op_update_on_a_loaded_state_does_not_touch_it() -> None:
    first = make_planner()
    connection_id = await created(first)
    planner = make_planner(states={connection_id: state_of(first, connection_id)})
    outcome = await outcome_of(planner, command("update", connection_id, {"name": "orders-db"}))
    assert (outcome.outcome, outcome.version, outcome.events) == ("accepted", 1, [])
    assert planner.plan.touched == set()
    assert planner.touched_states() == {}
    assert planner.plan.events == []
    assert planner.plan.data_keys == {}


async def test_a_handler_rejection_is_recorded_in_a_stream_of_its_own() -> None:
    planner = make_planner()
    connection_id = new_id()
    document = command("update", connection_id, {"name": "x"})
    handled = await decide(planner, inbound(document))
    assert handled.outcome is not None
    assert (handled.outcome.outcome, handled.outcome.reason) == ("rejected", "not_found")
    assert handled.outcome.message == "no such connection"
    assert handled.outcome.connection_id == uuid.UUID(connection_id)
    (event,) = planner.plan.events
    assert event.type == "CommandRejected"
    assert event.stream_id != connection_id
    assert event.metadata["command_id"] == document["command_id"]
    assert planner.plan.touched == set()
    assert planner.plan.outcomes == [(TENANT, handled.outcome)]


# --- duplicates, the gate and the planner's clock ------------------------------------


async def test_the_same_command_twice_in_a_batch_is_a_duplicate_the_second_time() -> None:
    planner = make_planner()
    document = create_document(new_id())
    first = await decide(planner, inbound(document))
    again = await decide(planner, inbound(document, sequence=8))
    assert again == Handled(first.outcome, None, duplicate=True)
    assert len(planner.plan.events) == 1
    assert len(planner.plan.outcomes) == 1


async def test_a_recorded_outcome_is_answered_on_the_reply_subject() -> None:
    connection_id = new_id()
    document = command("delete", connection_id, {}, reply_to=f"_INBOX.tenant.{TENANT}.r1")
    recorded = CommandOutcome(
        command_id=document["command_id"],
        connection_id=connection_id,
        outcome="accepted",
        version=4,
        events=["ConnectionDeleted"],
    )
    planner = make_planner(recorded={(TENANT, document["command_id"]): recorded})
    handled = await decide(planner, inbound(document))
    assert handled == Handled(recorded, f"_INBOX.tenant.{TENANT}.r1", duplicate=True)
    assert planner.plan.events == []
    assert planner.plan.outcomes == []


async def test_a_recorded_outcome_of_another_tenant_is_not_an_answer() -> None:
    connection_id = new_id()
    document = command("delete", connection_id, {})
    theirs = CommandOutcome(
        command_id=document["command_id"],
        connection_id=connection_id,
        outcome="accepted",
        version=4,
        events=[],
    )
    planner = make_planner(recorded={("globex", document["command_id"]): theirs})
    handled = await decide(planner, inbound(document))
    assert not handled.duplicate
    assert handled.outcome is not None
    assert handled.outcome.reason == "not_found"


async def test_an_accepted_command_is_answered_on_its_allowed_reply_subject() -> None:
    planner = make_planner()
    connection_id = new_id()
    reply = f"_INBOX.tenant.{TENANT}.abc"
    handled = await decide(planner, inbound(create_document(connection_id) | {"reply_to": reply}))
    assert handled.reply_to == reply
    assert handled.outcome is not None
    assert handled.outcome.outcome == "accepted"


async def test_a_refused_message_is_recorded_from_what_its_header_tells() -> None:
    """A body the schema refuses still names its command, connection and verb."""
    planner = make_planner()
    connection_id = new_id()
    document = command("update", connection_id, {"surprise": True})
    handled = await decide(planner, inbound(document))
    assert handled.outcome is not None
    assert handled.reply_to is None
    outcome = handled.outcome
    assert (outcome.outcome, outcome.reason, outcome.version) == (
        "rejected",
        "invalid_command",
        None,
    )
    assert outcome.command_id == uuid.UUID(document["command_id"])
    assert outcome.connection_id == uuid.UUID(connection_id)
    (event,) = planner.plan.events
    assert event.data["command_type"] == "update"
    assert event.data["connection_id"] == connection_id
    assert event.metadata == {
        "command_id": document["command_id"],
        "actor_id": None,
        "tenant": TENANT,
        "correlation_id": None,
        "causation_id": None,
    }
    assert planner.plan.outcomes == [(TENANT, outcome)]
    assert (await decide(planner, inbound(document))).duplicate


async def test_a_refused_command_is_answered_on_its_allowed_reply_subject() -> None:
    """Only a refused ``reply_to`` goes unanswered; a refused command with an allowed one
    gets its rejection there."""
    planner = make_planner()
    reply = f"_INBOX.gateway.{TENANT}.r9"
    document = command("update", new_id(), {"surprise": True}, reply_to=reply)
    handled = await decide(planner, inbound(document))
    assert handled == Handled(handled.outcome, reply)
    assert handled.outcome is not None
    assert handled.outcome.reason == "invalid_command"


async def test_an_admission_without_command_or_rejection_is_a_bug_not_a_retry() -> None:
    """The gate never makes one; if it did, deciding raises at once, naming the broken
    promise, instead of failing inside a handler and being retried as a bad command."""
    planner = make_planner()
    admission = replace(inbound(create_document(new_id())).admission(), command=None)
    with pytest.raises(AssertionError, match=r"^an admitted message carries its command$"):
        await planner.decide(inbound(create_document(new_id())), admission)
    assert planner.plan.outcomes == []


async def test_a_subject_mismatch_is_recorded_with_the_command_it_carried() -> None:
    """The body is a valid command (so its actor is in the record) on the wrong subject."""
    planner = make_planner()
    document = create_document(new_id())
    other = subject_of({**document, "connection_id": new_id()})
    handled = await decide(planner, inbound(document, subject=other))
    assert handled.outcome is not None
    assert handled.outcome.reason == "subject_mismatch"
    (event,) = planner.plan.events
    assert event.metadata["actor_id"] is None
    assert event.data["command_type"] == "create"


async def test_a_refused_reply_to_keeps_the_trusted_command_in_the_record() -> None:
    planner = make_planner()
    document = create_document(new_id()) | {"reply_to": "_INBOX.tenant.globex.x"}
    handled = await decide(planner, inbound(document))
    assert handled == Handled(handled.outcome, None)
    assert handled.outcome is not None
    assert handled.outcome.reason == "invalid_reply_to"
    (event,) = planner.plan.events
    assert event.metadata["actor_id"] == "tester"
    assert planner.plan.touched == set()


async def test_an_unreadable_message_is_known_by_its_message_id() -> None:
    planner = make_planner()
    msg_id = new_id()
    handled = await decide(planner, inbound(b"\x00not json", subject="x", msg_id=msg_id))
    assert handled.outcome is not None
    assert handled.outcome.command_id == uuid.UUID(msg_id)
    assert handled.outcome.connection_id is None
    assert handled.outcome.reason == "invalid_command"
    assert planner.plan.outcomes == [("", handled.outcome)]


async def test_an_unreadable_message_without_an_id_is_known_by_its_stream_sequence() -> None:
    planner = make_planner()
    one = await decide(planner, inbound(b"{", subject="x", sequence=41))
    other = await decide(planner, inbound(b"{", subject="x", sequence=42))
    again = await decide(planner, inbound(b"{", subject="x", sequence=41))
    assert one.outcome is not None
    assert other.outcome is not None
    assert one.outcome.command_id != other.outcome.command_id
    assert again == Handled(one.outcome, None, duplicate=True)


async def test_a_broker_header_refuses_the_message() -> None:
    planner = make_planner()
    document = create_document(new_id())
    handled = await decide(planner, inbound(document, headers={"Nats-Rollup": "sub"}))
    assert handled.outcome is not None
    assert handled.outcome.reason == "control_headers"
    assert planner.plan.touched == set()


async def test_the_planner_clock_is_now_in_utc_unless_given() -> None:
    before = datetime.now(UTC)
    planner = make_planner(now=None)
    after = datetime.now(UTC)
    assert before <= planner.now <= after
    assert planner.now.tzinfo is UTC
    assert make_planner().now == NOW


# --- the message's traceparent in the metadata of every event it causes ------------


def traced_not_found(connection_id: str) -> dict[str, Any]:
    return command("update", connection_id, {"name": "x"})


def traced_refused_body(connection_id: str) -> dict[str, Any]:
    return command("update", connection_id, {"surprise": True})


@pytest.mark.parametrize(
    ("document_of", "event_type"),
    [
        (create_document, "ConnectionCreated"),
        (traced_not_found, "CommandRejected"),
        (traced_refused_body, "CommandRejected"),
    ],
    ids=["accepted", "handler_rejection", "gate_rejection"],
)
async def test_the_traceparent_of_a_message_is_in_the_metadata_of_its_event(
    document_of: Callable[[str], dict[str, Any]], event_type: str
) -> None:
    """An accepted command, a handler's rejection and the gate's each carry the handled
    message's traceparent (``Inbound.traceparent``) into their event's metadata; an
    untraced message's events have none (the first test's metadata)."""
    planner = make_planner()
    document = document_of(new_id())
    handled = await decide(planner, inbound(document, traceparent=TRACEPARENT))
    assert handled.outcome is not None
    (event,) = planner.plan.events
    assert event.type == event_type
    assert event.metadata["command_id"] == document["command_id"]
    assert event.metadata["traceparent"] == TRACEPARENT


# --- a handler that raises: retried, then set aside ----------------------------------


@pytest.fixture
def failing_handler(monkeypatch: pytest.MonkeyPatch) -> None:
    async def boom(*_args: object) -> None:
        raise RuntimeError("handler broke")

    monkeypatch.setattr(planner_module, "handle", boom)


@pytest.mark.usefixtures("failing_handler")
async def test_a_failing_command_is_retried_and_logged_before_its_last_delivery() -> None:
    planner = make_planner(max_deliver=3)
    document = create_document(new_id()) | {"reply_to": f"_INBOX.tenant.{TENANT}.r"}
    with capture_logs() as logs:
        handled = await decide(planner, inbound(document, sequence=99, delivered=2))
    assert handled == Handled(None, None)
    assert handled.retry
    assert planner.plan.events == []
    assert planner.plan.outcomes == []
    (line,) = logs
    assert line["event"] == "command_failed"
    assert line["log_level"] == "error"
    assert line["stream_sequence"] == 99
    assert line["exc_info"] is True


@pytest.mark.usefixtures("failing_handler")
async def test_a_failing_command_is_set_aside_on_its_last_delivery() -> None:
    planner = make_planner(max_deliver=3)
    reply = f"_INBOX.tenant.{TENANT}.r"
    document = create_document(new_id()) | {"reply_to": reply}
    with capture_logs() as logs:
        handled = await decide(planner, inbound(document, delivered=3))
    assert [line["event"] for line in logs] == ["command_failed"]
    assert handled.dead_letter
    assert not handled.duplicate
    assert handled.reply_to == reply
    assert handled.outcome is not None
    assert handled.outcome.reason == "max_deliveries"
    assert handled.outcome.message == "the command failed on every delivery and was set aside"
    assert handled.outcome.command_id == uuid.UUID(document["command_id"])
    (event,) = planner.plan.events
    assert event.data["reason"] == "max_deliveries"
    assert event.metadata["actor_id"] == "tester"
    assert planner.plan.outcomes == [(TENANT, handled.outcome)]


@pytest.mark.usefixtures("failing_handler")
async def test_a_command_set_aside_keeps_its_traceparent_in_the_rejection() -> None:
    planner = make_planner(max_deliver=3)
    document = create_document(new_id())
    handled = await decide(planner, inbound(document, delivered=3, traceparent=TRACEPARENT))
    assert handled.dead_letter
    (event,) = planner.plan.events
    assert event.data["reason"] == "max_deliveries"
    assert event.metadata["traceparent"] == TRACEPARENT


async def test_set_aside_records_max_deliveries_for_an_admission() -> None:
    planner = make_planner()
    document = create_document(new_id())
    handled = planner.set_aside(inbound(document).admission())
    assert handled.outcome is not None
    assert (handled.outcome.outcome, handled.outcome.reason) == ("rejected", "max_deliveries")
    assert handled == Handled(handled.outcome, None, dead_letter=True)


# --- the update handler on a folded state --------------------------------------------


async def folded(**overrides: Any) -> tuple[ConnectionState, str]:
    planner = make_planner()
    connection_id = await created(planner, **overrides)
    return state_of(planner, connection_id), connection_id


def update_command(
    connection_id: str, payload: dict[str, Any], tenant: str = TENANT
) -> UpdateConnection:
    parsed = parse_encryptor_command(
        encode(command("update", connection_id, payload, tenant=tenant))
    )
    assert isinstance(parsed, UpdateConnection), parsed
    return parsed


def ports(*, allow_plaintext: bool = False) -> EncryptorPorts:
    return EncryptorPorts(keyring=KEYRING, allow_plaintext=allow_plaintext)


async def update(
    state: ConnectionState | None,
    connection_id: str,
    payload: dict[str, Any],
    *,
    tenant: str = TENANT,
    allow_plaintext: bool = False,
) -> Accepted | Rejection:
    command_ = update_command(connection_id, payload, tenant)
    return await update_connection(command_, state, ports(allow_plaintext=allow_plaintext))


NOT_FOUND = Rejection(Reason.NOT_FOUND, "no such connection")


async def test_an_update_of_no_live_connection_of_the_tenant_is_not_found() -> None:
    state, connection_id = await folded()
    assert await update(None, connection_id, {"name": "x"}) == NOT_FOUND
    assert await update(state, connection_id, {"name": "x"}, tenant="globex") == NOT_FOUND
    assert await update(replace(state, deleted=True), connection_id, {"name": "x"}) == NOT_FOUND


async def test_a_stale_expected_version_is_a_conflict_with_both_versions() -> None:
    state, connection_id = await folded()
    result = await update(state, connection_id, {"expected_version": 4, "name": "x"})
    assert result == Rejection(
        Reason.VERSION_CONFLICT,
        "expected version 4, the connection is at version 1",
        [FieldError(field="payload.expected_version", message="is stale")],
    )
    accepted = await update(state, connection_id, {"expected_version": 1, "name": "x"})
    assert isinstance(accepted, Accepted)


async def test_a_change_of_kind_needs_the_config_of_the_new_kind() -> None:
    state, connection_id = await folded()
    result = await update(state, connection_id, {"kind": "mysql"})
    assert result == Rejection(
        Reason.INVALID_CONFIG,
        "changing the kind needs the config for the new kind",
        [FieldError(field="payload.config", message="is required when kind changes")],
    )


async def test_the_same_kind_named_again_needs_no_config() -> None:
    state, connection_id = await folded()
    result = await update(state, connection_id, {"kind": "postgres", "name": "again"})
    assert isinstance(result, Accepted)
    (event,) = result.events
    assert (event.changed, event.name, event.kind) == (["name"], "again", None)


async def test_a_change_of_kind_with_config_and_secrets_is_accepted() -> None:
    state, connection_id = await folded()
    payload = {
        "kind": "mysql",
        "config": {"host": "db.internal"},
        "secrets": secrets({"password": "pw-2"}, connection_id),
    }
    result = await update(state, connection_id, payload)
    assert isinstance(result, Accepted)
    (event,) = result.events
    dumped = event.model_dump(mode="json")
    assert dumped["changed"] == ["config", "kind", "secrets"]
    assert dumped["kind"] == "mysql"
    assert dumped["config"]["port"] == 3306


async def test_a_config_invalid_for_the_kind_is_refused() -> None:
    state, connection_id = await folded()
    result = await update(state, connection_id, {"config": {"host": "db.internal", "port": 0}})
    assert isinstance(result, Rejection)
    assert result.reason is Reason.INVALID_CONFIG


async def test_the_stored_config_is_checked_against_a_new_kind() -> None:
    """Without a config, the stored one is validated (for a same-kind update, it passes)."""
    state, connection_id = await folded()
    result = await update(state, connection_id, {"description": "only words"})
    assert isinstance(result, Accepted)
    (event,) = result.events
    assert event.changed == ["description"]


async def test_an_auth_method_the_kind_does_not_offer_is_refused() -> None:
    state, connection_id = await folded()
    result = await update(state, connection_id, {"auth": {"method": "bearer"}})
    assert isinstance(result, Rejection)
    assert result.reason is Reason.AUTH_NOT_ALLOWED


async def test_the_stored_auth_is_kept_without_a_new_one() -> None:
    state, connection_id = await folded()
    result = await update(state, connection_id, {"config": {**state.config, "database": "b"}})
    assert isinstance(result, Accepted)
    (event,) = result.events
    assert event.changed == ["config"]
    assert result.new_data_key is None
    assert not result.destroy_data_key


async def test_new_secrets_get_the_next_secrets_version_and_a_new_data_key() -> None:
    state, connection_id = await folded()
    payload = {"secrets": secrets({"password": "pw-2"}, connection_id)}
    result = await update(state, connection_id, payload)
    assert isinstance(result, Accepted)
    assert result.new_data_key is not None
    assert not result.destroy_data_key
    (event,) = result.events
    assert event.changed == ["secrets"]
    assert event.secrets is not None
    assert event.secrets.secrets_version == 2
    data_key = KEYRING.unwrap(result.new_data_key, connection_id)
    assert decrypt_secrets(data_key, event.secrets, connection_id) == {"password": "pw-2"}


async def test_new_secrets_are_checked_like_a_rotation() -> None:
    state, connection_id = await folded()
    wrong = {"secrets": secrets({"token": "t"}, connection_id)}
    result = await update(state, connection_id, wrong)
    assert isinstance(result, Rejection)
    assert result.reason is Reason.INVALID_SECRETS
    plaintext = {"secrets": {"plaintext": {"password": "pw-2"}}}
    refused = await update(state, connection_id, plaintext)
    assert isinstance(refused, Rejection)
    assert refused.reason is Reason.PLAINTEXT_NOT_ALLOWED


async def test_plaintext_secrets_are_taken_where_the_deployment_allows_them() -> None:
    state, connection_id = await folded()
    payload = {"secrets": {"plaintext": {"password": "pw-2"}}}
    result = await update(state, connection_id, payload, allow_plaintext=True)
    assert isinstance(result, Accepted)
    assert result.new_data_key is not None
    (event,) = result.events
    assert event.secrets is not None
    data_key = KEYRING.unwrap(result.new_data_key, connection_id)
    assert decrypt_secrets(data_key, event.secrets, connection_id) == {"password": "pw-2"}


async def test_a_rotation_takes_plaintext_where_allowed() -> None:
    planner = make_planner(allow_plaintext=True)
    connection_id = await created(planner)
    document = command("rotate", connection_id, {"secrets": {"plaintext": {"password": "p3"}}})
    outcome = await outcome_of(planner, document)
    assert (outcome.outcome, outcome.version) == ("accepted", 2)
    assert plain(planner, connection_id) == {"password": "p3"}


async def test_moving_the_stored_secret_without_sending_it_is_refused_field_by_field() -> None:
    state, connection_id = await folded()
    config = {**state.config, "host": "db2.internal", "port": 6432}
    result = await update(state, connection_id, {"config": config})
    assert result == Rejection(
        Reason.SECRETS_REQUIRED,
        "where or how the secrets are sent changed: send the secrets again, "
        "stored secrets are never sent to a new target or over a weaker channel",
        [
            FieldError(field="payload.secrets", message="is required"),
            FieldError(field="payload.config.host", message="moves the stored secrets"),
            FieldError(field="payload.config.port", message="moves the stored secrets"),
        ],
    )


async def test_an_auth_without_secrets_drops_the_stored_ones_and_their_key() -> None:
    state, connection_id = await folded()
    result = await update(state, connection_id, {"auth": {"method": "none"}})
    assert isinstance(result, Accepted)
    assert result.destroy_data_key
    assert result.new_data_key is None
    (event,) = result.events
    assert event.changed == ["auth", "secrets"]
    assert event.secrets is None


async def test_a_connection_without_secrets_needs_them_for_an_auth_that_does() -> None:
    state, connection_id = await folded(auth={"method": "none"}, secrets=None)
    assert state.secrets is None
    result = await update(state, connection_id, {"auth": {"method": "basic", "username": "u"}})
    assert result == Rejection(
        Reason.SECRETS_REQUIRED,
        "auth method basic needs other secrets",
        [FieldError(field="payload.secrets", message="is required")],
    )


async def test_a_connection_without_secrets_changes_freely_without_them() -> None:
    state, connection_id = await folded(auth={"method": "none"}, secrets=None)
    result = await update(state, connection_id, {"config": {**state.config, "host": "h2"}})
    assert isinstance(result, Accepted)
    assert not result.destroy_data_key
    (event,) = result.events
    assert event.changed == ["config"]


async def test_an_update_changing_nothing_is_accepted_with_a_note() -> None:
    state, connection_id = await folded()
    payload = {
        "name": state.name,
        "kind": "postgres",
        "config": state.config,
        "auth": state.auth,
        "tags": list(state.tags),
        "description": state.description,
        "health_check": state.health_check,
    }
    result = await update(state, connection_id, payload)
    assert result == Accepted(events=[], notes=["nothing changed"])


async def test_the_same_health_check_with_dependencies_is_no_change() -> None:
    """The payload's settings are compared as their stored JSON (UUIDs as text)."""
    check = {"enabled": True, "depends_on": [new_id()], "interval_s": 30}
    state, connection_id = await folded(health_check=check)
    result = await update(state, connection_id, {"health_check": check})
    assert result == Accepted(events=[], notes=["nothing changed"])
    changed = await update(state, connection_id, {"health_check": {**check, "interval_s": 31}})
    assert isinstance(changed, Accepted)
    (event,) = changed.events
    assert event.changed == ["health_check"]


async def test_tags_are_deduplicated_in_order() -> None:
    state, connection_id = await folded()
    result = await update(state, connection_id, {"tags": ["b", "a", "b"]})
    assert isinstance(result, Accepted)
    (event,) = result.events
    assert (event.changed, event.tags) == (["tags"], ["b", "a"])
    same = await update(state, connection_id, {"tags": ["prod", "prod"]})
    assert same == Accepted(events=[], notes=["nothing changed"])


async def test_name_and_description_change_alone() -> None:
    state, connection_id = await folded()
    result = await update(state, connection_id, {"name": "n2", "description": "d2"})
    assert isinstance(result, Accepted)
    (event,) = result.events
    assert (event.changed, event.name, event.description) == (
        ["description", "name"],
        "n2",
        "d2",
    )


# --- a webhook's optional signing secret: the kind decides which secrets fit -----------

WEBHOOK = {
    "name": "hook",
    "kind": "webhook",
    "config": {"url": "https://hooks.example.com/in"},
    "auth": {"method": "bearer"},
}
SIGNED = {"token": "tk-1", "signing_secret": "sig-1"}


async def webhook(planner: Planner) -> str:
    connection_id = new_id()
    payload = {**WEBHOOK, "secrets": secrets(SIGNED, connection_id)}
    outcome = await outcome_of(planner, command("create", connection_id, payload))
    assert outcome.outcome == "accepted", outcome
    return connection_id


@pytest.mark.parametrize("verb", ["rotate", "update"])
async def test_new_webhook_secrets_may_carry_a_signing_secret(verb: str) -> None:
    planner = make_planner()
    connection_id = await webhook(planner)
    new = {"token": "tk-2", "signing_secret": "sig-2"}
    document = command(verb, connection_id, {"secrets": secrets(new, connection_id)})
    outcome = await outcome_of(planner, document)
    assert (outcome.outcome, outcome.version) == ("accepted", 2), outcome
    assert plain(planner, connection_id) == new


async def test_a_webhook_keeps_its_signing_secret_through_a_harmless_update() -> None:
    planner = make_planner()
    connection_id = await webhook(planner)
    document = command("update", connection_id, {"description": "signed hook"})
    outcome = await outcome_of(planner, document)
    assert (outcome.outcome, outcome.version) == ("accepted", 2), outcome
    assert plain(planner, connection_id) == SIGNED


async def test_a_signing_secret_does_not_fit_another_kind() -> None:
    planner = make_planner()
    connection_id = new_id()
    payload = {**WEBHOOK, "kind": "http", "config": {"base_url": "https://api.example.com"}}
    outcome = await outcome_of(
        planner,
        command("create", connection_id, {**payload, "secrets": secrets(SIGNED, connection_id)}),
    )
    assert (outcome.outcome, outcome.reason) == ("rejected", "invalid_secrets")
