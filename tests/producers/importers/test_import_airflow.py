"""Airflow's export files (JSON, YAML, env with URIs or JSON) to connmgr connections."""

from __future__ import annotations

import pytest
from importer_fixtures import by_name, fixture_text

from connmgr.producers.importers import airflow
from connmgr.producers.importers.entries import ImportedConnection


def _secret(connection: ImportedConnection, field: str) -> str:
    return connection.secrets[field].get_secret_value()


def test_every_mapped_conn_type_of_a_json_export_becomes_its_kind() -> None:
    found = by_name(airflow.convert(fixture_text("airflow_connections.json"), "json"))

    assert {name: c.kind.value for name, c in found.items()} == {
        "orders_db": "postgres",
        "billing_mysql": "mysql",
        "events_mongo": "mongodb",
        "cache_redis": "redis",
        "github_api": "http",
        "reports_bucket": "s3",
        "alerts_smtp": "smtp",
        "inbox_imap": "imap",
    }
    assert found["orders_db"].config == {
        "host": "orders.db.internal",
        "port": 5433,
        "database": "orders",
        "ssl": "verify-ca",
    }
    assert found["orders_db"].auth == {"method": "basic", "username": "orders_app"}
    assert found["orders_db"].description == "Orders database"
    assert _secret(found["orders_db"], "password") == "Pg-s3cret-7f3a9c1e5b2d"


def test_extras_become_typed_config_where_connmgr_has_the_field() -> None:
    found = by_name(airflow.convert(fixture_text("airflow_connections.json"), "json"))

    assert found["billing_mysql"].config["ssl"] == "require"
    assert found["events_mongo"].config == {
        "host": "events.mongo.internal",
        "port": 27017,
        "database": "events",
        "tls": True,
        "auth_source": "admin",
        "replica_set": "rs0",
    }
    assert found["cache_redis"].config == {
        "host": "cache.redis.internal",
        "port": 6380,
        "db": 2,
        "tls": True,
    }
    assert found["cache_redis"].auth == {"method": "basic", "username": "default"}
    assert found["reports_bucket"].config == {
        "bucket": "acme-reports",
        "region": "eu-west-1",
        "endpoint_url": "https://s3.eu-west-1.amazonaws.com",
    }
    assert found["alerts_smtp"].config["security"] == "starttls"
    assert found["inbox_imap"].config == {
        "host": "imap.example.com",
        "port": 993,
        "security": "implicit",
    }


def test_an_http_connection_keeps_plain_headers_and_makes_the_authorization_a_bearer_secret() -> (
    None
):
    github = by_name(airflow.convert(fixture_text("airflow_connections.json"), "json"))[
        "github_api"
    ]

    assert github.config == {
        "base_url": "https://api.github.com",
        "test": {"method": "GET", "path": "/"},
        "headers": {"Accept": "application/vnd.github+json"},
    }
    assert github.auth == {"method": "bearer"}
    assert _secret(github, "token") == "ghp_Ht7s3cretT0kenQ9x2LmZ4"


def test_types_without_a_kind_and_unmappable_options_are_skipped_one_line_each() -> None:
    conversion = airflow.convert(fixture_text("airflow_connections.json"), "json")

    assert [item.line() for item in conversion.skipped] == [
        "skipped airflow:legacy_ftp: Airflow conn_type 'ftp' has no connmgr kind",
        "skipped airflow:warehouse_gcp: Airflow conn_type 'google_cloud_platform' has no "
        "connmgr kind",
        "skipped airflow:socket_mysql: it connects through a unix socket; connmgr connects "
        "over TCP only",
        "skipped airflow:assumed_role: it assumes a role; connmgr stores an access key",
    ]
    assert "note airflow:billing_mysql: dropped option 'charset': connmgr has no field for it" in (
        conversion.report_lines()
    )


def test_the_env_export_of_uris_gives_the_same_connections_as_the_json_export() -> None:
    from_json = by_name(airflow.convert(fixture_text("airflow_connections.json"), "json"))
    from_env = by_name(airflow.convert(fixture_text("airflow_connections.env"), "env"))

    assert from_env.keys() == from_json.keys()
    for name in ("orders_db", "billing_mysql", "cache_redis", "alerts_smtp", "inbox_imap"):
        assert from_env[name].config == from_json[name].config, name
        assert from_env[name].auth == from_json[name].auth, name
        assert from_env[name].secrets.keys() == from_json[name].secrets.keys(), name
    assert _secret(from_env["alerts_smtp"], "password") == "Sm-s3cret-6c8e0a2b4d1f"
    assert from_env["alerts_smtp"].auth["username"] == "alerts@example.com"
    assert from_env["github_api"].auth == {"method": "bearer"}
    assert from_env["reports_bucket"].config == {"bucket": "acme-reports", "region": "eu-west-1"}


@pytest.mark.parametrize(
    ("fixture", "file_format"),
    [("airflow_connections.yaml", "yaml"), ("airflow_connections_json.env", "env")],
)
def test_yaml_and_json_serialised_env_exports_are_read(fixture: str, file_format: str) -> None:
    conversion = airflow.convert(fixture_text(fixture), file_format)  # type: ignore[arg-type]

    orders = by_name(conversion)["orders_db"]
    assert orders.kind.value == "postgres"
    assert orders.config["host"] == "orders.db.internal"
    assert _secret(orders, "password") == "Pg-s3cret-7f3a9c1e5b2d"
    assert [item.entry for item in conversion.skipped] == ["airflow:legacy_ftp"]


def test_a_connection_whose_config_connmgr_refuses_is_skipped_with_the_field() -> None:
    text = '{"bad": {"conn_type": "postgres", "host": "not a host!", "schema": "db"}}'

    conversion = airflow.convert(text, "json")

    assert conversion.connections == ()
    assert conversion.skipped[0].reason == (
        "invalid for connmgr: config.host: Value error, must be a hostname or an IP address"
    )


def test_a_uri_whose_host_has_its_own_protocol_keeps_it_as_the_base_url() -> None:
    text = "site=http://https://status.example.com:8443/?X-Trace=on\n"

    site = by_name(airflow.convert(text, "env"))["site"]

    assert site.config == {
        "base_url": "https://status.example.com:8443",
        "test": {"method": "GET", "path": "/"},
        "headers": {"X-Trace": "on"},
    }


def test_uris_that_are_not_one_connection_and_aws_without_keys_are_skipped() -> None:
    text = (
        "nested=http://user@https://example.com\nkeys=aws:///bucket-x\n"
        "many=postgres://a:5432,b:5432/db\nnoscheme=example.com\n"
    )

    reasons = {item.entry: item.reason for item in airflow.convert(text, "env").skipped}

    assert reasons == {
        "airflow:nested": "the URI's host protocol holds a login or a port",
        "airflow:keys": "no access key; connmgr has no instance or role credentials",
        "airflow:many": "the URI names several hosts; connmgr connects to one",
        "airflow:noscheme": "the URI is not <conn_type>://<connection>",
    }


def test_an_entry_with_a_field_of_a_type_airflow_never_writes_is_skipped_without_its_value() -> (
    None
):
    text = (
        '{"odd": {"conn_type": "aws", "schema": "b-1", "login": "AKIAODD",'
        ' "password": "Odd-s3cret-5a6b7c8d", "extra": {"service_config": "Odd-value-1a2b3c4d"}}}'
    )

    conversion = airflow.convert(text, "json")

    assert [item.line() for item in conversion.skipped] == [
        "skipped airflow:odd: a field holds a value of a type the peer does not write"
    ]
