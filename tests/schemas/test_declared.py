"""The connections file: its fields, the refusals that name the field, its fixed text."""

from __future__ import annotations

import json

import pytest
from jsonschema import Draft202012Validator

from connmgr.schemas.declared.connection import DeclaredConnection
from connmgr.schemas.declared.file import DeclaredFile
from connmgr.schemas.declared.health_check import DeclaredHealthCheck
from connmgr.schemas.declared.source import DEFAULT_SOURCE
from connmgr.schemas.declared.text import DeclaredFileError, dump_declared, load_declared
from connmgr.schemas.health import HealthCheckSettings
from connmgr.schemas.json_schema import json_schema
from connmgr.schemas.secret_references import SecretReference, placeholder_reference

ORDERS = """\
version: 1
source: platform/prod
connections:
  - name: orders-db
    kind: postgres
    config: {host: db.internal, database: orders}
    auth: {method: basic, username: app}
    secrets: {password: "env:ORDERS_DB_PASSWORD"}
    health_check: {enabled: true, interval_s: 30}
    depends_on: [core-api]
    tags: [team:orders]
  - name: core-api
    kind: http
    config: {base_url: "https://api.internal"}
    auth: {method: bearer}
    secrets: {token: "file:/run/secrets/api-token"}
"""


def _problems(text: str) -> list[str]:
    with pytest.raises(DeclaredFileError) as caught:
        load_declared(text)
    return caught.value.problems


def _one(connection: str) -> str:
    return f"version: 1\nconnections:\n  - {connection}\n"


def test_a_file_loads_with_its_connections_by_name() -> None:
    declared = load_declared(ORDERS)

    assert declared.source == "platform/prod"
    assert declared.marker == "managed-by:platform/prod"
    orders = declared.by_name()["orders-db"]
    assert orders.secrets == {"password": "env:ORDERS_DB_PASSWORD"}
    assert orders.depends_on == ("core-api",)
    assert orders.health_check.interval_s == 30
    assert orders.normalized_config() == {
        "ca_pem": None,
        "server_name": None,
        "host": "db.internal",
        "port": 5432,
        "database": "orders",
        "ssl": "verify-full",
        "schema": None,
    }


def test_json_is_read_like_yaml() -> None:
    document = {"version": 1, "connections": [{"name": "c", "kind": "tcp", "config": {}}]}
    document["connections"][0]["config"] = {"host": "h.example", "port": 22}

    declared = load_declared(json.dumps(document))

    assert declared.source == DEFAULT_SOURCE
    assert declared.connections[0].config == {"host": "h.example", "port": 22}


@pytest.mark.parametrize(
    ("entry", "field"),
    [
        ('{name: a, kind: redis, config: {host: r}, secrets: {password: hunter2}}',
         "connections[0].secrets.password"),
        ('{name: a, kind: redis, config: {host: r}, secrets: {password: "env:"}}',
         "connections[0].secrets.password"),
        ('{name: a, kind: redis, config: {host: r, password: hunter2}}', "config.password"),
        ('{name: a, kind: postgres, config: {host: p, database: d},'
         ' auth: {method: basic, username: u, password: hunter2}}', "auth.password"),
        ('{name: a, kind: http, config: {base_url: "https://x.example",'
         ' headers: {Authorization: "Bearer hunter2"}}}', "config.headers.Authorization"),
    ],
)  # fmt: skip
def test_a_literal_secret_is_refused_naming_its_field_never_its_value(
    entry: str, field: str
) -> None:
    problems = _problems(_one(entry))

    assert any(field in line for line in problems), problems
    assert "hunter2" not in "\n".join(problems)


