"""Put the process's logging back as it was after a test that configures it.

``configure_logging`` replaces the root logger's handlers and level, the
``connmgr`` logger's level, ``sys.excepthook`` and structlog's configuration;
``restored_logging`` undoes all of it (pytest's own capture handler included).
``captured_lines`` captures structlog lines with their bound context, redacted.
"""

from __future__ import annotations

import contextlib
import logging
import sys
from collections.abc import Iterator

import structlog
import structlog.testing
from structlog.typing import EventDict

from connmgr.runtime.redaction import redact_secrets


@contextlib.contextmanager
def restored_logging() -> Iterator[None]:
    root, own = logging.getLogger(), logging.getLogger("connmgr")
    handlers, level, own_level, hook = root.handlers[:], root.level, own.level, sys.excepthook
    try:
        yield
    finally:
        root.handlers[:] = handlers
        root.setLevel(level)
        own.setLevel(own_level)
        sys.excepthook = hook
        logging.captureWarnings(False)
        structlog.reset_defaults()
        structlog.contextvars.clear_contextvars()


@contextlib.contextmanager
def captured_lines() -> Iterator[list[EventDict]]:
    """structlog's capture with the steps of the configured chain a line's fields go
    through: the bound context merged in, then redaction (``runtime/logging.py``)."""
    steps = [structlog.contextvars.merge_contextvars, redact_secrets]
    with structlog.testing.capture_logs(processors=steps) as lines:
        yield lines
