"""A Gatus configuration's endpoints to connmgr connections; conditions as expectations."""

from __future__ import annotations

import pytest
from importer_fixtures import by_name, fixture_text

from connmgr.producers.importers import gatus
from connmgr.producers.importers.entries import Conversion
from connmgr.producers.importers.errors import ImportFailed
from connmgr.producers.importers.gatus_conditions import conditions_of


@pytest.fixture(scope="module")
def conversion() -> Conversion:
    return gatus.convert(fixture_text("gatus_config.yaml"))


def test_http_tcp_tls_and_starttls_endpoints_become_connections(conversion: Conversion) -> None:
    found = by_name(conversion)

    assert {name: c.kind.value for name, c in found.items()} == {
        "core/website": "http",
        "github-api": "http",
        "partner-api": "http",
        "core/postgres-port": "tcp",
        "ldaps": "tcp",
        "mail": "smtp",
        "paused": "http",
    }
    assert found["ldaps"].config == {"host": "ldap.example.com", "port": 636, "tls": True}
    assert found["mail"].config == {"host": "smtp.example.com", "port": 587, "security": "starttls"}
    assert found["core/postgres-port"].tags == ("group:core",)
    assert found["paused"].health_check == {"enabled": False, "interval_s": 60}


def test_mapped_conditions_become_expectations_and_thresholds_come_from_the_alert(
    conversion: Conversion,
) -> None:
    website = by_name(conversion)["core/website"]

    assert website.config == {
        "base_url": "https://twin.sh",
        "test": {
            "method": "GET",
            "path": "/health",
            "expected_status": 200,
            "json_path": "checks.0.name",
        },
    }
    assert website.health_check == {
        "enabled": True,
        "interval_s": 300,
        "failure_threshold": 4,
        "recovery_threshold": 2,
        "latency_slo_ms": 299,
    }


def test_an_env_placeholder_secret_becomes_a_reference_and_a_literal_one_a_secret(
    conversion: Conversion,
) -> None:
    found = by_name(conversion)

    github, partner = found["github-api"], found["partner-api"]
    assert github.auth == {"method": "bearer"}
    assert github.references == {"token": "env:GITHUB_TOKEN"}
    assert dict(github.secrets) == {}
    assert github.health_check == {"enabled": True, "interval_s": 90, "timeout_s": 10}
    assert github.config["test"]["body_contains"] == "rate"
    assert partner.auth == {"method": "custom_headers", "header_names": ["X-API-Key"]}
    assert partner.secrets["X-API-Key"].get_secret_value() == "Ga-key-6f8b0d2a4c1e3g5i"


def test_unmapped_endpoints_and_conditions_are_reported_one_line_each(
    conversion: Conversion,
) -> None:
    assert [item.line() for item in conversion.skipped] == [
        "skipped gatus:router: Gatus icmp endpoints have no connmgr kind",
        "skipped gatus:dns-answer: Gatus dns endpoints have no connmgr kind",
        "skipped gatus:jobs/nightly-backup: an external endpoint is pushed to, not probed",
    ]
    notes = [note.line() for note in conversion.notes]
    assert notes[:2] == [
        "note gatus:core/website: condition 1 ([BODY]) not mapped: connmgr checks that a JSON "
        "path exists, not its value",
        "note gatus:core/website: condition 4 ([CERTIFICATE_EXPIRATION]) not mapped: no "
        "connmgr expectation for it",
    ]
    assert (
        "note gatus:partner-api: condition 0 ([STATUS]) not mapped: connmgr expects one "
        "status (== a code), not a range" in notes
    )


@pytest.mark.parametrize(
    ("condition", "test", "health"),
    [
        ("[STATUS] == 204", {"expected_status": 204}, {}),
        ("[RESPONSE_TIME] <= 750", {}, {"latency_slo_ms": 750}),
        ("[BODY] == pat(*healthy*)", {"body_contains": "healthy"}, {}),
        ("has([BODY].items[2].id) == true", {"json_path": "items.2.id"}, {}),
        ("[CONNECTED] == true", {}, {}),
    ],
)
def test_each_mappable_condition_sets_its_expectation(
    condition: str, test: dict[str, object], health: dict[str, object]
) -> None:
    found = conditions_of([condition])

    assert (found.test, found.health, found.unmapped) == (test, health, [])


@pytest.mark.parametrize(
    "condition",
    ["[STATUS] != 500", "[BODY] == pat(*a*b*)", "len([BODY].items) > 0", "[RESPONSE_TIME] > 5"],
)
def test_conditions_connmgr_cannot_express_are_reported_not_mapped(condition: str) -> None:
    found = conditions_of([condition])

    assert (found.test, found.health) == ({}, {})
    assert found.unmapped[0].startswith("condition 0")


def test_a_placeholder_in_a_non_secret_field_skips_the_endpoint() -> None:
    text = 'endpoints:\n  - name: templated\n    url: "https://${HOST}/health"\n'

    conversion = gatus.convert(text)

    assert conversion.skipped[0].reason.startswith("the url uses an environment placeholder")


@pytest.mark.parametrize(
    "text", ["- just\n- a list\n", "ui:\n  title: no endpoints\n", "endpoints:\n  - url: x\n"]
)
def test_a_file_that_is_not_a_gatus_configuration_fails_whole(text: str) -> None:
    with pytest.raises(ImportFailed):
        gatus.convert(text)
