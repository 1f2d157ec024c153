"""Hostile input files: too large, YAML bombs, recursive aliases, deep JSON, bad bytes."""

from __future__ import annotations

from pathlib import Path

import pytest

from connmgr.producers.importers import reading
from connmgr.producers.importers.errors import ImportFailed

BILLION_LAUGHS = """\
a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]
b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]
c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]
d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]
e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]
f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]
g: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]
h: &h [*g,*g,*g,*g,*g,*g,*g,*g,*g]
i: &i [*h,*h,*h,*h,*h,*h,*h,*h,*h]
"""


def test_a_file_over_the_limit_is_refused_before_it_is_parsed(tmp_path: Path) -> None:
    path = tmp_path / "huge.json"
    path.write_bytes(b"[" + b"0," * 600 + b"0]")

    assert reading.read_text(path, limit=1300).startswith("[0,")
    with pytest.raises(ImportFailed) as failed:
        reading.read_text(path, limit=1000)

    assert failed.value.reason == "input_too_large"


def test_a_billion_laughs_yaml_is_refused_by_its_expanded_size() -> None:
    with pytest.raises(ImportFailed) as failed:
        reading.load_yaml(BILLION_LAUGHS)

    assert failed.value.reason == "input_too_complex"


def test_aliases_within_the_bound_are_read_as_yaml_means_them() -> None:
    document = reading.load_yaml("base: &base {interval: 30s}\none: *base\ntwo: *base\n")

    assert document == {
        "base": {"interval": "30s"},
        "one": {"interval": "30s"},
        "two": {"interval": "30s"},
    }


def test_a_recursive_alias_is_refused() -> None:
    with pytest.raises(ImportFailed) as failed:
        reading.load_yaml("loop: &loop [*loop]\n")

    assert failed.value.reason == "input_too_complex"


@pytest.mark.parametrize(
    "text",
    ["!!python/object/apply:os.system ['true']\n", "a: !!python/name:os.system\n", "a: [\n"],
)
def test_python_tags_and_broken_yaml_are_malformed_input(text: str) -> None:
    with pytest.raises(ImportFailed) as failed:
        reading.load_yaml(text)

    assert failed.value.reason == "input_malformed"


def test_json_nested_past_the_parser_is_refused_not_crashed_on() -> None:
    with pytest.raises(ImportFailed) as failed:
        reading.load_json("[" * 200_000 + "]" * 200_000)

    assert failed.value.reason == "input_too_complex"


def test_a_file_that_is_not_utf8_is_malformed(tmp_path: Path) -> None:
    path = tmp_path / "latin1.json"
    path.write_bytes(b'{"name": "caf\xe9"}')

    with pytest.raises(ImportFailed) as failed:
        reading.read_text(path)

    assert failed.value.reason == "input_malformed"
    assert "byte 13" in failed.value.message
