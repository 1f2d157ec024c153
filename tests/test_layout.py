"""The repository's layout: test module names are unique (``tests/`` has no packages and
modules import by basename), and database-specific SQL stays in ``storage/``."""

from __future__ import annotations

import ast
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


SRC = TESTS.parent / "src" / "connmgr"
RAW_SQL_NAMES = frozenset({"text", "literal_column", "TextClause"})
DIALECT_ATTRIBUTES = frozenset({"dialect", "exec_driver_sql"})


def dialect_sql(source: str) -> list[str]:
    """What in ``source`` writes SQL of one database or branches on the database: raw SQL
    text (``sqlalchemy.text`` and kin, ``exec_driver_sql``), dialect modules, ``is_sqlite``
    and ``.dialect``. Storage owns all of it."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.ImportFrom) and node.module:
            names = {alias.name for alias in node.names}
            if node.module.startswith("sqlalchemy.dialects"):
                found.append(f"from {node.module} import")
            elif node.module == "sqlalchemy" and names & RAW_SQL_NAMES:
                found.append(f"from sqlalchemy import {', '.join(sorted(names & RAW_SQL_NAMES))}")
            elif "is_sqlite" in names:
                found.append("import of is_sqlite")
        elif isinstance(node, ast.Import):
            dialects = [a.name for a in node.names if a.name.startswith("sqlalchemy.dialects")]
            found += [f"import {name}" for name in dialects]
        elif isinstance(node, ast.Attribute) and _dialect_attribute(node):
            found.append(f".{node.attr}")
        elif isinstance(node, ast.Name) and node.id == "is_sqlite":
            found.append("is_sqlite")
    return found


def _dialect_attribute(node: ast.Attribute) -> bool:
    """``x.dialect``, ``x.exec_driver_sql``, or ``sqlalchemy.text`` (not ``response.text``)."""
    if node.attr in DIALECT_ATTRIBUTES:
        return True
    module = node.value.id if isinstance(node.value, ast.Name) else None
    return node.attr in RAW_SQL_NAMES and module in ("sqlalchemy", "sa")


def test_the_dialect_finder_sees_each_form_and_the_storage_that_uses_them() -> None:
    snippet = (
        "from sqlalchemy import select, text\n"
        "from sqlalchemy.dialects.postgresql import insert\n"
        "import sqlalchemy.dialects.sqlite\n"
        "from connmgr.storage.database import is_sqlite\n"
        "import sqlalchemy as sa\n"
        "sa.text('SELECT pg_try_advisory_lock(1)')\n"
        "engine.dialect.name == 'postgresql'\n"
        "connection.exec_driver_sql('SELECT 1')\n"
        "if is_sqlite(url): pass\n"
    )
    assert sorted(dialect_sql(snippet)) == sorted(
        [
            "from sqlalchemy import text",
            "from sqlalchemy.dialects.postgresql import",
            "import sqlalchemy.dialects.sqlite",
            "import of is_sqlite",
            ".text",
            ".dialect",
            ".exec_driver_sql",
            "is_sqlite",
        ]
    )
    neutral = "from sqlalchemy import select\nselect(t).where(t.c.id == 1)\nawait response.text()\n"
    assert dialect_sql(neutral) == []
    assert dialect_sql((SRC / "storage" / "leader_lock.py").read_text()) != []


def test_workers_hold_no_dialect_sql_nor_a_branch_on_the_database() -> None:
    """The leader lock, dialect inserts and every other database-specific statement
    live in ``storage/``; ``workers/`` asks storage and stays the same on every backend."""
    found = {
        str(path.relative_to(SRC)): hits
        for path in sorted((SRC / "workers").rglob("*.py"))
        if (hits := dialect_sql(path.read_text()))
    }
    assert found == {}
