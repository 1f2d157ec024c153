"""The event types are declared once (``EventData``): the registry, the stored type
names and every name another module routes on agree with that one list."""

from __future__ import annotations

from typing import get_args

import pytest

from connmgr.schemas import events
from connmgr.schemas.bus.consumers import NOTIFIER_EVENT_TYPES
from connmgr.schemas.events import EVENT_TYPES, EventData, event_type_of
from connmgr.schemas.stored_events import decode_event_data
from connmgr.storage.projection import FOLDS


def _event_models() -> set[type]:
    """Every concrete event model defined in ``schemas.events`` (subclasses of the base)."""
    found: set[type] = set()
    pending = list(events._EventData.__subclasses__())
    while pending:
        model = pending.pop()
        found.add(model)
        pending.extend(model.__subclasses__())
    return found


def test_every_event_model_is_in_the_one_declaration_and_the_registry() -> None:
    declared = set(get_args(EventData))

    assert declared == _event_models()
    assert set(EVENT_TYPES.values()) == declared
    assert len(EVENT_TYPES) == len(get_args(EventData))


def test_a_stored_type_name_is_its_model_name_both_ways() -> None:
    for name, model in EVENT_TYPES.items():
        assert model.__name__ == name
    notification = EVENT_TYPES["NotificationFailed"]
    assert notification is events.NotificationFailed
    rotated = events.SecretsRotated.model_validate(
        {"secrets": {"secrets_version": 2, "field_names": [], "nonce": "n", "ciphertext": "c"}}
    )
    assert event_type_of(rotated) == "SecretsRotated"
    assert type(decode_event_data("SecretsRotated", rotated.model_dump(mode="json"))) is (
        events.SecretsRotated
    )


def test_the_notification_events_are_registered_and_decode() -> None:
    sent = {
        "alert_event_id": "5f1f7c36-1111-4a6b-9a51-000000000001",
        "alert_id": "5f1f7c36-3333-4a6b-9a51-000000000003",
        "alert_type": "AlertRaised",
        "connection_id": "5f1f7c36-2222-4a6b-9a51-000000000002",
        "channel_id": "5f1f7c36-4444-4a6b-9a51-000000000004",
        "channel_format": "email",
        "attempts": 1,
        "sent_at": "2026-01-01T00:00:00Z",
    }

    decoded = decode_event_data("NotificationSent", sent)

    assert isinstance(decoded, events.NotificationSent)
    assert decoded.attempts == 1


def test_the_registry_cannot_be_changed_at_run_time() -> None:
    with pytest.raises(TypeError):
        EVENT_TYPES["Forged"] = events.SecretsRotated  # type: ignore[index]
    assert "Forged" not in EVENT_TYPES


def test_every_type_name_routed_on_elsewhere_is_a_registered_event() -> None:
    assert set(FOLDS) <= set(EVENT_TYPES)
    assert set(NOTIFIER_EVENT_TYPES) <= set(EVENT_TYPES)
