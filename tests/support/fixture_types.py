"""Types of the factory fixtures in ``tests/conftest.py``, for annotating test arguments."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TypeAlias

from connmgr.runtime.nats_server import NatsServer

StartNatsServer: TypeAlias = Callable[..., Awaitable[NatsServer]]
"""``await start(**NatsServer keyword options)``: a started private server."""

NewPostgresUrl: TypeAlias = Callable[[], Awaitable[str]]
"""``await new()``: the async SQLAlchemy URL of a fresh, empty PostgreSQL database."""
