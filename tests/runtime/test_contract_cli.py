"""``connmgr contract``: the document the API serves, and one JSON Schema by name."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator

import pytest

from connmgr.api.asyncapi import document_bytes
from connmgr.runtime.cli import main
from connmgr.schemas.json_schema import json_schema, schema_names
from support.logging_capture import restored_logging


@pytest.fixture(autouse=True)
def _logging_put_back() -> Iterator[None]:
    """``main`` configures logging for the process; later tests expect it untouched."""
    with restored_logging():
        yield


def test_the_console_script_prints_the_document_the_api_serves() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "connmgr.runtime.cli", "contract", "asyncapi"],
        capture_output=True,
        timeout=120,
        check=False,
    )

    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == json.loads(document_bytes())


def test_json_schema_prints_one_schema_or_lists_the_names(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["contract", "json-schema", "ConnectionSpec"]) == 0
    assert json.loads(capsys.readouterr().out) == json_schema("ConnectionSpec")

    assert main(["contract", "json-schema"]) == 0
    assert tuple(capsys.readouterr().out.split()) == schema_names()


def test_an_unknown_schema_name_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["contract", "json-schema", "NoSuchThing"]) == 64
    captured = capsys.readouterr()
    assert captured.out == ""
    assert "no such schema" in captured.err
