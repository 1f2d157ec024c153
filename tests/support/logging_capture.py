"""Put the process's logging back as it was after a test that configures it.

``configure_logging`` replaces the root logger's handlers and level, the
``connmgr`` logger's level, ``sys.excepthook`` and structlog's configuration;
``restored_logging`` undoes all of it (pytest's own capture handler included).
"""

from __future__ import annotations

import contextlib
import logging
import sys
from collections.abc import Iterator

import structlog


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
