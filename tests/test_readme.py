"""The README's promises that a test can hold it to."""

from __future__ import annotations

import ast
import inspect
import re
from pathlib import Path

from connmgr.api.app import POOL_SIZE as API_POOL_SIZE
from connmgr.runtime.cli import build_parser
from connmgr.runtime.pools import PROBER_DB_CONNECTIONS
from connmgr.schemas.commands import CreatePayload
from connmgr.schemas.connection_spec import ConnectionSpec
from connmgr.schemas.settings import Settings
from connmgr.storage.database import create_engine
from connmgr.storage.reads.live_versions import SIZE as LIVE_VERSIONS_SIZE

README = (Path(__file__).parents[1] / "README.md").read_text()


def test_every_setting_is_in_the_configuration_table() -> None:
    for name in Settings.model_fields:
        assert f"`CONNMGR_{name.upper()}`" in README, name


def test_the_two_setup_commands_are_given() -> None:
    assert "make run" in README
    assert "make test" in README


PLACEHOLDERS = {"ID": "kek-1", "SEQ": "1", "<id>": "00000000-0000-0000-0000-000000000001"}


def _readme_commands() -> list[list[str]]:
    found = re.findall(r"`connmgr ([a-z][^`]*)`", README)
    found += [f"keys {rest}" for rest in re.findall(r"`keys ([a-z][^`]*)`", README)]
    found += [f"token {rest}" for rest in re.findall(r"`token ([a-z][^`]*)`", README)]
    found += [f"dlq {rest}" for rest in re.findall(r"`dlq ([a-z][^`]*)`", README)]
    commands = []
    for text in found:
        words = [
            PLACEHOLDERS.get(word, word) for word in text.replace("[", "").replace("]", "").split()
        ]
        commands.append([w for w in words if "|" not in w and "…" not in w])
    return commands


def test_every_command_the_readme_names_exists() -> None:
    parser = build_parser()
    commands = _readme_commands()
    assert len(commands) >= 12
    for argv in commands:
        if argv[:2] in (["token", "issue"], ["token", "revoke"]):
            argv = [*argv[:2], "--tenant", "t", "--name", "n"]
        if argv[0] == "worker":
            for pool in ("encryptor", "tester", "prober", "relay", "notifier"):
                parser.parse_args(["worker", pool])
            continue
        parser.parse_args(argv)


def test_the_python_example_builds_a_valid_spec() -> None:
    [block] = re.findall(r"```python\n(.*?)```", README, re.DOTALL)
    tree = ast.parse(block)  # top-level ``async with`` parses; it does not run here
    setup = ast.Module([s for s in tree.body if not isinstance(s, ast.AsyncWith)], [])
    names: dict[str, object] = {}

    exec(compile(setup, "README.md", "exec"), names)  # the import and the spec only

    spec = names["spec"]
    assert isinstance(spec, ConnectionSpec)
    assert CreatePayload.model_validate(spec.payload_fields()).kind == "postgres"
    calls = {
        n.func.attr
        for n in ast.walk(tree)
        if isinstance(n, ast.Call) and isinstance(n.func, ast.Attribute)
    }
    assert {"connect", "test_draft", "create"} <= calls


def test_the_database_connections_it_lists_are_what_each_process_holds_at_most() -> None:
    listed = " ".join(README.split("**Database connections.**")[1].split("\n\n")[0].split())
    defaults = inspect.signature(create_engine).parameters
    worker = defaults["pool_size"].default + defaults["max_overflow"].default

    assert (
        f"an API process {API_POOL_SIZE + LIVE_VERSIONS_SIZE} (a pool of {API_POOL_SIZE}," in listed
    )
    assert f"and {LIVE_VERSIONS_SIZE} of the driver's own" in listed
    assert f"a prober {PROBER_DB_CONNECTIONS} (its fixed pool)" in listed
    assert f"any other worker {worker} (a pool of {defaults['pool_size'].default}" in listed
    assert f"open {defaults['max_overflow'].default} more under load" in listed
