"""compose.yaml and the Kubernetes manifests run real commands for every pool.

Docker has no engine on these machines, so the files are checked for content:
each service's command is one the console script accepts, every pool is
deployed, and the grace periods outlast the pools' own shutdown grace.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from connmgr.runtime.cli import build_parser
from connmgr.runtime.pools import POOLS

ROOT = Path(__file__).parents[2]


def compose() -> dict[str, Any]:
    document: dict[str, Any] = yaml.safe_load((ROOT / "compose.yaml").read_text())
    return document


def manifests() -> list[dict[str, Any]]:
    return [d for d in yaml.safe_load_all((ROOT / "infra/k8s/connmgr.yaml").read_text()) if d]


def connmgr_services() -> dict[str, dict[str, Any]]:
    return {
        name: service
        for name, service in compose()["services"].items()
        if service.get("image") == "connmgr:latest"
    }


def deployments() -> dict[str, dict[str, Any]]:
    return {d["metadata"]["name"]: d for d in manifests() if d["kind"] == "Deployment"}


@pytest.mark.parametrize("name", sorted(connmgr_services()))
def test_each_compose_service_runs_a_real_command(name: str) -> None:
    build_parser().parse_args(connmgr_services()[name]["command"])


@pytest.mark.parametrize("name", sorted(deployments()))
def test_each_deployment_runs_a_real_command(name: str) -> None:
    (container,) = deployments()[name]["spec"]["template"]["spec"]["containers"]
    build_parser().parse_args(container["args"])


@pytest.mark.parametrize("pool", POOLS)
def test_every_pool_is_deployed_with_replicas(pool: str) -> None:
    service = connmgr_services()[pool]
    assert service["command"] == ["worker", pool]
    assert service["deploy"]["replicas"] >= 1
    assert deployments()[f"connmgr-{pool}"]["spec"]["replicas"] >= 1


def test_grace_periods_outlast_the_pools_shutdown_grace() -> None:
    pool_grace = float(compose()["x-connmgr"]["environment"]["CONNMGR_SHUTDOWN_GRACE_S"])
    assert float(compose()["x-connmgr"]["stop_grace_period"].rstrip("s")) > pool_grace
    for deployment in deployments().values():
        assert deployment["spec"]["template"]["spec"]["terminationGracePeriodSeconds"] > pool_grace


def test_the_image_builds_the_console_script() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert "pip install --no-cache-dir ." in dockerfile
    assert 'ENTRYPOINT ["connmgr"]' in dockerfile
