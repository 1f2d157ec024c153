"""The failures every service check (S3, SMTP, IMAP, TCP) maps the same way.

``ServiceCheckContract`` holds the tests; each kind's test module subclasses it
as ``Test…Contract`` and says how to build its check and a target on a port
(``secrets`` are the values that must never leak). The base class is not
collected itself: its name does not start with ``Test``.
"""

from __future__ import annotations

from typing import ClassVar

from svc_net import (
    assert_no_secret,
    black_hole,
    free_closed_port,
    loopback_egress,
    nothing_connected,
    silent_server,
    strict_egress,
    watched_listener,
)

from connmgr.workers.checks.base import Check, CheckTarget, Outcome
from connmgr.workers.egress import Egress
from support.leaks import LeakChannels


class ServiceCheckContract:
    secrets: ClassVar[tuple[str, ...]] = ()

    def check(self, egress: Egress) -> Check:
        raise NotImplementedError

    def target(self, port: int, timeout_s: float = 5.0) -> CheckTarget:
        """A target on 127.0.0.1 ``port`` that a silent server leaves waiting."""
        raise NotImplementedError

    async def test_a_closed_port_is_unreachable(self) -> None:
        result = await self.check(loopback_egress()).run(self.target(free_closed_port()))
        assert result.outcome is Outcome.UNREACHABLE

    async def test_a_black_holed_target_times_out_within_the_bound(self) -> None:
        with black_hole() as port:
            result = await self.check(loopback_egress()).run(self.target(port, timeout_s=0.5))
        assert result.outcome is Outcome.TIMEOUT
        assert 400 < result.latency_ms < 2000

    async def test_a_target_that_never_answers_times_out_within_the_bound(self) -> None:
        async with silent_server() as port:
            result = await self.check(loopback_egress()).run(self.target(port, timeout_s=0.5))
        assert result.outcome is Outcome.TIMEOUT
        assert result.latency_ms < 2000

    async def test_loopback_is_refused_by_policy_with_nothing_sent(
        self, leak_channels: LeakChannels
    ) -> None:
        with watched_listener() as (port, listener):
            result = await self.check(strict_egress()).run(self.target(port))
            assert nothing_connected(listener)
        assert result.outcome is Outcome.REFUSED_BY_POLICY
        if self.secrets:  # a kind with no secret has nothing to leak
            assert_no_secret(result, leak_channels, *self.secrets)
