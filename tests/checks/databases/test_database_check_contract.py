"""The contract every database check keeps, run against each kind's real peer.

Peers: a private PostgreSQL cluster with SCRAM, the machine's MariaDB and Redis
(accounts made by the fixtures), and for MongoDB a mockupdb server scripted to
do SCRAM-SHA-256 (see ``db_mongo``). Black holes, closed ports and foreign
protocols are loopback peers from ``db_peers``.
"""

from __future__ import annotations

import time

from db_peers import Listener, banner_server, closed_port, silent_server, syn_dropped_port
from db_subjects import Subject

from connmgr.workers.checks.base import CheckResult, Outcome
from connmgr.workers.egress import Egress
from support.leaks import LeakChannels

TIMEOUT_S = 1.0
CLOSE_SLACK_S = 0.75


async def test_a_correct_login_is_ok_with_the_server_version(
    subject: Subject, egress: Egress
) -> None:
    result = await subject.check(egress).run(subject.target())

    assert result.outcome is Outcome.OK, result
    assert result.server is not None
    assert result.server.version
    assert {"resolve", "query"} <= result.phases.keys()


async def test_a_wrong_password_is_auth_failed(subject: Subject, egress: Egress) -> None:
    result = await subject.check(egress).run(subject.target(password="not-the-password"))

    assert result.outcome is Outcome.AUTH_FAILED, result
    assert result.detail == "the server rejected the user name or password"


async def test_a_closed_port_is_unreachable(subject: Subject, egress: Egress) -> None:
    with closed_port() as port:
        result = await subject.check(egress).run(subject.target(port=port))

    assert result.outcome is Outcome.UNREACHABLE, result
    assert result.detail == "the connection was refused"


async def test_a_target_dropping_syns_times_out_within_the_bound(
    subject: Subject, egress: Egress
) -> None:
    with syn_dropped_port() as port:
        result, elapsed = await _timed(subject, egress, port)

    assert result.outcome is Outcome.TIMEOUT, result
    assert TIMEOUT_S * 0.8 <= elapsed <= TIMEOUT_S + CLOSE_SLACK_S


async def test_a_target_that_accepts_and_never_answers_times_out_within_the_bound(
    subject: Subject, egress: Egress
) -> None:
    async with silent_server() as port:
        result, elapsed = await _timed(subject, egress, port)

    assert result.outcome is Outcome.TIMEOUT, result
    assert TIMEOUT_S * 0.8 <= elapsed <= TIMEOUT_S + CLOSE_SLACK_S


async def _timed(subject: Subject, egress: Egress, port: int) -> tuple[CheckResult, float]:
    started = time.monotonic()
    result = await subject.check(egress).run(subject.target(port=port, timeout_s=TIMEOUT_S))
    return result, time.monotonic() - started


async def test_loopback_is_refused_by_policy_and_nothing_reaches_it(
    subject: Subject, strict_egress: Egress
) -> None:
    listener = Listener()
    try:
        result = await subject.check(strict_egress).run(subject.target(port=listener.port))
        reached = listener.accepted_any()
    finally:
        listener.close()

    assert result.outcome is Outcome.REFUSED_BY_POLICY, result
    assert result.detail == "the target is refused by the egress policy (loopback address)"
    assert not reached
    assert set(result.phases) <= {"resolve"}


async def test_a_name_that_does_not_resolve_is_a_dns_error(
    subject: Subject, egress: Egress
) -> None:
    result = await subject.check(egress).run(subject.target(host="nowhere.invalid"))

    assert result.outcome is Outcome.DNS_ERROR, result


async def test_a_server_of_another_protocol_is_a_protocol_error(
    subject: Subject, egress: Egress
) -> None:
    async with banner_server() as port:
        result = await subject.check(egress).run(subject.target(port=port, timeout_s=3.0))

    assert result.outcome is Outcome.PROTOCOL_ERROR, result


async def test_no_secret_reaches_a_result_or_a_log(
    subject: Subject,
    egress: Egress,
    leak_channels: LeakChannels,
) -> None:
    check = subject.check(egress)
    wrong = f"wrong-{subject.password}"
    results = [await check.run(subject.target())]
    results.append(await check.run(subject.target(password=wrong)))
    with closed_port() as port:
        results.append(await check.run(subject.target(port=port)))
    async with banner_server() as port:
        results.append(await check.run(subject.target(port=port, password=wrong, timeout_s=3.0)))

    expected = [Outcome.OK, Outcome.AUTH_FAILED, Outcome.UNREACHABLE, Outcome.PROTOCOL_ERROR]
    assert [result.outcome for result in results] == expected
    leak_channels.secrets(subject.password, wrong)
    leak_channels.add("results", results)
    leak_channels.assert_clean()
