"""The upcasting hook (``schemas.upcasting``): how steps chain, what they never do, and
the first real step: version-1 ``notify_to:`` lines read as the ``notify`` field."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from connmgr.schemas import events
from connmgr.schemas.events import EVENT_TYPES
from connmgr.schemas.stored_events import FutureSchemaVersion, decode_as, decode_event_data
from connmgr.schemas.upcasting import UPCASTERS, Document, Upcaster, schema_version_of, upcast
from support.legacy_events import LEGACY_DESCRIPTION, smtp_created_v1, updated_v1


def _renamed(document: Document) -> Document:
    document["label"] = document.pop("name", "")
    return document


def _defaulted(document: Document) -> Document:
    return {**document, "size": document.get("size", 0)}


STEPS: dict[tuple[str, int], Upcaster] = {("Sample", 1): _renamed, ("Sample", 2): _defaulted}


def test_steps_chain_from_the_stored_version_and_each_stamps_its_version() -> None:
    stored = {"schema_version": 1, "name": "orders"}

    assert upcast("Sample", stored, STEPS) == {"schema_version": 3, "label": "orders", "size": 0}
    assert upcast("Sample", {"schema_version": 2, "label": "x"}, STEPS) == {
        "schema_version": 3,
        "label": "x",
        "size": 0,
    }


def test_the_stored_document_is_never_changed() -> None:
    stored: dict[str, Any] = {"schema_version": 1, "name": "orders"}

    upcast("Sample", stored, STEPS)

    assert stored == {"schema_version": 1, "name": "orders"}


def test_a_document_without_a_version_is_at_version_one() -> None:
    assert schema_version_of({}) == 1
    assert schema_version_of({"schema_version": "2"}) == 1
    assert schema_version_of({"schema_version": True}) == 1
    assert upcast("Sample", {"name": "a"}, STEPS)["schema_version"] == 3


def test_other_types_and_current_versions_pass_unchanged() -> None:
    assert upcast("Other", {"name": "a"}, STEPS) == {"name": "a"}
    assert upcast("Sample", {"schema_version": 3, "label": "a"}, STEPS) == {
        "schema_version": 3,
        "label": "a",
    }


def test_every_registered_step_leads_to_a_model_version_that_exists() -> None:
    for event_type, version in UPCASTERS:
        model = EVENT_TYPES[event_type]
        assert 1 <= version < model.model_fields["schema_version"].default


def test_every_model_has_a_step_from_each_of_its_older_versions() -> None:
    for name, model in EVENT_TYPES.items():
        current = model.model_fields["schema_version"].default
        assert [(name, v) for v in range(1, current) if (name, v) not in UPCASTERS] == []


def test_a_document_newer_than_its_model_is_refused_not_guessed() -> None:
    newer = {"schema_version": 99, "reason": "gone", "data_key_destroyed": True}

    with pytest.raises(FutureSchemaVersion):
        decode_as(events.ConnectionDeleted, newer)


def test_decoding_still_validates_and_names_unknown_types() -> None:
    with pytest.raises(ValidationError):
        decode_as(events.ConnectionDeleted, {"schema_version": 1, "unknown": 1})
    with pytest.raises(KeyError):
        decode_event_data("NoSuchEvent", {})


# --- ConnectionCreated / ConnectionUpdated 1 -> 2: notify_to lines become ``notify`` ---


def test_a_version_1_create_reads_its_notify_to_lines_as_the_notify_field() -> None:
    stored = smtp_created_v1(LEGACY_DESCRIPTION)

    created = decode_as(events.ConnectionCreated, stored)

    assert created.schema_version == 2
    assert created.notify == {
        "recipients": ["ops@example.com", "oncall@example.com", "evil@example.com"],
        "sender": "alerts@example.com",
    }
    assert created.description == LEGACY_DESCRIPTION  # the text itself is the user's
    assert created.config == stored["config"]
    assert "notify" not in stored


def test_the_upcast_create_has_a_known_form() -> None:
    stored = smtp_created_v1("notify_to: Ops@Example.COM\nnotify_from: a@b")

    assert upcast("ConnectionCreated", stored) == {
        **stored,
        "schema_version": 2,
        "notify": {"recipients": ["Ops@example.com"], "sender": None},
    }


@pytest.mark.parametrize(
    "description",
    ["", "no directives here", "notify_to:", "notify_to: a@b, nobody", "notify_to ops@example.com"],
)
def test_a_version_1_create_without_usable_directives_gets_no_notify(description: str) -> None:
    created = decode_as(events.ConnectionCreated, smtp_created_v1(description))

    assert (created.schema_version, created.notify) == (2, None)


def test_a_version_1_create_without_a_schema_version_is_read_as_version_1() -> None:
    stored = smtp_created_v1("notify_to: ops@example.com")
    del stored["schema_version"]

    assert decode_as(events.ConnectionCreated, stored).notify == {
        "recipients": ["ops@example.com"],
        "sender": None,
    }


def test_at_most_twenty_legacy_recipients_are_carried_over() -> None:
    lines = "\n".join(f"notify_to: user{n}@example.com" for n in range(25))

    notify = decode_as(events.ConnectionCreated, smtp_created_v1(lines)).notify

    assert notify is not None
    assert notify["recipients"] == [f"user{n}@example.com" for n in range(20)]


def test_a_version_1_update_of_the_description_sets_notify_and_says_so() -> None:
    changed = updated_v1({"description": "notify_to: ops@example.com", "tags": ["notify"]})

    updated = decode_as(events.ConnectionUpdated, changed)

    assert updated.changed == ["description", "notify", "tags"]
    assert updated.notify == {"recipients": ["ops@example.com"], "sender": None}


def test_a_version_1_update_that_dropped_the_lines_clears_notify() -> None:
    updated = decode_as(events.ConnectionUpdated, updated_v1({"description": "retired"}))

    assert updated.changed == ["description", "notify"]
    assert updated.notify is None


def test_a_version_1_update_without_a_description_leaves_notify_alone() -> None:
    config = {"host": "mx.example.com", "port": 25, "security": "none"}
    updated = decode_as(events.ConnectionUpdated, updated_v1({"config": config}))

    assert (updated.schema_version, updated.changed, updated.notify) == (2, ["config"], None)


def test_what_the_encryptor_writes_today_reads_back_unchanged() -> None:
    written = events.ConnectionUpdated(
        changed=["description", "notify"],
        description="notify_to: spy@example.com",
        notify={"recipients": ["ops@example.com"], "sender": None},
    ).model_dump(mode="json")

    assert upcast("ConnectionUpdated", written) == written
    assert decode_as(events.ConnectionUpdated, written).notify == written["notify"]


def test_an_unreadable_version_1_document_is_left_to_validation() -> None:
    for odd in ({"description": 7}, {"changed": "description"}, {}):
        assert upcast("ConnectionCreated", odd)["schema_version"] == 2
        assert upcast("ConnectionUpdated", odd)["schema_version"] == 2
    with pytest.raises(ValidationError):
        decode_as(events.ConnectionCreated, {"description": 7})
