"""Where secrets could leak to, collected as text for ``secret_scan.SecretScanner``.

- ``NatsTap``: every message on a server's account (a subscriber on ``>`` over an
  unrestricted connection): subject, reply subject, headers and body. JetStream
  API requests, pull deliveries, outcomes and relayed events all pass there.
- ``LogTap``: connmgr's own logging pipeline (``configure_logging``) at a chosen
  level (``debug`` by default, the level that leaks most), rendered into a
  buffer instead of stderr, plus every record that pipeline emits, as it was
  before redaction (message, arguments and exception text): what any further
  handler on the root logger (an error tracker, a log shipper) would receive.
  Restores the previous configuration on exit.
- ``records_text``: the same for records a test captured itself (``caplog``).
- ``database_text``: every row of every connmgr table.
- ``api_texts``: status, headers and body of each API path read with a token,
  every page of it.
"""

from __future__ import annotations

import contextlib
import gc
import io
import json
import logging
import traceback
from collections.abc import AsyncIterator, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

import structlog
from aiohttp.test_utils import TestClient
from nats.aio.client import Client
from nats.aio.msg import Msg
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from connmgr.runtime.logging import configure_logging
from connmgr.schemas.settings import Settings
from connmgr.storage.tables import metadata


@dataclass
class NatsTap:
    """Records every message published on the account of ``nc`` while subscribed."""

    messages: list[Msg] = field(default_factory=list)

    @classmethod
    @contextlib.asynccontextmanager
    async def on(cls, nc: Client) -> AsyncIterator[NatsTap]:
        tap = cls()

        async def record(message: Msg) -> None:
            tap.messages.append(message)

        subscription = await nc.subscribe(">", cb=record)
        try:
            yield tap
        finally:
            await subscription.unsubscribe()

    def text(self) -> str:
        return "\n".join(message_text(message) for message in self.messages)

    def subjects(self) -> list[str]:
        return [message.subject for message in self.messages]


def message_text(message: Msg) -> str:
    headers = json.dumps(message.headers or {}, sort_keys=True)
    body = message.data.decode("utf-8", errors="backslashreplace")
    return f"{message.subject} reply={message.reply} headers={headers} {body}"


class _RecordKeeper(logging.Filter):
    """Placed last on the pipeline's handler: sees exactly the records it emits."""

    def __init__(self) -> None:
        super().__init__()
        self.records: list[logging.LogRecord] = []

    def filter(self, record: logging.LogRecord) -> bool:
        self.records.append(record)
        return True


@dataclass
class LogTap:
    """The rendered log output and the raw records of everything logged while open."""

    rendered: io.StringIO = field(default_factory=io.StringIO)
    keeper: _RecordKeeper = field(default_factory=_RecordKeeper)

    @classmethod
    @contextlib.contextmanager
    def configured(cls, level: str = "debug") -> Iterator[LogTap]:
        tap = cls()
        root = logging.getLogger()
        handlers, previous_level = root.handlers[:], root.level
        with contextlib.redirect_stderr(tap.rendered):
            configure_logging(Settings(log_format="json", log_level=level))
        forget_cached_structlog_loggers()
        for handler in root.handlers:
            handler.addFilter(tap.keeper)
        try:
            yield tap
        finally:
            root.handlers[:] = handlers
            root.setLevel(previous_level)
            structlog.reset_defaults()
            forget_cached_structlog_loggers()

    def text(self) -> str:
        return self.rendered.getvalue()

    def records_text(self) -> str:
        return records_text(self.keeper.records)


def forget_cached_structlog_loggers() -> None:
    """Module-level structlog proxies cache the configuration of their first use
    (``cache_logger_on_first_use``); make each pick up the current one."""
    proxy = structlog._config.BoundLoggerLazyProxy
    for thing in gc.get_objects():
        if type(thing) is proxy:  # never isinstance: a dead weak proxy raises
            thing.__dict__.pop("bind", None)


def records_text(records: Iterable[logging.LogRecord]) -> str:
    """Each record's message template, arguments, rendered message and exception."""
    lines = []
    for record in records:
        parts = [str(record.msg), repr(record.args)]
        with contextlib.suppress(Exception):
            parts.append(record.getMessage())
        if record.exc_info and record.exc_info[1] is not None:
            parts.append("".join(traceback.format_exception(record.exc_info[1])))
        if record.exc_text:
            parts.append(record.exc_text)
        lines.append(" ".join(parts))
    return "\n".join(lines)


async def database_text(engine: AsyncEngine) -> dict[str, str]:
    """Every row of every connmgr table, as JSON text per table."""
    texts: dict[str, str] = {}
    async with engine.connect() as connection:
        for table in metadata.sorted_tables:
            rows = (await connection.execute(select(table))).mappings().all()
            texts[f"table {table.name}"] = json.dumps([dict(row) for row in rows], default=str)
    return texts


async def api_texts(
    client: TestClient[Any, Any], token: str, paths: Iterable[str], *, max_pages: int = 1000
) -> dict[str, str]:
    """GET each path with the token, following its pages (``next_after`` while
    ``has_more``, or ``next_cursor``): status, headers and body of each, as text."""
    texts: dict[str, str] = {}
    for path in paths:
        pages: list[str] = []
        params: dict[str, str] = {}
        for _ in range(max_pages):
            response = await client.get(
                path, params=params, headers={"Authorization": f"Bearer {token}"}
            )
            body = await response.text()
            pages.append(f"{response.status} {json.dumps(dict(response.headers))} {body}")
            params = _next_page(body)
            if not params:
                break
        texts[f"api {path}"] = "\n".join(pages)
    return texts


def _next_page(body: str) -> dict[str, str]:
    try:
        document = json.loads(body)
    except ValueError:
        return {}
    if not isinstance(document, dict):
        return {}
    if document.get("has_more") and "next_after" in document:
        return {"after": str(document["next_after"])}
    if document.get("next_cursor"):
        return {"cursor": str(document["next_cursor"])}
    return {}