def test_each_reference_form_parses() -> None:
    assert SecretReference.parse("env:PG_PASS") == SecretReference("env", "PG_PASS")
    assert SecretReference.parse("file:/run/s/pg") == SecretReference("file", "/run/s/pg")
    assert SecretReference.parse("prompt") == SecretReference("prompt")
    with pytest.raises(ValueError, match="reference"):
        SecretReference.parse("vault:x")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("version: 1\nconnections:\n  - {name: a, kind: tcp, config: {host: h, port: 1}}\n"
         "  - {name: a, kind: tcp, config: {host: h, port: 2}}\n",
         "connections[1].name: the name of connections[0] again"),
        (_one("{name: a, kind: tcp, config: {host: h, port: 1}, tags: [managed-by:x]}"),
         "managed-by: tags are set by apply"),
        (_one("{name: a, kind: tcp, config: {host: h, port: 1}, depends_on: [a]}"),
         "depends_on: names the connection itself"),
        (_one("{name: a, kind: tcp, config: {host: h}}"), "config.port: Field required"),
        (_one("{name: a, kind: ftp}"), "connections[0].kind"),
        (_one("{name: a, kind: redis, config: {host: r}, auth: {method: basic, username: u}}"),
         "secrets: needs a reference for password"),
        (_one("{name: a, kind: tcp, config: {host: h, port: 1}, secrets: {token: prompt}}"),
         "secrets.token: not a secret of auth method none"),
        ("version: 1\ntenant: other\nconnections: []\n", "tenant: Extra inputs"),
        ("version: 2\nconnections: []\n", "version"),
        ("- a\n", "must hold a mapping"),
        ("version: [1\n", "not valid YAML or JSON at line"),
    ],
)  # fmt: skip
def test_a_bad_file_is_refused_with_the_field_and_the_reason(text: str, expected: str) -> None:
    assert any(expected in line for line in _problems(text)), _problems(text)


def test_a_health_check_takes_dependencies_by_name_only() -> None:
    settings = HealthCheckSettings.model_json_schema()["properties"]
    del settings["depends_on"]
    declared = DeclaredHealthCheck.model_json_schema()["properties"]
    # The same fields, types, bounds and defaults as the settings a command carries, but
    # ``enabled``: a command's checks are on by default (issue 14), a file's stay off
    # unless it says so (docs/decisions.md, "A file's health checks are off by default").
    assert declared["enabled"]["default"] is False
    assert settings["enabled"]["default"] is True
    assert {**declared, "enabled": settings["enabled"]} == settings
    problems = _problems(
        _one("{name: a, kind: tcp, config: {host: h, port: 1}, health_check: {depends_on: [x]}}")
    )
    assert any("health_check.depends_on" in line for line in problems)


def test_the_text_export_writes_is_fixed() -> None:
    connection = DeclaredConnection.model_validate(
        {
            "name": "Orders DB",
            "kind": "redis",
            "config": {"host": "r.internal", "port": 6380},
            "auth": {"method": "basic", "username": "app"},
            "secrets": {"password": placeholder_reference("Orders DB", "password")},
            "tags": ["team:orders"],
        }
    )
    declared = DeclaredFile(source="export", connections=[connection])

    assert dump_declared(declared) == (
        "version: 1\n"
        "source: export\n"
        "connections:\n"
        "- name: Orders DB\n"
        "  kind: redis\n"
        "  config:\n"
        "    host: r.internal\n"
        "    port: 6380\n"
        "  auth:\n"
        "    method: basic\n"
        "    username: app\n"
        "  secrets:\n"
        "    password: env:CONNMGR_SECRET_ORDERS_DB_PASSWORD\n"
        "  tags:\n"
        "  - team:orders\n"
    )
    assert load_declared(dump_declared(declared)) == declared
    assert load_declared(dump_declared(declared, as_json=True)) == declared


def test_the_published_schema_takes_a_good_file_and_refuses_a_literal_secret() -> None:
    validator = Draft202012Validator(json_schema("DeclaredFile"))
    good = load_declared(ORDERS).model_dump(mode="json")
    assert not list(validator.iter_errors(good))

    bad = json.loads(json.dumps(good))
    bad["connections"][0]["secrets"]["password"] = "hunter2"
    bad["tenant"] = "other"
    assert len(list(validator.iter_errors(bad))) >= 2
