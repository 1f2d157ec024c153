"""NATS (re)connection of a long-running process: one WARN line per attempt, growing waits.

nats-py tries an absent server again every ``reconnect_time_wait`` seconds and
reports each failed attempt to ``error_cb``, whose default logs an ERROR line
with a traceback (1.6 KB) each time: every second for as long as the broker is
away. ``ReconnectLog`` takes its place, for the first connection and for every
reconnection after a loss:

- each failed attempt (while not connected) is one WARNING line, ``nats_unavailable``, with the
  attempt number, the reason in one line (``failures.describe``) and the wait
  before the next attempt, ``retry_in_s``; that wait is the client's next
  ``reconnect_time_wait``, so it is what the client really waits;
- the waits grow with jitter: ``RECONNECT_BACKOFF.delay_s(attempt)``, between
  half and all of ``first * 2**(attempt-1)``, at most ``max_delay_s`` (the
  supervision's ``RestartPolicy``: one backoff function for the runtime);
- the loss itself is one WARNING line, ``nats_disconnected``; the return one
  INFO line, ``nats_reconnected``, with the attempts it took and the seconds
  the connection was down; then the waits start small again;
- any other asynchronous error of a connected client (a permissions violation,
  a slow consumer) is one WARNING line, ``nats_error``, without a traceback.

Only a client created by this module's caller and handed to ``attach`` before
``connect`` is governed: the first connection runs through the same callbacks.
"""

from __future__ import annotations

import time
from typing import Any, Final

import structlog
from nats.aio.client import Client as NatsClient

from connmgr.runtime.failures import describe
from connmgr.runtime.supervision import RestartPolicy

log = structlog.get_logger("connmgr.nats")

RECONNECT_BACKOFF: Final = RestartPolicy(first_delay_s=0.5, max_delay_s=15.0)
"""Waits between attempts: 0.25-0.5 s, 0.5-1 s, 1-2 s, … up to 7.5-15 s."""
_WAIT_OPTION: Final = "reconnect_time_wait"


class ReconnectLog:
    """The callbacks of one client: ``client.connect(..., **log.callbacks())``."""

    def __init__(self, name: str, policy: RestartPolicy = RECONNECT_BACKOFF) -> None:
        self.name = name
        self.policy = policy
        self.attempts = 0
        self._client: NatsClient | None = None
        self._down_since: float | None = None

    def attach(self, client: NatsClient) -> None:
        self._client = client

    def callbacks(self) -> dict[str, Any]:
        """``error_cb``, ``disconnected_cb`` and ``reconnected_cb`` for ``Client.connect``,
        with the first wait (the client's own option, which ``on_error`` then grows)."""
        return {
            "error_cb": self.on_error,
            "disconnected_cb": self.on_disconnected,
            "reconnected_cb": self.on_reconnected,
            _WAIT_OPTION: self.policy.first_delay_s,
        }

    async def on_error(self, error: Exception) -> None:
        client = self._client
        if client is not None and client.is_closed:  # closing: the process is stopping
            log.debug("nats_error", connection=self.name, error=describe(error))
            return
        if client is not None and client.is_connected:
            log.warning("nats_error", connection=self.name, error=describe(error))
            return
        self.attempts += 1
        delay = self.policy.delay_s(self.attempts)
        if self._client is not None:
            self._client.options[_WAIT_OPTION] = delay
        log.warning(
            "nats_unavailable",
            connection=self.name,
            attempt=self.attempts,
            retry_in_s=round(delay, 2),
            error=describe(error),
        )

    async def on_disconnected(self) -> None:
        if self._client is not None and self._client.is_closed:
            return  # closed on purpose: no loss to report
        if self._down_since is None:
            self._down_since = time.monotonic()
            log.warning("nats_disconnected", connection=self.name)

    async def on_reconnected(self) -> None:
        down_s = time.monotonic() - self._down_since if self._down_since is not None else 0.0
        log.info(
            "nats_reconnected",
            connection=self.name,
            attempts=self.attempts,
            down_s=round(down_s, 1),
        )
        self.attempts = 0
        self._down_since = None
        if self._client is not None:
            self._client.options[_WAIT_OPTION] = self.policy.first_delay_s


async def quiet_error(error: Exception) -> None:
    """``error_cb`` of a one-shot connection (an operator command, a probe): the
    command itself reports the failure in one line; here it is a debug line only."""
    log.debug("nats_error", error=describe(error))
