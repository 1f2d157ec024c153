"""A pytest plugin: a run ends with one line naming every test skipped for a missing service.

Locally a missing service skips its tests (``support.services``); among hundreds
of passes those skips are easy to miss, so the terminal summary ends (just before
pytest's closing counts, after its short test summary) with::

    skipped for a missing service: 3 tests (mariadb 2: tests/a.py::x, tests/a.py::y; redis 1: ...)

or ``skipped for a missing service: none``. Under ``CONNMGR_REQUIRE_SERVICES=1`` a
missing service fails its tests instead, so the line says none there. Only skips
raised as ``MissingService`` count; any other skip is pytest's own business.
"""

from __future__ import annotations

from collections.abc import Generator

import pytest

from support.services import MissingService

SUMMARY_PREFIX = "skipped for a missing service:"
_SKIPPED: pytest.StashKey[dict[str, list[str]]] = pytest.StashKey()


def pytest_configure(config: pytest.Config) -> None:
    config.stash[_SKIPPED] = {}


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    report = yield
    if report.skipped and call.excinfo is not None:
        error = call.excinfo.value
        if isinstance(error, MissingService):
            item.config.stash[_SKIPPED].setdefault(error.service, []).append(item.nodeid)
    return report


def missing_service_line(skipped: dict[str, list[str]]) -> str:
    """The summary line: the count, then per service its count and node ids."""
    total = sum(len(node_ids) for node_ids in skipped.values())
    if not total:
        return f"{SUMMARY_PREFIX} none"
    per_service = "; ".join(
        f"{service} {len(node_ids)}: {', '.join(node_ids)}"
        for service, node_ids in sorted(skipped.items())
    )
    return f"{SUMMARY_PREFIX} {total} test{'s' if total != 1 else ''} ({per_service})"


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> Generator[None]:
    # Outermost wrapper, written after the others: after pytest's short test summary.
    try:
        return (yield)
    finally:
        config = terminalreporter.config
        if not config.option.collectonly:
            terminalreporter.write_line(missing_service_line(config.stash[_SKIPPED]))
