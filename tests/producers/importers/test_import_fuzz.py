"""Any JSON-shaped input: each importer converts it or refuses it, never anything else."""

from __future__ import annotations

import json
from typing import Any

import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from connmgr.producers.importers import airflow, gatus, uptime_kuma
from connmgr.producers.importers.entries import Conversion
from connmgr.producers.importers.errors import ImportFailed

KEYS = st.sampled_from(
    [
        *("conn_type", "host", "port", "schema", "login", "password", "extra", "type"),
        *("url", "name", "headers", "interval", "maxretries", "timeout", "keyword"),
        *("accepted_statuscodes", "databaseConnectionString", "tags", "authMethod"),
        *("conditions", "client", "alerts", "group", "service_config", "db", "ssl"),
    ]
)
SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-5, 70000),
    st.sampled_from(
        ["postgres", "http", "aws", "redis", "https://h.example/x", "5m", "[STATUS] == 200"]
    ),
    st.text(max_size=12),
)
VALUES = st.recursive(
    SCALARS,
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(KEYS, inner, max_size=6)),
    max_leaves=20,
)
ENTRIES = st.dictionaries(KEYS, VALUES, max_size=10)


def _converted_or_refused(convert: Any, text: str) -> None:
    try:
        result = convert(text)
    except ImportFailed:
        return
    assert isinstance(result, Conversion)


@settings(max_examples=50, deadline=None)
@given(st.dictionaries(st.text(min_size=1, max_size=8), st.one_of(ENTRIES, SCALARS), max_size=4))
def test_any_airflow_mapping_is_converted_or_refused(document: dict[str, Any]) -> None:
    _converted_or_refused(lambda text: airflow.convert(text, "json"), json.dumps(document))


@settings(max_examples=50, deadline=None)
@given(st.lists(ENTRIES, max_size=4))
def test_any_kuma_monitor_list_is_converted_or_refused(monitors: list[dict[str, Any]]) -> None:
    document = {"monitorList": [{"name": "m", **monitor} for monitor in monitors]}
    _converted_or_refused(uptime_kuma.convert, json.dumps(document))


@settings(max_examples=50, deadline=None)
@given(st.lists(ENTRIES, max_size=4))
def test_any_gatus_endpoint_list_is_converted_or_refused(endpoints: list[dict[str, Any]]) -> None:
    document = {"endpoints": [{**endpoint, "name": "e"} for endpoint in endpoints]}
    _converted_or_refused(gatus.convert, yaml.safe_dump(document))
