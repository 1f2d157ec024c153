"""``ConnectionSpec`` and ``ConnectionChanges``: validated, frozen, their secrets hidden."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest
from pydantic import ValidationError

from connmgr.schemas.commands import CreatePayload, UpdatePayload
from connmgr.schemas.connection_spec import (
    MAX_SECRET_FIELDS,
    ConnectionChanges,
    ConnectionSpec,
)
from connmgr.schemas.kinds import Kind
from connmgr.schemas.outcomes import field_errors
from connmgr.schemas.probe_commands import DraftTestPayload
from support.leaks import LeakChannels

PASSWORD = "pw-" + uuid.uuid4().hex
ORDERS: dict[str, Any] = {
    "name": "orders-db",
    "kind": "postgres",
    "template": "postgres-default",
    "config": {"host": "db.internal", "port": 5432, "database": "orders", "ssl": "require"},
    "auth": {"method": "basic", "username": "app"},
    "health_check": {"enabled": True, "interval_s": 30},
    "tags": ["prod", "orders"],
    "description": "the orders database",
}

# Known answer: the spec's JSON form, as connection files and HTTP bodies carry it.
SPEC_JSON = (
    '{"name":"orders-db","kind":"postgres","template":"postgres-default",'
    '"config":{"host":"db.internal","port":5432,"database":"orders","ssl":"require"},'
    '"auth":{"method":"basic","username":"app"},'
    '"health_check":{"enabled":true,"interval_s":30,"timeout_s":5,"failure_threshold":3,'
    '"recovery_threshold":2,"latency_slo_ms":null,"depends_on":[],"auth_failure_limit":3},'
    '"tags":["prod","orders"],"description":"the orders database","notify":null,'
    '"secrets":{"password":"**********"}}'
)


def test_a_spec_reads_and_writes_its_known_json_form_with_the_secrets_masked() -> None:
    spec = ConnectionSpec(**ORDERS, secrets={"password": PASSWORD})

    assert spec.model_dump_json() == SPEC_JSON
    document = json.loads(SPEC_JSON)
    document["secrets"] = {"password": PASSWORD}
    assert ConnectionSpec.model_validate_json(json.dumps(document)) == spec


def test_a_spec_makes_the_create_payload_and_the_draft_test_payload() -> None:
    spec = ConnectionSpec(**ORDERS, secrets={"password": PASSWORD})

    expected = {**ORDERS, "kind": Kind.POSTGRES}
    assert CreatePayload.model_validate(spec.payload_fields()) == CreatePayload.model_validate(
        expected
    )
    draft = DraftTestPayload.model_validate({**spec.payload_fields(), "draft": True})
    assert (
        draft.model_dump(exclude={"draft"}) == CreatePayload.model_validate(expected).model_dump()
    )
    assert "secrets" not in spec.payload_fields()
    assert spec.secret_values() == {"password": PASSWORD}
    assert ConnectionSpec(**ORDERS).secret_values() is None


def test_the_spec_shares_nothing_with_the_input_and_refuses_reassignment() -> None:
    config = {"host": "db.internal", "test": {"path": "/"}}
    tags = ["prod"]
    spec = ConnectionSpec(name="api", kind="http", config=config, tags=tags)

    config["test"]["path"] = "/changed"
    tags.append("later")
    with pytest.raises(ValidationError, match="frozen"):
        spec.name = "renamed"

    assert spec.config == {"host": "db.internal", "test": {"path": "/"}}
    assert spec.tags == ("prod",)
    assert spec.name == "api"


def test_secret_values_appear_in_no_repr_str_or_dump(leak_channels: LeakChannels) -> None:
    spec = ConnectionSpec(**ORDERS, secrets={"password": PASSWORD})
    changes = ConnectionChanges.from_spec(spec)

    assert changes.secret_values() == {"password": PASSWORD}  # held, only not shown
    leak_channels.secrets(PASSWORD)
    for name, value in (("spec", spec), ("changes", changes)):
        leak_channels.add(f"repr of the {name}", repr(value))
        leak_channels.add(f"str of the {name}", str(value))
        leak_channels.add(f"dump of the {name}", value.model_dump())
        leak_channels.add(f"JSON of the {name}", value.model_dump_json())
        leak_channels.add(f"fields of the {name}", value.payload_fields())
    leak_channels.assert_clean()


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"kind": "oracle"}, "kind"),
        ({"name": ""}, "name"),
        ({"tags": ["not a tag"]}, "tags.0"),
        ({"template": "no spaces allowed"}, "template"),
        ({"config": {"port": {1, 2}}}, "config.port"),
        ({"auth": {"method": "basic"}}, "auth.basic.username"),
        ({"secrets": {"pin": 987654}}, "secrets.pin"),
        ({"secrets": {"": "x"}}, "secrets..[key]"),
        ({"secrets": {f"s{i}": "x" for i in range(MAX_SECRET_FIELDS + 1)}}, "secrets"),
        ({"surprise": True}, "surprise"),
    ],
)
def test_invalid_input_names_the_field_and_never_the_value(
    change: dict[str, Any], field: str
) -> None:
    ConnectionSpec(**{**ORDERS, "secrets": {"pin": "987654"}})  # positive control

    with pytest.raises(ValidationError) as raised:
        ConnectionSpec(**{**ORDERS, **change})

    assert [e.field for e in field_errors(raised.value)] == [field]
    assert "987654" not in str(raised.value)
    assert "not a tag" not in str(raised.value)
    assert "no spaces allowed" not in str(raised.value)


def test_changes_send_only_the_fields_given() -> None:
    changes = ConnectionChanges(description="orders", tags=[])

    assert changes.payload_fields() == {"description": "orders", "tags": []}
    assert ConnectionChanges().payload_fields() == {}
    assert changes.secret_values() is None


def test_changes_from_a_spec_give_every_field_but_the_template() -> None:
    spec = ConnectionSpec(**ORDERS, secrets={"password": PASSWORD})

    changes = ConnectionChanges.from_spec(spec)

    payload = UpdatePayload.model_validate(changes.payload_fields())
    whole = {**ORDERS, "kind": Kind.POSTGRES}
    del whole["template"]
    assert payload == UpdatePayload.model_validate(whole)
    assert changes.secret_values() == {"password": PASSWORD}
