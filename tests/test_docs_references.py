"""Every document the repository cites exists in it, down to the section or row named.

A citation of a ``.md`` file in code, tests, docs, configuration or benchmarks must
name a file of this repository (the brief documents the project started from are
not in it). A section named after ``docs/<name>.md`` in quotes must be a heading or
a bold entry title of that file, and a row of ``docs/reliability.md`` a row of its
fault table.
"""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).parents[1]
FOLDERS = ("src", "tests", "docs", "infra", "bench", "mutation")
ROOT_FILES = ("README.md", "Makefile", "pyproject.toml", "compose.yaml", "Dockerfile")
SUFFIXES = {".py", ".md", ".conf", ".yaml", ".yml", ".toml", ".txt", ".json", ".cfg"}
SKIPPED = {"__pycache__", ".venv", "build", "node_modules"}

CITED = re.compile(r"(?<![\w.:/-])((?:[\w.-]+/)*[\w.-]+\.md)\b")
SECTION = re.compile(r'`?`?docs/(\w+)\.md`?`?,? "([^"]+)"(?: and "([^"]+)")?')
ROW = re.compile(r"`?`?docs/reliability\.md`?`?,? rows? (\d+)(?:(?:-| and )(\d+))?")


def _texts() -> dict[Path, str]:
    paths = [ROOT / name for name in ROOT_FILES if (ROOT / name).is_file()]
    for folder in FOLDERS:
        paths += [path for path in (ROOT / folder).rglob("*") if _scanned(path)]
    return {path: path.read_text(errors="replace") for path in paths}


def _scanned(path: Path) -> bool:
    parts = path.relative_to(ROOT).parts
    if not SKIPPED.isdisjoint(parts) or any(part.endswith(".egg-info") for part in parts):
        return False
    return path.suffix in SUFFIXES and path.is_file()


def _resolves(cited: str, citing: Path) -> bool:
    candidates = [ROOT / cited, citing.parent / cited]
    if "/" not in cited:
        candidates.append(ROOT / "docs" / cited)
    return any(path.is_file() and path.name == cited.rsplit("/", 1)[-1] for path in candidates)


def _flat(text: str) -> str:
    """One line: comment marks and docstring indentation gone, whitespace single."""
    return re.sub(r"\s*\n\s*(?:#\s*)?", " ", text)


def _titles(document: str) -> str:
    headings = re.findall(r"^#+ (.+)$", document, flags=re.MULTILINE)
    bold = re.findall(r"\*\*(.+?)\*\*", _flat(document))
    return "\n".join([*headings, *bold]).lower()


def _rows(document: str) -> set[int]:
    return {int(n) for n in re.findall(r"^\| (\d+) \|", document, flags=re.MULTILINE)}


def test_every_cited_markdown_file_exists_in_the_repository() -> None:
    missing = [
        f"{path.relative_to(ROOT)}: {cited}"
        for path, text in _texts().items()
        for word in text.split()
        if "://" not in word
        for cited in CITED.findall(word)
        if not _resolves(cited, path)
    ]
    assert missing == []


def test_every_cited_section_is_a_title_of_its_document() -> None:
    unknown = []
    for path, text in _texts().items():
        for name, *sections in SECTION.findall(_flat(text)):
            target = ROOT / "docs" / f"{name}.md"
            titles = _titles(target.read_text()) if target.is_file() else ""
            for section in filter(None, sections):
                if section.lower() not in titles:
                    unknown.append(f"{path.relative_to(ROOT)}: docs/{name}.md {section!r}")
    assert unknown == []


def test_every_cited_fault_row_is_a_row_of_the_fault_table() -> None:
    rows = _rows((ROOT / "docs" / "reliability.md").read_text())
    assert rows == set(range(1, len(rows) + 1))
    cited = [
        (path, int(first), int(last or first))
        for path, text in _texts().items()
        for first, last in ROW.findall(_flat(text))
    ]
    assert len(cited) >= 7
    assert [f"{p.relative_to(ROOT)}: {a}-{b}" for p, a, b in cited if b not in rows] == []


def test_a_citation_of_a_missing_file_or_section_is_caught() -> None:
    citing = ROOT / "src" / "connmgr" / "__init__.py"
    # Spelled in two parts, so that this file cites neither.
    assert not _resolves("RELIABILITY" + ".md", citing)
    assert not _resolves("docs/design" + ".md", citing)
    assert _resolves("docs/reliability.md", citing)
    assert _resolves("mutation.md", citing)
    flat = _flat('(``docs/security.md``,\n    "Egress" and "No such\n    section")')
    assert SECTION.findall(flat) == [("security", "Egress", "No such section")]
    titles = _titles((ROOT / "docs" / "security.md").read_text())
    assert "egress" in titles
    assert "no such section" not in titles


SOURCE_PATH = re.compile(r"`((?:[\w-]+/)+(?:[\w-]+\.\w+)?)`")
WALKED = ("docs/flows.md",)


def _source_exists(cited: str) -> bool:
    return any((base / cited).exists() for base in (ROOT / "src" / "connmgr", ROOT))


def test_every_file_the_flows_document_names_exists() -> None:
    """The flows document walks the code file by file; a moved file must move there too."""
    cited = {
        (document, path)
        for document in WALKED
        for path in SOURCE_PATH.findall((ROOT / document).read_text())
    }
    missing = sorted(f"{document}: {path}" for document, path in cited if not _source_exists(path))

    assert len(cited) > 60
    assert missing == []


def test_a_walk_naming_a_missing_file_is_caught() -> None:
    assert _source_exists("workers/egress.py")
    assert _source_exists("infra/nats/")
    assert not _source_exists("workers/tester/runner.py")
    assert SOURCE_PATH.findall("reads `storage/event_log.py` then `workers/relay/`") == [
        "storage/event_log.py",
        "workers/relay/",
    ]
