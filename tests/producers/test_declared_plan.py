"""The pure halves of connections as code: the plan's diff and rules, and the export's
fixed text (the stack tests in ``tests/declared`` run them against real services)."""

from __future__ import annotations

from typing import Any

from connmgr.producers.declared_export import export_file
from connmgr.producers.declared_plan import FieldChange, make_plan
from connmgr.producers.declared_state import Existing
from connmgr.schemas.declared.text import dump_declared, load_declared

CACHE_ID = "00000000-0000-4000-8000-000000000001"
API_ID = "00000000-0000-4000-8000-000000000002"
MARKER = "managed-by:platform/prod"


def existing(name: str, connection_id: str, **fields: Any) -> Existing:
    view: dict[str, Any] = {
        "id": connection_id,
        "tenant": "acme",
        "name": name,
        "kind": "redis",
        "template": None,
        "config": {"ca_pem": None, "server_name": None, "host": "cache.internal", "port": 6379,
                   "db": 0, "tls": False},
        "auth": {"method": "basic", "username": "app"},
        "secret_fields": ["password"],
        "health_check": {"enabled": False, "interval_s": 60, "timeout_s": 5,
                         "failure_threshold": 3, "recovery_threshold": 2,
                         "latency_slo_ms": None, "depends_on": [], "auth_failure_limit": 3},
        "tags": ["team:orders", MARKER],
        "description": "",
        "notify": None,
        "version": 4,
    }  # fmt: skip
    view.update(fields)
    return Existing.from_view(view)


FILE = """\
version: 1
source: platform/prod
connections:
  - name: cache
    kind: redis
    config: {host: cache.internal}
    auth: {method: basic, username: app}
    secrets: {password: "env:PW"}
    tags: [team:orders]
"""


def test_a_file_that_matches_the_tenant_plans_nothing() -> None:
    plan = make_plan(load_declared(FILE), [existing("cache", CACHE_ID)])

    assert (plan.changes, plan.problems) == (0, [])


def test_an_update_lists_each_changed_leaf_and_resends_secrets_only_when_they_move() -> None:
    harmless = FILE.replace(
        "config: {host: cache.internal}", "config: {host: cache.internal, db: 3}"
    )
    moved = FILE.replace("cache.internal", "cache2.internal")

    (update,) = make_plan(load_declared(harmless), [existing("cache", CACHE_ID)]).updates
    assert update.changes == (FieldChange("config.db", 0, 3),)
    assert not update.resend_secrets
    (update,) = make_plan(load_declared(moved), [existing("cache", CACHE_ID)]).updates
    assert update.changes == (FieldChange("config.host", "cache.internal", "cache2.internal"),)
    assert update.resend_secrets
    assert update.existing.version == 4  # sent as expected_version


def test_new_secret_field_names_are_a_change_that_sends_them() -> None:
    (update,) = make_plan(
        load_declared(FILE), [existing("cache", CACHE_ID, secret_fields=[])]
    ).updates

    assert update.changes == (FieldChange("secrets", [], ["password"]),)
    assert update.resend_secrets


def test_prune_deletes_only_this_sources_connections_missing_from_the_file() -> None:
    tenant = [
        existing("cache", CACHE_ID),
        existing("gone", API_ID),
        existing("theirs", "00000000-0000-4000-8000-000000000003", tags=["managed-by:other"]),
        existing("by-hand", "00000000-0000-4000-8000-000000000004", tags=[]),
    ]

    kept = make_plan(load_declared(FILE), tenant)
    pruned = make_plan(load_declared(FILE), tenant, prune=True)

    assert (kept.changes, kept.unpruned) == (0, ["gone"])
    assert [d.existing.name for d in pruned.deletes] == ["gone"]


def test_names_the_plan_cannot_resolve_are_problems() -> None:
    dangling = FILE + "    depends_on: [nowhere]\n"
    twice = [existing("cache", CACHE_ID), existing("cache", API_ID)]

    assert make_plan(load_declared(dangling), []).problems == [
        "cache: depends_on names no connection: nowhere"
    ]
    assert make_plan(load_declared(FILE), twice).problems == [
        "cache: 2 connections of the tenant have this name"
    ]


def test_a_new_connection_gets_its_id_at_plan_time_so_dependencies_can_name_it() -> None:
    text = (
        FILE
        + "  - {name: api, kind: tcp, config: {host: a.internal, port: 1}, depends_on: [cache]}\n"
    )

    plan = make_plan(load_declared(text), [])

    cache, api = (create.desired for create in plan.creates)
    assert [str(d) for d in api.health.depends_on] == [cache.connection_id]
    assert cache.tags == ("team:orders", MARKER)


def test_export_writes_a_fixed_text_with_placeholders_and_no_marker_or_credential() -> None:
    http = existing(
        "api",
        API_ID,
        kind="http",
        config={"base_url": "https://api.internal", "headers": {"Authorization": "Bearer x1",
                "X-Team": "orders"}, "test": {"method": "GET", "path": "/", "expected_status": 200,
                "json_path": None, "body_contains": None}, "ca_pem": None, "server_name": None},
        auth={"method": "none"},
        secret_fields=[],
        tags=[MARKER],
        health_check={"enabled": True, "interval_s": 30, "depends_on": [CACHE_ID]},
    )  # fmt: skip

    exported = export_file([http, existing("cache", CACHE_ID)], "platform/prod")

    assert exported.notes == ["api: header(s) Authorization left out (credentials)"]
    assert dump_declared(exported.declared) == (
        "version: 1\n"
        "source: platform/prod\n"
        "connections:\n"
        "- name: api\n"
        "  kind: http\n"
        "  config:\n"
        "    base_url: https://api.internal\n"
        "    headers:\n"
        "      X-Team: orders\n"
        "  health_check:\n"
        "    enabled: true\n"
        "    interval_s: 30\n"
        "  depends_on:\n"
        "  - cache\n"
        "- name: cache\n"
        "  kind: redis\n"
        "  config:\n"
        "    host: cache.internal\n"
        "  auth:\n"
        "    method: basic\n"
        "    username: app\n"
        "  secrets:\n"
        "    password: env:CONNMGR_SECRET_CACHE_PASSWORD\n"
        "  tags:\n"
        "  - team:orders\n"
    )
