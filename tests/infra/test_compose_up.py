"""README.md's first run with Docker Compose, followed step by step, then one create.

The block under "With Docker Compose" runs as written, in a fresh folder holding
what a clone gives Compose (compose.yaml, infra/), with ``docker`` standing for
``support.compose_emulator`` and ``sudo`` for nothing (the tests run as root). So
its ``.env`` (openssl's passwords), the key ring and seed written by ``keys init``
and ``nats-auth keygen`` into ``./secrets``, and ``up -d --wait`` are the real
steps; every service runs its own command with the environment compose.yaml
gives it, against the machine's PostgreSQL and the wheel's nats-server with the
shipped infra/nats configuration. Then every healthcheck command must pass, and
a connection created with the printed token must be read back through the API,
by that tenant only.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import pytest

from connmgr.producers import ConnectionSpec, Producer
from connmgr.storage.database import create_engine
from connmgr.storage.tokens import issue_token
from support.compose_emulator import Project, Service, down
from support.services import require_services

ROOT = Path(__file__).parents[2]
TESTS = ROOT / "tests"
MARKER = "<!-- first-run: compose"
STEPS_TIMEOUT_S = 420


def compose_first_run() -> str:
    readme = (ROOT / "README.md").read_text()
    after = readme[readme.index(MARKER) :]
    (block,) = re.findall(r"```sh\n(.*?)```", after, re.DOTALL)[:1]
    return block


@dataclass(frozen=True)
class Clone:
    folder: Path
    env: dict[str, str]

    def run(self, script: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["bash", "-euo", "pipefail", "-c", script],
            cwd=self.folder,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=STEPS_TIMEOUT_S,
            check=False,
        )


@pytest.fixture
def clone(tmp_path: Path) -> Iterator[Clone]:
    folder = tmp_path / "connmgr"
    folder.mkdir()
    shutil.copy(ROOT / "compose.yaml", folder)
    shutil.copytree(ROOT / "infra", folder / "infra")
    shims = tmp_path / "bin"
    shims.mkdir()
    emulator = TESTS / "support" / "compose_emulator.py"
    (shims / "docker").write_text(f'#!/bin/sh\nexec "{sys.executable}" "{emulator}" "$@"\n')
    (shims / "sudo").write_text('#!/bin/sh\nexec "$@"\n')
    for shim in shims.iterdir():
        shim.chmod(0o755)
    env = {
        "PATH": f"{shims}:{os.environ['PATH']}",
        "HOME": str(tmp_path),
        "PYTHONPATH": str(TESTS),
    }
    try:
        yield Clone(folder, env)
    finally:
        if (folder / ".emulator" / "state.json").exists():
            down(Project(folder))


def logs(clone: Clone) -> str:
    found = []
    for log in sorted((clone.folder / ".emulator" / "logs").glob("*.log")):
        found.append(f"--- {log.stem}\n" + "\n".join(log.read_text().splitlines()[-20:]))
    return "\n".join(found)


async def test_the_readme_compose_first_run_comes_up_and_serves_a_create(clone: Clone) -> None:
    await require_services("postgres")

    steps = clone.run(compose_first_run())
    assert steps.returncode == 0, f"{steps.stderr[-4000:]}\n{logs(clone)}"
    token = steps.stdout.strip().splitlines()[-1]
    assert re.fullmatch(r"\S{20,}", token)
    secrets = clone.folder / "secrets"
    assert {p.name for p in secrets.iterdir()} == {"keyring.json", "nats-auth.seed"}
    for path in (secrets, *secrets.iterdir()):
        assert (path.stat().st_uid, path.stat().st_gid) == (10001, 10001)
        assert path.stat().st_mode & 0o077 == 0

    project = Project(clone.folder)
    services = project.compose()["services"]
    unhealthy = [name for name in services if not Service(project, name).healthy()]
    assert unhealthy == [], logs(clone)

    ports = project.state()["ports"]
    database_url = Service(project, "api").environment()["CONNMGR_DATABASE_URL"]
    await create_and_read_back(token, database_url, ports["nats"]["4222"], ports["api"]["8080"])


async def create_and_read_back(
    token: str, database_url: str, nats_port: int, api_port: int
) -> None:
    """A create through the broker as ``token``'s tenant, read back through the API; a
    token of another tenant (issued straight into the same database) sees a 404."""
    spec = ConnectionSpec(
        name="orders-db",
        kind="postgres",
        config={"host": "db.example.com", "database": "orders"},
        auth={"method": "basic", "username": "app"},
        secrets={"password": "s3cret-from-the-compose-test"},
    )
    async with await Producer.connect(
        f"nats://127.0.0.1:{nats_port}", tenant="acme", actor_id="compose-test", token=token
    ) as producer:
        created = await producer.create(spec, timeout_s=60)
    assert created.outcome == "accepted", created
    connection_id = str(created.connection_id)

    engine = create_engine(database_url)
    try:
        intruder = await issue_token(engine, "intruder", "other", ["read"])
    finally:
        await engine.dispose()

    url = f"http://127.0.0.1:{api_port}/api/connections/{connection_id}"
    async with aiohttp.ClientSession() as session:
        async with session.get(url, headers={"Authorization": f"Bearer {token}"}) as own:
            body = await own.text()
            assert own.status == 200, body
        shown = json.loads(body)
        assert (shown["name"], shown["kind"]) == ("orders-db", "postgres")
        assert "s3cret-from-the-compose-test" not in body
        async with session.get(url, headers={"Authorization": f"Bearer {intruder}"}) as theirs:
            assert theirs.status == 404
        missing = f"http://127.0.0.1:{api_port}/api/connections/{uuid.uuid4()}"
        async with session.get(missing, headers={"Authorization": f"Bearer {token}"}) as none:
            assert none.status == 404
