"""``connmgr up`` starts everything, a CLI create round-trips, Ctrl-C leaves nothing behind."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import pytest

from support.secret_scan import SecretScanner
from support.services import require_services

CONNMGR = [sys.executable, "-m", "connmgr.runtime.cli"]
STOP_DEADLINE_S = 20.0
SECRET = "dev-stack-Secret-9f2"


@dataclass
class DevStack:
    process: asyncio.subprocess.Process
    lines: dict[str, str]
    data_dir: Path

    def env(self) -> dict[str, str]:
        return {
            **os.environ,
            "CONNMGR_NATS_URL": self.lines["nats"],
            "CONNMGR_API_URL": self.lines["api"],
            "CONNMGR_API_TOKEN": self.lines["token"],
        }


async def read_ready_lines(process: asyncio.subprocess.Process) -> dict[str, str]:
    assert process.stdout is not None
    lines: dict[str, str] = {}
    while len(lines) < 3:
        raw = await asyncio.wait_for(process.stdout.readline(), 60)
        assert raw, "connmgr up exited before it was ready"
        name, _, value = raw.decode().strip().partition(": ")
        lines[name] = value
    return lines


@pytest.fixture
async def dev_stack(tmp_path: Path) -> AsyncIterator[DevStack]:
    await require_services("nats")
    env = {k: v for k, v in os.environ.items() if not k.startswith("CONNMGR_")}
    process = await asyncio.create_subprocess_exec(
        *CONNMGR,
        "up",
        "--data-dir",
        str(tmp_path / "data"),
        "--nats-port",
        "0",
        "--api-port",
        "0",
        stdout=asyncio.subprocess.PIPE,
        stderr=open(tmp_path / "up.log", "wb"),  # noqa: SIM115
        env=env,
    )
    try:
        yield DevStack(process, await read_ready_lines(process), tmp_path / "data")
    finally:
        await stop_dev_stack(process)


async def stop_dev_stack(process: asyncio.subprocess.Process) -> None:
    """Stop ``connmgr up`` as Ctrl-C does, so it stops its nats-server too; SIGKILL (which
    would orphan that server) only if it has not ended within ``STOP_DEADLINE_S``."""
    if process.returncode is not None:
        return
    process.send_signal(signal.SIGINT)
    try:
        await asyncio.wait_for(process.wait(), STOP_DEADLINE_S)
    except TimeoutError:
        process.kill()
        await process.wait()


def nats_processes_of(data_dir: Path) -> list[str]:
    found = []
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            args = cmdline.read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if "nats-server" in args and str(data_dir) in args:
            found.append(args)
    return found


async def test_a_cli_create_round_trips_and_ctrl_c_stops_everything(
    dev_stack: DevStack, tmp_path: Path
) -> None:
    assert set(dev_stack.lines) == {"nats", "api", "token"}
    assert nats_processes_of(dev_stack.data_dir)
    secrets_file = tmp_path / "secrets.json"
    secrets_file.write_text(json.dumps({"password": SECRET}))
    create = await asyncio.create_subprocess_exec(
        *CONNMGR,
        "create",
        "--name",
        "orders-db",
        "--kind",
        "postgres",
        "--config",
        "host=db.internal",
        "--config",
        "database=orders",
        "--auth-method",
        "basic",
        "--username",
        "app",
        "--secrets-file",
        str(secrets_file),
        "--json",
        env=dev_stack.env(),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(create.communicate(), 60)
    assert create.returncode == 0, err.decode()
    outcome = json.loads(out)
    assert outcome["outcome"] == "accepted"
    headers = {"Authorization": f"Bearer {dev_stack.lines['token']}"}
    async with aiohttp.ClientSession(headers=headers) as session:
        url = f"{dev_stack.lines['api']}/api/connections/{outcome['connection_id']}"
        async with session.get(url) as response:
            assert response.status == 200
            body = await response.text()
            api_headers = json.dumps(dict(response.headers))
    document = json.loads(body)
    assert (document["name"], document["secret_fields"]) == ("orders-db", ["password"])

    dev_stack.process.send_signal(signal.SIGINT)
    assert await asyncio.wait_for(dev_stack.process.wait(), 60) == 0
    assert nats_processes_of(dev_stack.data_dir) == []
    scanner = SecretScanner()
    scanner.add("password", SECRET, username="app")
    scanner.add("api token", dev_stack.lines["token"])
    haystacks: dict[str, str | bytes] = {"api body": body, "api headers": api_headers}
    haystacks.update({"cli stdout": out, "cli stderr": err})
    scanner.assert_clean({**haystacks, "up.log": (tmp_path / "up.log").read_bytes()})
    assert (dev_stack.data_dir / "keyring.json").stat().st_mode & 0o077 == 0
    assert (dev_stack.data_dir / "token").stat().st_mode & 0o077 == 0
