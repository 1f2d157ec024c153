"""compose.yaml (and compose.tls.yaml on top of it) as Docker Compose would load them.

Docker has no engine on these machines, so the files are validated against the
Compose specification's JSON Schema (vendored: tests/infra/vendored/README.md),
raw and with a test ``.env`` interpolated, and read for what the issue asks:
healthchecks with programs each image ships, start-up order on health, no fixed
host port on a replicated service, NATS's client port on loopback by default and
its monitoring port never published, pinned images, each secret only where it is
used. tests/infra/test_compose_up.py runs the services themselves.
"""

from __future__ import annotations

import json
import re
import tomllib
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from connmgr.runtime.cli import build_parser
from connmgr.runtime.pools import KEYED_POOLS, POOLS, WORKERS
from support.compose_model import InterpolationError, interpolate, load, raw

ROOT = Path(__file__).parents[2]
COMPOSE = ROOT / "compose.yaml"
TLS_OVERRIDE = ROOT / "compose.tls.yaml"
SCHEMA = json.loads((Path(__file__).parent / "vendored" / "compose-spec.json").read_text())
VERSION = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
TEST_ENV = {
    **{
        name: f"test-{name.lower()}"
        for name in re.findall(r"\$\{(\w+):\?", COMPOSE.read_text())
        if name != "CONNMGR_NATS_AUTH_ISSUER"
    },
    "CONNMGR_NATS_AUTH_ISSUER": "ACONNMGRTESTISSUER",
}
# What each image ships that a healthcheck may run: the slim connmgr image has no
# curl or wget; nats:*-alpine has busybox's wget; postgres has pg_isready.
IMAGE_PROGRAMS = {"connmgr": {"connmgr"}, "nats": {"wget"}, "postgres": {"pg_isready"}}
ONE_SHOT = {"migrate", "streams"}

Service = dict[str, Any]


def compose(*overrides: Path, env: dict[str, str] | None = None) -> dict[str, Any]:
    return load([COMPOSE, *overrides], TEST_ENV if env is None else env)


def services(*overrides: Path) -> dict[str, Service]:
    found: dict[str, Service] = compose(*overrides)["services"]
    return found


def connmgr_services() -> dict[str, Service]:
    return {n: s for n, s in services().items() if s["image"].startswith("connmgr:")}


def image_name(service: Service) -> str:
    return str(service["image"]).split(":")[0].split("/")[-1]


@pytest.mark.parametrize(
    ("name", "document"),
    [
        ("compose.yaml", lambda: raw([COMPOSE])),
        ("compose.yaml interpolated", compose),
        ("with compose.tls.yaml", lambda: raw([COMPOSE, TLS_OVERRIDE])),
        ("with compose.tls.yaml interpolated", lambda: compose(TLS_OVERRIDE)),
    ],
)
def test_the_files_are_valid_compose_specification_documents(name: str, document: Any) -> None:
    jsonschema.Draft7Validator(SCHEMA).validate(document())


def test_the_schema_refuses_what_compose_refuses() -> None:
    document = compose()
    jsonschema.Draft7Validator(SCHEMA).validate(document)
    document["services"]["api"]["replicas"] = 2  # belongs under deploy
    with pytest.raises(jsonschema.ValidationError, match="replicas"):
        jsonschema.Draft7Validator(SCHEMA).validate(document)


def test_a_missing_password_stops_compose_with_the_first_run_hint() -> None:
    without = {k: v for k, v in TEST_ENV.items() if k != "POSTGRES_PASSWORD"}
    with pytest.raises(InterpolationError, match=r"first-run steps of README\.md"):
        compose(env=without)
    assert interpolate("$${x} ${A:-d} ${B-e} ${A:+f}", {"B": ""}) == "${x} d  "


@pytest.mark.parametrize("name", sorted(connmgr_services()))
def test_each_connmgr_service_runs_a_real_command(name: str) -> None:
    build_parser().parse_args(connmgr_services()[name]["command"])


@pytest.mark.parametrize("pool", WORKERS)
def test_every_worker_is_deployed_with_replicas(pool: str) -> None:
    service = connmgr_services()[pool]
    assert service["command"] == ["worker", pool]
    assert service["deploy"]["replicas"] >= 1


def test_grace_periods_outlast_the_pools_shutdown_grace() -> None:
    for name, service in connmgr_services().items():
        if name in ONE_SHOT:
            continue
        grace = float(service["environment"]["CONNMGR_SHUTDOWN_GRACE_S"])
        assert float(service["stop_grace_period"].rstrip("s")) > grace, name


@pytest.mark.parametrize("name", sorted(set(services()) - ONE_SHOT))
def test_every_long_running_service_has_a_healthcheck_its_image_can_run(name: str) -> None:
    service = services()[name]
    kind, program, *_ = service["healthcheck"]["test"]
    assert kind == "CMD"  # no shell: the programs are named exactly
    assert program in IMAGE_PROGRAMS[image_name(service)]


