"""The one JSON Schema generator: standalone 2020-12 documents that agree with the models."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey
from jsonschema import Draft202012Validator, ValidationError
from pydantic import SecretStr

from connmgr.schemas.commands import CreateConnection
from connmgr.schemas.connection_spec import ConnectionSpec
from connmgr.schemas.events import EVENT_TYPES
from connmgr.schemas.json_schema import (
    DIALECT,
    ID_PREFIX,
    NAMED_SCHEMAS,
    UnknownSchema,
    json_schema,
    kind_config_schema,
    reachable,
    schema_names,
)
from connmgr.schemas.kinds import CONFIG_MODELS, Kind, parse_config
from connmgr.schemas.relayed import RELAYED_EVENTS
from connmgr.schemas.sealed import SealKeyInfo, public_key_info
from support.commands import command, postgres_payload, sealed
from support.contract import check_standalone


@pytest.mark.parametrize("name", schema_names())
def test_each_name_is_a_valid_self_contained_2020_12_document(name: str) -> None:
    document = json_schema(name)

    Draft202012Validator.check_schema(document)
    assert (document["$schema"], document["$id"]) == (DIALECT, f"{ID_PREFIX}{name}")
    defs = document.get("$defs", {})
    assert reachable(document, defs) == set(defs)  # every ref resolves, nothing unused


def test_the_names_cover_every_command_event_kind_and_the_spec() -> None:
    names = set(schema_names())
    commands = {"CreateConnection", "UpdateConnection", "RotateSecrets", "DeleteConnection"}
    assert commands | {"TestConnection", "CheckConnection", "CommandOutcome"} <= names
    assert {"ConnectionSpec", "ConnectionChanges", "SealedSecrets", "SealKeyInfo"} <= names
    assert set(EVENT_TYPES) <= names
    assert {model.__name__ for model in RELAYED_EVENTS.values()} <= names
    assert {model.__name__ for model in CONFIG_MODELS.values()} <= names
    assert set(NAMED_SCHEMAS) == names


def test_an_unknown_name_is_refused_by_name() -> None:
    with pytest.raises(UnknownSchema):
        json_schema("EncryptedSecrets")  # stored, never published: no schema
    with pytest.raises(ValueError, match="not a valid Kind"):
        kind_config_schema("ftp")


def test_a_create_the_model_takes_validates_and_one_it_refuses_does_not() -> None:
    connection_id = str(uuid.uuid4())
    key = public_key_info("seal-1", X25519PrivateKey.generate().public_key())
    secrets = sealed({"password": "pw"}, key, connection_id)
    document = command("create", connection_id, postgres_payload(secrets=secrets))
    CreateConnection.model_validate_json(json.dumps(document), strict=True)
    check_standalone("CreateConnection", document)

    for broken in (
        {**document, "surprise": 1},
        {**document, "actor": {"id": "x", "tenant": "Not A Tenant"}},
        {**document, "payload": {**document["payload"], "kind": "ftp"}},
        {**document, "payload": {**document["payload"], "auth": {"method": "ntlm"}}},
    ):
        with pytest.raises(ValidationError):
            check_standalone("CreateConnection", broken)


@pytest.mark.parametrize("kind", list(Kind))
def test_each_kind_config_schema_agrees_with_the_kind_model(kind: Kind) -> None:
    schema = kind_config_schema(kind)
    config = _minimal_config(kind)
    parse_config(kind, config)

    Draft202012Validator(schema).validate(config)
    assert list(Draft202012Validator(schema).iter_errors({**config, "dsn": "x"})) != []
    assert schema == json_schema(CONFIG_MODELS[kind].__name__)


def test_a_connection_spec_schema_marks_secrets_write_only_and_holds_no_value() -> None:
    schema = json_schema("ConnectionSpec")
    secrets = schema["properties"]["secrets"]["anyOf"][0]["additionalProperties"]
    assert secrets["writeOnly"] is True

    spec = ConnectionSpec(
        name="orders-db",
        kind=Kind.POSTGRES,
        config={"host": "db.internal", "database": "orders"},
        secrets={"password": SecretStr("Spec-Secret-71")},
    )
    as_given = {**spec.model_dump(mode="json"), "secrets": spec.secret_values()}
    Draft202012Validator(schema).validate(as_given)
    assert "Spec-Secret-71" not in json.dumps(schema)


def test_event_data_is_described_as_published_with_secret_names_only() -> None:
    created = json_schema("ConnectionCreated")
    assert "EncryptedSecrets" not in created.get("$defs", {})
    summary = created["$defs"]["SecretsSummary"]
    assert set(summary["properties"]) == {"secrets_version", "field_names"}
    assert summary["additionalProperties"] is False


def test_each_call_returns_a_fresh_copy() -> None:
    first = json_schema("SealKeyInfo")
    first["properties"].clear()
    assert json_schema("SealKeyInfo")["properties"] != {}
    assert SealKeyInfo.model_fields.keys() == {"key_id", "kem", "public_key"}


def _minimal_config(kind: Kind) -> dict[str, Any]:
    host = {"host": "db.internal"}
    return {
        Kind.POSTGRES: {**host, "database": "orders"},
        Kind.MYSQL: host,
        Kind.MONGODB: host,
        Kind.REDIS: host,
        Kind.HTTP: {"base_url": "https://api.example.com"},
        Kind.WEBHOOK: {"url": "https://hooks.example.com/x"},
        Kind.S3: {"bucket": "my-bucket"},
        Kind.SMTP: host,
        Kind.IMAP: host,
        Kind.TCP: {**host, "port": 22},
    }[kind]
