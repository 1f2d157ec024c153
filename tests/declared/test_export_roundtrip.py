"""``export`` → ``apply`` to an empty tenant → ``export`` gives the same file, for files
hypothesis makes (kinds, auth with secrets, tags, health settings, dependencies)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from declared_stack import Stack
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from connmgr.schemas.declared.text import load_declared
from connmgr.schemas.secret_references import SecretReference

NAME_CHARS = "abcdefghijklmnopqrstuvwxyz0123456789-"
TAG_CHARS = "abcdefghijklmnopqrstuvwxyz0123456789:._/-"
SOURCE = "gitops/roundtrip"

names = st.text(NAME_CHARS, min_size=1, max_size=12).filter(lambda n: n.strip("-") == n)
tags = st.lists(st.text(TAG_CHARS, min_size=1, max_size=10), max_size=3, unique=True).filter(
    lambda ts: not any(t.startswith("managed-by:") for t in ts)
)
descriptions = st.text(
    st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")), max_size=30
).map(str.strip)
port = st.integers(1, 65535)
header_names = st.sampled_from(["X-Team", "Accept"])
urls = st.sampled_from(["https://api.example.com", "http://10.9.0.9:8080"])
hosts = st.sampled_from(["db.internal", "cache.example.com", "10.1.2.3", "svc-a.local.test"])


def kinds(name: str) -> st.SearchStrategy[dict[str, Any]]:
    basic = {"method": "basic", "username": "app"}
    password = {"password": f"env:ROUNDTRIP_{name.upper().replace('-', '_')}"}
    return st.one_of(
        st.fixed_dictionaries(
            {"kind": st.just("tcp"), "config": st.fixed_dictionaries({"host": hosts, "port": port})}
        ),
        st.fixed_dictionaries(
            {
                "kind": st.just("redis"),
                "config": st.fixed_dictionaries(
                    {"host": hosts, "port": port, "db": st.integers(0, 15), "tls": st.booleans()}
                ),
                "auth": st.just(basic),
                "secrets": st.just(password),
            }
        ),
        st.fixed_dictionaries(
            {
                "kind": st.just("http"),
                "config": st.fixed_dictionaries(
                    {
                        "base_url": urls,
                        "headers": st.dictionaries(header_names, st.just("v")),
                    }
                ),
            }
        ),
        st.fixed_dictionaries(
            {
                "kind": st.just("postgres"),
                "config": st.fixed_dictionaries(
                    {"host": hosts, "database": st.sampled_from(["orders", "app"]),
                     "ssl": st.sampled_from(["require", "verify-full"])}
                ),
                "auth": st.just(basic),
                "secrets": st.just(password),
            }
        ),
    )  # fmt: skip


@st.composite
def files(draw: st.DrawFn) -> dict[str, Any]:
    chosen = draw(st.lists(names, min_size=1, max_size=4, unique=True))
    connections = []
    for index, name in enumerate(chosen):
        entry = {"name": name, **draw(kinds(name))}
        entry["tags"] = draw(tags)
        entry["description"] = draw(descriptions)
        entry["health_check"] = {
            "enabled": draw(st.booleans()),
            "interval_s": draw(st.integers(10, 86400)),
            "failure_threshold": draw(st.integers(1, 100)),
        }
        entry["depends_on"] = (
            draw(st.lists(st.sampled_from(chosen[:index]), unique=True)) if index else []
        )
        connections.append(entry)
    return {"version": 1, "source": SOURCE, "connections": connections}


@pytest.fixture
def environment() -> Iterator[dict[str, str]]:
    """Variables a test sets for its references, removed afterwards."""
    added: dict[str, str] = {}
    yield added
    for name in added:
        os.environ.pop(name, None)


def provide_secrets(text: str, added: dict[str, str]) -> None:
    for connection in load_declared(text).connections:
        for reference in connection.secrets.values():
            variable = SecretReference.parse(reference).target
            added[variable] = os.environ[variable] = "roundtrip-secret"


@settings(
    max_examples=6, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(document=files())
async def test_export_applied_to_an_empty_tenant_exports_the_same_file(
    stack: Stack, tmp_path: Path, environment: dict[str, str], document: dict[str, Any]
) -> None:
    first, second = await stack.tenant(), await stack.tenant()
    original = tmp_path / "original.yaml"
    original.write_text(yaml.safe_dump(document))
    provide_secrets(original.read_text(), environment)
    assert await stack.run(first, "apply", "-f", str(original), "--yes") == 2
    exported = tmp_path / "exported.yaml"
    assert await stack.run(first, "export", "--source", SOURCE, "-o", str(exported)) == 0

    provide_secrets(exported.read_text(), environment)
    assert await stack.run(second, "apply", "-f", str(exported), "--yes") == 2
    again = tmp_path / "again.yaml"
    assert await stack.run(second, "export", "--source", SOURCE, "-o", str(again)) == 0

    assert again.read_text() == exported.read_text()
    assert "roundtrip-secret" not in exported.read_text()  # placeholders only
    assert await stack.run(second, "plan", "-f", str(exported)) == 0
    assert load_declared(exported.read_text()).by_name().keys() == {
        c["name"] for c in document["connections"]
    }
