"""Mutation testing of connmgr's core with mutmut: ``make mutation`` runs it.

Each module of ``modules.toml`` is mutated alone, in its own scratch directory
(``build/mutation/<module>``: a ``setup.cfg`` naming the files and tests, and
links to ``src``, ``tests`` and ``pyproject.toml``), so mutmut's cache is kept per
module and a second run only re-tests what changed. A survivor is either killed
by a new test or listed in ``equivalents.toml`` with the reason. The scores, the
command and every survivor go to ``docs/mutation.md``.

    python mutation/run.py                 # every module
    python mutation/run.py egress redaction  # some
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import time
import tomllib
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Final

ROOT: Final = Path(__file__).resolve().parent.parent
MODULES: Final = ROOT / "mutation" / "modules.toml"
EQUIVALENTS: Final = ROOT / "mutation" / "equivalents.toml"
SCRATCH: Final = ROOT / "build" / "mutation"
REPORT: Final = ROOT / "docs" / "mutation.md"
TARGET: Final = 0.90
KILLED: Final = frozenset({"killed", "timeout"})
"""A mutant that makes a test fail or hang is caught; mutmut's other verdicts are not."""
_NOT_SHARED: Final = frozenset({"build", "mutants", "setup.cfg"})
_RESULT: Final = re.compile(r"^\s*(?P<name>\S+): (?P<status>.+?)\s*$")


@dataclass(frozen=True)
class Module:
    name: str
    about: str
    mutate: tuple[str, ...]
    tests: tuple[str, ...]


@dataclass
class Score:
    module: Module
    verdicts: dict[str, str]
    equivalent: dict[str, str]
    seconds: float
    counts: Counter[str] = field(init=False)

    def __post_init__(self) -> None:
        self.counts = Counter(self.verdicts.values())

    @property
    def total(self) -> int:
        return len(self.verdicts)

    @property
    def killed(self) -> int:
        return sum(self.counts[status] for status in KILLED)

    @property
    def survivors(self) -> dict[str, str]:
        return {name: status for name, status in self.verdicts.items() if status not in KILLED}

    @property
    def unexplained(self) -> list[str]:
        return sorted(name for name in self.survivors if name not in self.equivalent)

    @property
    def stale(self) -> list[str]:
        """Listed as equivalent but no longer a survivor (killed, renamed or gone)."""
        return sorted(name for name in self.equivalent if name not in self.survivors)

    @property
    def ratio(self) -> float:
        return self.killed / self.total if self.total else 1.0

    @property
    def passes(self) -> bool:
        return self.ratio >= TARGET and not self.unexplained


def load_modules() -> dict[str, Module]:
    document = tomllib.loads(MODULES.read_text())
    return {
        name: Module(name, entry["about"], tuple(entry["mutate"]), tuple(entry["tests"]))
        for name, entry in document.items()
    }


def load_equivalents() -> dict[str, dict[str, str]]:
    """Module -> mutant name -> why no test can tell it from the original."""
    if not EQUIVALENTS.exists():
        return {}
    document = tomllib.loads(EQUIVALENTS.read_text())
    return {module: dict(entries) for module, entries in document.items()}


def prepare(module: Module) -> Path:
    """The module's scratch directory: its ``setup.cfg`` and links to the project.

    mutmut copies ``src`` (mutating the chosen files) and the ``also_copy`` paths
    into ``mutants/`` there and runs the tests from that copy."""
    directory = SCRATCH / module.name
    directory.mkdir(parents=True, exist_ok=True)
    shared = sorted(
        path.name
        for path in ROOT.iterdir()
        if path.name not in _NOT_SHARED and not path.name.startswith(".")
    )
    for name in shared:
        link = directory / name
        if not link.is_symlink():
            link.symlink_to(ROOT / name)
    lines = [
        "[mutmut]",
        "source_paths = src",
        "use_git_change_detection = false",
        "also_copy =",  # tests read the README, docs and deployment files
        *(f"    {name}" for name in shared if name != "src"),
        "only_mutate =",
        *(f"    {path}" for path in module.mutate),
        "pytest_add_cli_args_test_selection =",
        *(f"    {path}" for path in module.tests),
        "pytest_add_cli_args =",
        "    -p",
        "    no:cacheprovider",
    ]
    (directory / "setup.cfg").write_text("\n".join(lines) + "\n")
    return directory


def mutmut(directory: Path, *arguments: str, quiet: bool = False) -> str:
    command = [str(Path(sys.executable).parent / "mutmut"), *arguments]
    environment = {**os.environ, "CONNMGR_REQUIRE_SERVICES": "1"}
    completed = subprocess.run(
        command,
        cwd=directory,
        env=environment,
        check=False,
        stdout=subprocess.PIPE if quiet else subprocess.DEVNULL,
        stderr=subprocess.STDOUT,
        text=True,
    )
    if completed.returncode != 0:
        raise SystemExit(
            f"mutmut {' '.join(arguments)} failed in {directory}: rc {completed.returncode}"
        )
    return completed.stdout or ""


