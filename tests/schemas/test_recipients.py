"""E-mail recipients (``schemas.recipients``): what ``notify`` takes, and how a bad
address is refused: reason ``invalid_recipients``, the field, a fixed sentence."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest
from pydantic import ValidationError

from connmgr.schemas.command_parsing import parse_encryptor_command
from connmgr.schemas.outcomes import Reason, Rejection
from connmgr.schemas.recipients import MAX_RECIPIENTS, NotifySettings, checked_address

BAD_ADDRESSES = [
    "ops",
    "ops@",
    "@example.com",
    "a@b",
    "a..b@example.com",
    "ops@example.com\r\nBcc: spy@example.com",
    "ops@example.com, spy@example.com",
    "Ops <ops@example.com>",
    '"quoted local"@example.com',
    "jö@example.com",
    "ops@[127.0.0.1]",
    "ops@localhost",
    "ops@mail.test",
    "x" * 250 + "@example.com",
]


def test_addresses_are_kept_in_the_form_every_mail_server_takes() -> None:
    settings = NotifySettings.model_validate(
        {
            "recipients": ["Ops@Example.COM", "ops@müller.de", "Ops@example.com"],
            "sender": "alerts@example.com",
        }
    )

    assert settings.recipients == ["Ops@example.com", "ops@xn--mller-kva.de"]
    assert settings.sender == "alerts@example.com"
    assert not settings.empty
    assert NotifySettings().empty


@pytest.mark.parametrize("address", BAD_ADDRESSES)
def test_a_bad_address_is_refused_with_a_fixed_sentence(address: str) -> None:
    assert checked_address(address) is None
    with pytest.raises(ValidationError) as raised:
        NotifySettings.model_validate({"recipients": ["ok@example.com", address]})

    (error,) = raised.value.errors()
    assert error["loc"][:2] == ("recipients", 1)
    assert (error["type"], error["msg"]) in (
        ("email_address", "must be an e-mail address like name@example.com"),
        ("string_too_long", "String should have at most 254 characters"),
    )


def test_at_most_twenty_recipients() -> None:
    many = [f"user{n}@example.com" for n in range(MAX_RECIPIENTS + 1)]

    assert len(NotifySettings(recipients=many[:MAX_RECIPIENTS]).recipients) == MAX_RECIPIENTS
    with pytest.raises(ValidationError):
        NotifySettings(recipients=many)


def _create(notify: Any) -> bytes:
    document = {
        "command_id": str(uuid.uuid4()),
        "connection_id": str(uuid.uuid4()),
        "type": "create",
        "issued_at": "2026-01-01T00:00:00Z",
        "actor": {"id": "ops", "tenant": "acme"},
        "payload": {"name": "mail", "kind": "smtp", "config": {"host": "mx.example.com"}},
    }
    document["payload"]["notify"] = notify
    return json.dumps(document).encode()


def test_a_command_with_a_bad_address_is_rejected_with_its_reason_and_field() -> None:
    bad = "ops@example.com\r\nBcc: spy@example.com"
    rejection = parse_encryptor_command(_create({"recipients": [bad], "sender": "nobody"}))

    assert isinstance(rejection, Rejection)
    assert rejection.reason == Reason.INVALID_RECIPIENTS
    assert [(e.field, e.code) for e in rejection.errors] == [
        ("payload.notify.recipients.0", "email_address"),
        ("payload.notify.sender", "email_address"),
    ]
    assert "spy@example.com" not in json.dumps([e.model_dump() for e in rejection.errors])


def test_a_command_with_good_addresses_parses_with_its_recipients() -> None:
    command = parse_encryptor_command(_create({"recipients": ["ops@example.com"]}))

    assert not isinstance(command, Rejection)
    assert command.payload.notify == NotifySettings(recipients=["ops@example.com"])


@pytest.mark.parametrize(
    "notify", [{"recipients": "ops@example.com"}, {"to": ["ops@example.com"]}, ["ops@example.com"]]
)
def test_a_notify_of_the_wrong_shape_is_rejected_as_invalid_recipients(notify: Any) -> None:
    rejection = parse_encryptor_command(_create(notify))

    assert isinstance(rejection, Rejection)
    assert rejection.reason == Reason.INVALID_RECIPIENTS
    assert all(e.field.startswith("payload.notify") for e in rejection.errors)
