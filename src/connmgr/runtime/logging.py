"""Logging for every connmgr process: structlog, configured once in ``main()``.

Each line has an ISO-8601 UTC ``timestamp``, ``level``, ``logger``, the context
bound with ``structlog.contextvars`` and the call's fields; JSON per line when
``log_format`` is ``json`` (or ``auto`` and stderr is not a terminal), a console
layout otherwise. Standard ``logging`` records (nats, aiohttp, drivers), Python
warnings and uncaught exceptions take the same route: one handler on the root
logger, whose formatter ends in ``redact_secrets``. Library loggers that had
handlers of their own lose them and propagate to it.

``log_level`` applies to connmgr's own loggers (``connmgr.*``) only. Every other
logger (redis, asyncpg, aiomysql, pymongo, aiosqlite, botocore, aiohttp, nats,
sqlalchemy, asyncio, …) is held at WARNING or above whatever the level: their
debug lines quote server replies, queries and rows. A handler filter enforces
it even for a library that sets its own logger's level.

``redact_secrets`` (``runtime.redaction``) runs on every line. It guards the
rule that secrets are never bound; it is not a licence to bind them.
"""

from __future__ import annotations

import logging
import sys
from typing import Any, Final

import structlog
from structlog.typing import Processor

from connmgr.runtime.redaction import REDACTED, redact_secrets
from connmgr.schemas.settings import Settings

THIRD_PARTY_FLOOR: Final = logging.WARNING
OWN_LOGGER: Final = "connmgr"
__all__ = ["REDACTED", "configure_logging", "redact_secrets"]


def _renderers(settings: Settings) -> list[Processor]:
    """The end of every chain. Tracebacks leave out local variables (they may
    hold secrets) and come before redaction, which masks their messages too."""
    use_json = settings.log_format == "json" or (
        settings.log_format == "auto" and not sys.stderr.isatty()
    )
    if use_json:
        exceptions = structlog.processors.ExceptionRenderer(
            structlog.tracebacks.ExceptionDictTransformer(show_locals=False)
        )
        return [exceptions, redact_secrets, structlog.processors.JSONRenderer()]
    return [
        structlog.processors.format_exc_info,
        redact_secrets,
        structlog.dev.ConsoleRenderer(colors=sys.stderr.isatty()),
    ]


def is_own_logger(name: str) -> bool:
    return name == OWN_LOGGER or name.startswith(OWN_LOGGER + ".")


def _library_floor(record: logging.LogRecord) -> bool:
    """Handler filter: a library's record passes only at WARNING or above."""
    return record.levelno >= THIRD_PARTY_FLOOR or is_own_logger(record.name)


def _route_library_handlers_to_root() -> None:
    """Loggers that print through handlers of their own would skip redaction: detach them."""
    for logger in list(logging.Logger.manager.loggerDict.values()):
        if isinstance(logger, logging.Logger) and any(
            not isinstance(handler, logging.NullHandler) for handler in logger.handlers
        ):
            logger.handlers[:] = []
            logger.propagate = True


def _log_uncaught(kind: type[BaseException], error: BaseException, trace: Any) -> None:
    """``sys.excepthook``: an uncaught exception is a (redacted) log line, not raw stderr."""
    logging.getLogger(f"{OWN_LOGGER}.uncaught").critical(
        "uncaught_exception", exc_info=(kind, error, trace)
    )


def configure_logging(settings: Settings) -> None:
    """Route structlog and standard logging through one pipeline to stderr.

    Call once per process, before the first line is logged; calling again
    replaces the previous configuration.
    """
    level = logging.getLevelNamesMapping()[settings.log_level.upper()]
    shared: list[Processor] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        structlog.processors.StackInfoRenderer(),
    ]
    meta = structlog.stdlib.ProcessorFormatter.remove_processors_meta
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=shared, processors=[meta, *_renderers(settings)]
        )
    )
    handler.addFilter(_library_floor)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(max(level, THIRD_PARTY_FLOOR))
    logging.getLogger(OWN_LOGGER).setLevel(level)
    _route_library_handlers_to_root()
    logging.captureWarnings(True)
    sys.excepthook = _log_uncaught
    structlog.configure(
        processors=[*shared, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.make_filtering_bound_logger(level),
        cache_logger_on_first_use=True,
    )