def score(module: Module, equivalents: dict[str, str], max_children: int) -> Score:
    directory = prepare(module)
    started = time.monotonic()
    mutmut(directory, "run", "--max-children", str(max_children))
    seconds = time.monotonic() - started
    verdicts: dict[str, str] = {}
    for line in mutmut(directory, "results", "--all", "true", quiet=True).splitlines():
        if matched := _RESULT.match(line):
            verdicts[matched["name"]] = matched["status"]
    return Score(module, verdicts, equivalents, seconds)


SCORES: Final = ROOT / "mutation" / "scores.json"
"""The last score of each module, so a run of some modules keeps the others' in the report."""


def summary(result: Score) -> dict[str, object]:
    return {
        "about": result.module.about,
        "mutate": list(result.module.mutate),
        "tests": list(result.module.tests),
        "mutants": result.total,
        "killed": result.killed,
        "counts": dict(sorted(result.counts.items())),
        "survivors": dict(sorted(result.survivors.items())),
        "equivalent": {name: result.equivalent[name] for name in sorted(result.equivalent)},
        "unexplained": result.unexplained,
        "stale_equivalents": result.stale,
        "seconds": round(result.seconds),
        "scored_at": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
    }


def render(scores: dict[str, dict[str, object]]) -> str:
    lines = [
        "# Mutation testing of the core",
        "",
        "Generated by `make mutation` (`python mutation/run.py [module ...]`); do not edit by",
        "hand. Each module is mutated alone by [mutmut](https://pypi.org/project/mutmut/) and run",
        "against its own fast tests (`mutation/modules.toml`). A mutant is *killed* when a test",
        f"fails or times out. Target: at least {TARGET:.0%} killed in each module, and every",
        "survivor either killed by a new test or listed in `mutation/equivalents.toml` as",
        "equivalent, with the reason (shown below).",
        "",
        "| module | what it decides | mutants | killed | score | equivalent | unexplained | time |",
        "|---|---|---:|---:|---:|---:|---:|---:|",
    ]
    for name, entry in scores.items():
        mutants, killed = int(str(entry["mutants"])), int(str(entry["killed"]))
        ratio = killed / mutants if mutants else 1.0
        equivalent = entry["equivalent"]
        unexplained = entry["unexplained"]
        assert isinstance(equivalent, dict)
        assert isinstance(unexplained, list)
        lines.append(
            f"| `{name}` | {entry['about']} | {mutants} | {killed} | {ratio:.1%} |"
            f" {len(equivalent)} | {len(unexplained)} | {entry['seconds']} s |"
        )
    for name, entry in scores.items():
        lines += ["", f"## `{name}`", "", f"Scored {entry['scored_at']}.", ""]
        lines.append("Mutated: " + ", ".join(f"`{path}`" for path in _strings(entry["mutate"])))
        lines.append("")
        lines.append("Tests: " + ", ".join(f"`{path}`" for path in _strings(entry["tests"])))
        counts = entry["counts"]
        assert isinstance(counts, dict)
        lines += ["", "Verdicts: " + ", ".join(f"{k} {v}" for k, v in counts.items()), ""]
        survivors, equivalent = entry["survivors"], entry["equivalent"]
        assert isinstance(survivors, dict)
        assert isinstance(equivalent, dict)
        if survivors:
            lines += ["| survivor | verdict | why it is equivalent |", "|---|---|---|"]
            for mutant, status in survivors.items():
                reason = equivalent.get(mutant, "**unexplained: a test should kill it**")
                lines.append(f"| `{mutant}` | {status} | {reason} |")
        stale = _strings(entry["stale_equivalents"])
        if stale:
            lines += ["", "Listed as equivalent but no longer surviving: " + ", ".join(stale)]
    return "\n".join(lines) + "\n"


def _strings(value: object) -> list[str]:
    assert isinstance(value, list)
    return [str(item) for item in value]


def record(modules: dict[str, Module], name: str, entry: dict[str, object]) -> None:
    """Write one module's score as soon as it is known, keeping the others' (read afresh,
    since a second run may have written meanwhile)."""
    scores = json.loads(SCORES.read_text()) if SCORES.exists() else {}
    scores[name] = entry
    ordered = {module: scores[module] for module in modules if module in scores}
    SCORES.write_text(json.dumps(ordered, indent=2) + "\n")
    REPORT.write_text(render(ordered))


def main() -> int:
    modules = load_modules()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("modules", nargs="*", choices=[[], *modules], default=[])
    parser.add_argument("--max-children", type=int, default=os.cpu_count() or 2)
    arguments = parser.parse_args()
    chosen: list[str] = arguments.modules or list(modules)
    max_children: int = arguments.max_children
    equivalents = load_equivalents()
    failed = []
    for name in chosen:
        print(f"== {name}: mutating {', '.join(modules[name].mutate)}", flush=True)
        result = score(modules[name], equivalents.get(name, {}), max_children)
        record(modules, name, summary(result))
        print(
            f"{name}: {result.killed}/{result.total} killed ({result.ratio:.1%}),"
            f" {len(result.unexplained)} unexplained survivor(s), {result.seconds:.0f} s",
            flush=True,
        )
        for mutant in result.unexplained:
            print(f"  survived: {mutant} ({result.survivors[mutant]})")
        if not result.passes:
            failed.append(name)
    if failed:
        print(f"below target or with unexplained survivors: {', '.join(failed)}")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
