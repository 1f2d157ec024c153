"""What the SMTP and IMAP checks share: the check's scaffolding and the bounded run.

A mail check is a ``MailCheck`` whose ``_talk`` holds the conversation over a
``mail_channel.LineChannel`` (opened and closed here). Server text is only ever
*parsed* to choose among fixed sentences; it never reaches a ``CheckResult``.
The one exception is ``vetted.known_product``, which reports a product name
from a fixed list when the banner contains it, never the banner itself.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, ClassVar, Final, Generic, TypeVar

from connmgr.workers.checks.base import CheckResult, CheckTarget, Outcome, ServerIdentity
from connmgr.workers.checks.failures import CheckFailed
from connmgr.workers.checks.mail_channel import (
    CLOSE_GRACE_S,
    LineChannel,
    ProtocolViolation,
    open_channel,
)
from connmgr.workers.checks.net import Stopwatch, classify
from connmgr.workers.egress import DnsFailure, Egress, EgressRefused

ConfigT = TypeVar("ConfigT")
BROKEN_PROTOCOL: Final = "the server broke the protocol or closed the connection early"


# What a conversation with a failing target may raise; anything else is a bug.
TARGET_FAILURES: Final = (
    CheckFailed,
    ProtocolViolation,
    EgressRefused,
    DnsFailure,
    TimeoutError,
    OSError,
    EOFError,
    asyncio.LimitOverrunError,
)


@dataclass
class Learned:
    """What the check learned about the server so far (kept on failure too)."""

    server: ServerIdentity | None = None


async def say_goodbye(farewell: Awaitable[object]) -> None:
    """QUIT/LOGOUT politely, but never let a silent server turn a success into a timeout."""
    with contextlib.suppress(*TARGET_FAILURES):
        await asyncio.wait_for(farewell, CLOSE_GRACE_S)


def password_of(target: CheckTarget) -> str:
    """The stored password; a missing one is a configuration error, not a crash."""
    password = target.secrets.get("password")
    if not password:
        raise CheckFailed(Outcome.CONFIG_ERROR, "the connection has no stored password")
    return password


Conversation = Callable[[CheckTarget, Stopwatch, Learned], Awaitable[str]]
"""Talks to the target; returns the fixed sentence of its success or raises."""


async def run_bounded(target: CheckTarget, converse: Conversation) -> CheckResult:
    """Run ``converse`` within ``target.timeout_s``; map every target failure to an outcome.

    Returns ``ok`` with the conversation's sentence when it returns. Failures of
    the target become their outcome with a fixed sentence; a bug (any other
    exception) propagates.
    """
    watch = Stopwatch()
    learned = Learned()
    try:
        async with asyncio.timeout(target.timeout_s):
            sentence = await converse(target, watch, learned)
    except CheckFailed as failure:
        return watch.result(failure.outcome, failure.detail, learned.server)
    except (ProtocolViolation, EOFError, asyncio.LimitOverrunError):
        return watch.result(Outcome.PROTOCOL_ERROR, BROKEN_PROTOCOL, learned.server)
    except TARGET_FAILURES as error:
        outcome, detail = classify(error)
        return watch.result(outcome, detail, learned.server)
    return watch.result(Outcome.OK, sentence, learned.server)


class MailCheck(Generic[ConfigT]):
    """A check that talks to a mail server over one line channel, within the timeout.

    ``config_type`` is the kind's config (another kind's config is a bug: it
    raises); the config's ``security`` of ``implicit`` opens the channel with TLS.
    """

    config_type: ClassVar[type[Any]]

    def __init__(self, egress: Egress) -> None:
        self._egress = egress

    async def run(self, target: CheckTarget) -> CheckResult:
        return await run_bounded(target, self._converse)

    async def _converse(self, target: CheckTarget, watch: Stopwatch, learned: Learned) -> str:
        config = target.config
        if not isinstance(config, self.config_type):
            raise TypeError(f"{type(self).__name__} needs an {self.config_type.__name__}")
        implicit = config.security == "implicit"
        channel = await open_channel(self._egress, target, watch, implicit_tls=implicit)
        try:
            return await self._talk(channel, config, target, watch, learned)
        finally:
            await channel.close()

    async def _talk(
        self,
        channel: LineChannel,
        config: ConfigT,
        target: CheckTarget,
        watch: Stopwatch,
        learned: Learned,
    ) -> str:
        """The conversation; returns the fixed sentence of its success or raises."""
        raise NotImplementedError
