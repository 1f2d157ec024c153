"""An Uptime Kuma backup's monitors to connmgr connections with health checks."""

from __future__ import annotations

import json

import pytest
from importer_fixtures import by_name, fixture_text

from connmgr.producers.importers import uptime_kuma
from connmgr.producers.importers.entries import Conversion
from connmgr.producers.importers.errors import ImportFailed


@pytest.fixture(scope="module")
def conversion() -> Conversion:
    return uptime_kuma.convert(fixture_text("uptime_kuma_backup.json"))


def test_each_mapped_monitor_type_becomes_a_connection_of_its_kind(conversion: Conversion) -> None:
    assert {name: c.kind.value for name, c in by_name(conversion).items()} == {
        "Shop front": "http",
        "Status API": "http",
        "Payments OAuth": "http",
        "SSH bastion #4": "tcp",
        "SSH bastion #12": "tcp",
        "Orders DB": "postgres",
        "Billing MySQL": "mysql",
        "Events Mongo": "mongodb",
        "Cache Redis": "redis",
    }


def test_the_health_check_keeps_interval_retries_timeout_and_active(
    conversion: Conversion,
) -> None:
    found = by_name(conversion)

    assert found["Shop front"].health_check == {
        "enabled": True,
        "interval_s": 60,
        "failure_threshold": 3,
        "timeout_s": 48,
    }
    assert found["Status API"].health_check == {
        "enabled": False,
        "interval_s": 120,
        "failure_threshold": 5,
        "timeout_s": 20,
    }
    assert found["Payments OAuth"].health_check["timeout_s"] == 60
    assert found["SSH bastion #4"].config == {"host": "bastion.example.com", "port": 22}


def test_http_monitors_keep_their_request_expectations_and_logins(conversion: Conversion) -> None:
    found = by_name(conversion)

    shop, status, payments = found["Shop front"], found["Status API"], found["Payments OAuth"]
    assert shop.config == {
        "base_url": "https://shop.example.com",
        "test": {"method": "GET", "path": "/health?full=1", "expected_status": 200},
    }
    assert shop.auth == {"method": "basic", "username": "monitor"}
    assert shop.secrets["password"].get_secret_value() == "Ku-basic-5d7f9b1c3e8a"
    assert shop.tags == ("env:prod",)
    assert status.config["test"]["body_contains"] == "operational"
    assert status.config["headers"] == {"Accept": "application/json"}
    assert status.secrets["token"].get_secret_value() == "ku-tok-8a0c2e4b6d9f1h3j"
    assert payments.auth == {
        "method": "oauth2",
        "token_url": "https://auth.example.com/oauth/token",
        "client_id": "kuma-monitor",
        "scopes": ["read:health", "ping"],
    }
    assert payments.config["test"] == {"method": "HEAD", "path": "/ping", "expected_status": 204}
    assert payments.secrets["client_secret"].get_secret_value() == "Ku-oauth-2b4d6f8a0c5e"


def test_database_monitors_are_read_from_their_connection_strings(conversion: Conversion) -> None:
    found = by_name(conversion)

    assert found["Orders DB"].config == {
        "host": "orders.db.internal",
        "port": 5432,
        "database": "orders",
        "ssl": "require",
    }
    assert found["Orders DB"].secrets["password"].get_secret_value() == "Ku-pg-7c9e1a3b5d0f"
    assert found["Events Mongo"].config["auth_source"] == "admin"
    assert found["Events Mongo"].config["tls"] is True
    assert found["Cache Redis"].config == {
        "host": "cache.redis.internal",
        "port": 6380,
        "db": 1,
        "tls": True,
    }
    assert found["Cache Redis"].health_check["failure_threshold"] == 1


def test_dns_and_other_unmappable_monitors_are_skipped_one_line_each(
    conversion: Conversion,
) -> None:
    assert [item.line() for item in conversion.skipped] == [
        "skipped uptime-kuma:Resolver: DNS monitors have no connmgr kind: connmgr checks "
        "connections",
        "skipped uptime-kuma:Gateway ping: monitor type 'ping' has no connmgr kind",
        "skipped uptime-kuma:No maintenance banner: an inverted keyword (absent means up) has "
        "no connmgr expectation",
    ]
    assert "note uptime-kuma:Status API: ignoreTls not kept: connmgr always verifies TLS" in (
        conversion.report_lines()
    )


@pytest.mark.parametrize(
    "document",
    [[], {"version": "1.23.0"}, {"monitorList": {}}, {"monitorList": [{"id": 1}]}],
    ids=["a-list", "no-monitor-list", "monitor-list-not-a-list", "monitor-without-a-name"],
)
def test_a_file_that_is_not_a_kuma_backup_fails_whole(document: object) -> None:
    with pytest.raises(ImportFailed) as failed:
        uptime_kuma.convert(json.dumps(document))

    assert failed.value.reason in ("input_not_recognised", "input_malformed")


def test_a_monitor_url_with_credentials_and_an_authorization_header_is_skipped() -> None:
    monitor = {
        "id": 1,
        "name": "two logins",
        "type": "http",
        "url": "https://user:Pw-in-url-0a1b2c3d@example.com/",
        "headers": '{"Authorization": "Bearer Tk-in-header-4e5f6a7b"}',
        "interval": 60,
    }

    conversion = uptime_kuma.convert(json.dumps({"monitorList": [monitor]}))

    assert conversion.skipped[0].reason == (
        "credentials both in the URL and in headers; connmgr keeps one auth"
    )


def test_an_mtls_monitor_keeps_its_certificate_and_key_as_secrets_and_its_ca_as_config() -> None:
    ca = "-----BEGIN CERTIFICATE-----\nMIIBca\n-----END CERTIFICATE-----\n"
    cert = "-----BEGIN CERTIFICATE-----\nMIIBcert\n-----END CERTIFICATE-----\n"
    key = "-----BEGIN PRIVATE KEY-----\nMIIEkey\n-----END PRIVATE KEY-----\n"
    monitor = {"id": 1, "name": "mtls", "type": "http", "url": "https://m.example.com/",
               "authMethod": "mtls", "tlsCa": ca, "tlsCert": cert, "tlsKey": key}  # fmt: skip

    found = uptime_kuma.convert(json.dumps({"monitorList": [monitor]})).connections[0]

    assert found.auth == {"method": "mtls"}
    assert found.config["ca_pem"] == ca
    assert {name: value.get_secret_value() for name, value in found.secrets.items()} == {
        "client_cert_pem": cert,
        "client_key_pem": key,
    }


def test_credentials_in_a_monitor_url_become_basic_auth_and_leave_the_base_url() -> None:
    monitor = {"id": 1, "name": "userinfo", "type": "http",
               "url": "https://ops:Url-pass-3c4d5e6f@m.example.com:8443/ping"}  # fmt: skip

    found = uptime_kuma.convert(json.dumps({"monitorList": [monitor]})).connections[0]

    assert found.config["base_url"] == "https://m.example.com:8443"
    assert found.auth == {"method": "basic", "username": "ops"}
    assert found.secrets["password"].get_secret_value() == "Url-pass-3c4d5e6f"
