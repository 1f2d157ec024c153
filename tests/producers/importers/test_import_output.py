"""The connections file an import makes: unique env names, unique connection names."""

from __future__ import annotations

from connmgr.producers.importers import airflow, gatus, uptime_kuma
from connmgr.producers.importers.output import declared_file


def test_names_that_give_the_same_variable_get_numbered_references() -> None:
    text = (
        "orders-db=postgres://app:Pw-one-1a2b3c4d5e@db1.example.com/orders\n"
        "orders_db=postgres://app:Pw-two-6f7a8b9c0d@db2.example.com/orders\n"
    )

    imported = declared_file(airflow.convert(text, "env"), "airflow")

    references = {c.name: c.secrets["password"] for c in imported.declared.connections}
    assert references == {
        "orders-db": "env:CONNMGR_SECRET_ORDERS_DB_PASSWORD",
        "orders_db": "env:CONNMGR_SECRET_ORDERS_DB_PASSWORD_2",
    }
    values = {name: v.get_secret_value() for name, v in imported.secret_environment.items()}
    assert values == {
        "CONNMGR_SECRET_ORDERS_DB_PASSWORD": "Pw-one-1a2b3c4d5e",
        "CONNMGR_SECRET_ORDERS_DB_PASSWORD_2": "Pw-two-6f7a8b9c0d",
    }
    assert imported.environment_names() == list(values)


def test_a_second_entry_with_an_earlier_name_is_skipped_and_the_first_kept() -> None:
    text = (
        "endpoints:\n"
        "  - {name: api, url: 'https://one.example.com/'}\n"
        "  - {name: api, url: 'https://two.example.com/'}\n"
    )

    conversion = gatus.convert(text)

    assert [c.config["base_url"] for c in conversion.connections] == ["https://one.example.com"]
    assert [item.line() for item in conversion.skipped] == [
        "skipped gatus:api: an earlier entry has the same name"
    ]


def test_a_peer_tag_that_looks_like_the_managed_by_marker_is_dropped_with_a_note() -> None:
    text = (
        '{"monitorList": [{"id": 1, "name": "db", "type": "port", "hostname": "h.example.com",'
        ' "port": 5432, "tags": [{"name": "managed-by", "value": "someone"}, {"name": "team"}]}]}'
    )

    conversion = uptime_kuma.convert(text)

    assert conversion.connections[0].tags == ("team",)
    assert [note.reason for note in conversion.notes] == [
        "dropped a managed-by: tag: apply sets that marker itself"
    ]
