"""Every channel a test's secrets could leak to, scanned by one ``SecretScanner``.

``LeakChannels`` (the ``leak_channels`` fixture of ``tests/conftest.py``) holds the
test's scanner and gathers, while the test runs:

- stdlib log records at every level (pytest's ``caplog`` at ``DEBUG``): template,
  arguments, rendered message and exception text (``haystacks.records_text``);
- structlog events as the code logged them, before any processor (so before the
  production redaction, which guards; it does not excuse binding a secret);
- captured stdout and stderr (``capsys``; a test that reads them itself calls
  ``output()`` instead of ``capsys.readouterr()``, so nothing escapes the scan);
- what the test adds: results, events, outcomes, API responses (``add``),
  exceptions with their chain and traceback (``add_exception``), NATS traffic
  (``haystacks.NatsTap.text()``).

``assert_clean()`` scans all of it in every form the scanner knows. Loggers of a
test's own peers (a fake server printing what it received) can be left out
with ``ignore_loggers``, and the test's set-up with ``watch_from_here``.
"""

from __future__ import annotations

import contextlib
import copy
import traceback
from collections.abc import Iterator, MutableMapping
from dataclasses import dataclass, field
from typing import Any

import pytest
import structlog
from structlog.typing import EventDict, WrappedLogger

from support.haystacks import forget_cached_structlog_loggers, records_text
from support.secret_scan import PEM_BLOCK, SecretScanner


@dataclass
class _EventRecorder:
    """A structlog processor that keeps a copy of each event and passes it on unchanged."""

    events: list[MutableMapping[str, Any]] = field(default_factory=list)

    def __call__(self, _logger: WrappedLogger, method: str, event_dict: EventDict) -> EventDict:
        self.events.append({"log_level": method, **_copied(event_dict)})
        return event_dict


def _copied(event_dict: EventDict) -> dict[str, Any]:
    try:
        return copy.deepcopy(dict(event_dict))
    except Exception:  # an uncopyable value: its text now is what would be logged
        return {key: repr(value) for key, value in event_dict.items()}


@dataclass
class LeakChannels:
    """The scanner of one test and the channels gathered for it."""

    caplog: pytest.LogCaptureFixture
    capsys: pytest.CaptureFixture[str]
    scanner: SecretScanner = field(default_factory=SecretScanner)
    texts: dict[str, str] = field(default_factory=dict)
    _recorder: _EventRecorder = field(default_factory=_EventRecorder)
    _stdout: list[str] = field(default_factory=list)
    _stderr: list[str] = field(default_factory=list)
    _ignored: tuple[str, ...] = ()

    @classmethod
    @contextlib.contextmanager
    def opened(
        cls, caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str]
    ) -> Iterator[LeakChannels]:
        channels = cls(caplog, capsys)
        caplog.set_level("DEBUG")
        previous = structlog.get_config()
        structlog.configure(processors=[channels._recorder, *previous["processors"]])
        forget_cached_structlog_loggers()
        try:
            yield channels
        finally:
            # The test may have configured logging itself; keep its pipeline, drop ours.
            processors = structlog.get_config()["processors"]
            if processors and processors[0] is channels._recorder:
                structlog.configure(processors=processors[1:])
            forget_cached_structlog_loggers()

    def secrets(self, *values: str, username: str | None = None) -> None:
        """Secrets to search for, labelled by position; PEM values by their lines too."""
        for value in dict.fromkeys(values):
            label = f"secret {len(self.scanner.labels) + 1}"
            if PEM_BLOCK.search(value):
                self.scanner.add_pem(label, value)
            else:
                self.scanner.add(label, value, username=username)

    def add(self, where: str, text: str | bytes | object) -> None:
        """A haystack of the test: text as is, anything else by its ``repr``."""
        if isinstance(text, bytes):
            text = text.decode("utf-8", errors="backslashreplace")
        self.texts[where] = self.texts.get(where, "") + (
            text if isinstance(text, str) else repr(text)
        )

    def add_exception(self, where: str, error: BaseException) -> None:
        """Its text, ``repr``, chain and traceback."""
        rendered = "".join(traceback.format_exception(error))
        self.add(where, f"{error} {error!r}\n{rendered}")

    def watch_from_here(self) -> None:
        """Forget what was logged and printed so far: the test's own set-up (seeding
        rows through a library that logs its parameters at debug) is not the code
        under test."""
        self.caplog.clear()
        self._recorder.events.clear()
        self.capsys.readouterr()

    def ignore_loggers(self, *prefixes: str) -> None:
        """Leave out records of these loggers: a test's own peers, which see secrets."""
        self._ignored += prefixes

    def output(self) -> tuple[str, str]:
        """``(stdout, stderr)`` captured since the last call; kept for the scan."""
        captured = self.capsys.readouterr()
        self._stdout.append(captured.out)
        self._stderr.append(captured.err)
        return captured.out, captured.err

    def haystacks(self) -> dict[str, str]:
        self.output()
        records = [r for r in self.caplog.records if not r.name.startswith(self._ignored or "\0")]
        events = [e for e in self._recorder.events if not _from(e, self._ignored)]
        return {
            "log records": records_text(records),
            "structlog events": "\n".join(map(repr, events)),
            "stdout": "".join(self._stdout),
            "stderr": "".join(self._stderr),
            **self.texts,
        }

    def assert_clean(self) -> None:
        """Fail, naming channel and form (never the secret), if any secret is found."""
        self.scanner.assert_clean(self.haystacks())


def _from(event: MutableMapping[str, Any], prefixes: tuple[str, ...]) -> bool:
    return bool(prefixes) and str(event.get("logger", "")).startswith(prefixes)
