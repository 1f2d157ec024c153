"""Test modules import by basename (``tests/`` has no packages): names must be unique."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

TESTS = Path(__file__).parent


def test_module_basenames_are_unique_across_test_folders() -> None:
    names = Counter(
        path.name
        for path in TESTS.rglob("*.py")
        if path.name not in ("conftest.py", "__init__.py") and "support" not in path.parts
    )
    assert [name for name, count in names.items() if count > 1] == []