@pytest.mark.parametrize("pool", WORKERS)
def test_each_worker_is_checked_on_its_own_probe_port(pool: str) -> None:
    assert connmgr_services()[pool]["healthcheck"]["test"] == ["CMD", "connmgr", "health"]
    build_parser().parse_args(["health"])


def test_the_api_and_the_broker_are_checked_for_readiness() -> None:
    api = services()["api"]["healthcheck"]["test"]
    assert api == ["CMD", "connmgr", "health", "--url", "http://127.0.0.1:8080/readyz"]
    nats = services()["nats"]["healthcheck"]["test"]
    assert nats[-1] == "http://127.0.0.1:8222/healthz?js-enabled-only=true"
    postgres = services()["postgres"]["healthcheck"]["test"]
    assert "--host=127.0.0.1" in postgres


def test_services_start_once_what_they_need_is_healthy_or_done() -> None:
    found = {name: s.get("depends_on", {}) for name, s in services().items()}
    assert found["migrate"] == {"postgres": {"condition": "service_healthy"}}
    assert found["streams"] == {"nats": {"condition": "service_healthy"}}
    for pool in POOLS:
        assert found[pool] == {
            "nats": {"condition": "service_healthy"},
            "migrate": {"condition": "service_completed_successfully"},
            "streams": {"condition": "service_completed_successfully"},
        }
    assert found["nats-auth"]["migrate"] == {"condition": "service_completed_successfully"}
    assert found["api"] == {"migrate": {"condition": "service_completed_successfully"}}


def published(service: Service) -> list[tuple[str, str, str]]:
    """(host address, host port, container port) of each published port."""
    out = []
    for port in service.get("ports", []):
        address, host_port, container = str(port).rsplit(":", 2)
        out.append((address, host_port, container))
    return out


def test_no_replicated_service_has_a_fixed_host_port() -> None:
    for name, service in services().items():
        if service.get("deploy", {}).get("replicas", 1) > 1:
            assert all(host_port == "" for _, host_port, _ in published(service)), name
    assert published(services()["api"]) == [("127.0.0.1", "", "8080")]


def test_nats_listens_for_producers_on_loopback_unless_told_otherwise() -> None:
    assert published(services()["nats"]) == [("127.0.0.1", "4222", "4222")]
    widened = compose(env={**TEST_ENV, "CONNMGR_NATS_PUBLISH": "0.0.0.0:4222"})
    assert published(widened["services"]["nats"]) == [("0.0.0.0", "4222", "4222")]
    every_published = {c for s in services().values() for _, _, c in published(s)}
    assert every_published == {"4222", "8080"}  # never 8222 (monitoring) or 5432


def test_images_are_pinned_by_version() -> None:
    for name, service in services().items():
        image = service["image"]
        assert re.fullmatch(r"[a-z0-9./-]+:\d+\.\d+(\.\d+)?(-[a-z0-9]+)?", image), name
    assert {s["image"] for s in connmgr_services().values()} == {f"connmgr:{VERSION}"}


def test_each_secret_goes_only_to_the_processes_that_read_it() -> None:
    mounted = {name: set(s.get("secrets", [])) for name, s in connmgr_services().items()}
    for name, secrets in mounted.items():
        expected = {"keyring"} if name in KEYED_POOLS else set()
        if name == "nats-auth":
            expected = {"nats-auth-seed"}
        assert secrets == expected, name
        environment = connmgr_services()[name]["environment"]
        assert ("CONNMGR_KEYRING_FILE" in environment) == ("keyring" in secrets), name
    assert set(compose()["secrets"]) == {"keyring", "nats-auth-seed"}


def test_connmgr_containers_are_read_only_without_capabilities() -> None:
    for name, service in connmgr_services().items():
        assert service["read_only"] is True, name
        assert service["cap_drop"] == ["ALL"], name
        assert "no-new-privileges:true" in service["security_opt"], name


def test_the_tls_override_switches_every_broker_client_to_tls() -> None:
    plain, tls = services(), services(TLS_OVERRIDE)
    assert tls["nats"]["command"] == ["-c", "/etc/nats/tls.conf"]
    assert (ROOT / "infra/nats/tls.conf").is_file()
    for name, service in tls.items():
        environment = service.get("environment", {})
        if "CONNMGR_NATS_URL" not in environment:
            continue
        assert environment["CONNMGR_NATS_URL"] == "tls://nats:4222", name
        assert environment["CONNMGR_NATS_TLS_CA_FILE"] == "/run/secrets/nats-ca", name
        assert set(service["secrets"]) == {*plain[name].get("secrets", []), "nats-ca"}, name
    clients = {n for n, s in tls.items() if "CONNMGR_NATS_URL" in s.get("environment", {})}
    assert clients == {*WORKERS, "streams"}
