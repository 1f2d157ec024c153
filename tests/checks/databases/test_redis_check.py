"""Redis check: ACL permissions, database numbers, TLS pinned to the configured name.

Peers: the machine's Redis with ACL users made by the fixtures; for TLS, a proxy
that terminates TLS with the self-signed ``*.db.test`` certificate in front of it
(the machine's Redis has no TLS port) and records the SNI names it was asked for.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from db_peers import Proxy, server_context
from db_pki import SelfSigned
from db_subjects import Subject, redis_subject

from connmgr.workers.checks.base import Outcome
from connmgr.workers.checks.redis import RedisCheck
from connmgr.workers.egress import Egress

NAME = "redis.db.test"


@pytest.fixture
def rd(redis_users: tuple[str, str, str]) -> Subject:
    user, password, _ = redis_users
    return redis_subject(user, password)


@pytest.fixture
async def tls_proxy(certificate: SelfSigned, folder: str) -> AsyncIterator[Proxy]:
    context = server_context(certificate.cert_pem, certificate.key_pem, folder)
    async with Proxy(upstream=6379, tls=context).running() as proxy:
        yield proxy


async def test_a_user_without_permission_for_the_commands_is_permission_denied(
    redis_users: tuple[str, str, str], egress: Egress
) -> None:
    _, password, powerless = redis_users

    result = await RedisCheck(egress).run(redis_subject(powerless, password).target())

    assert result.outcome is Outcome.PERMISSION_DENIED, result
    assert result.detail == "the user may not run the check's commands"


async def test_a_database_number_the_server_does_not_have_is_a_config_error(
    rd: Subject, egress: Egress
) -> None:
    result = await RedisCheck(egress).run(rd.target(db=1000))

    assert result.outcome is Outcome.CONFIG_ERROR, result


async def test_tls_fails_on_a_self_signed_certificate_without_its_ca(
    rd: Subject, egress: Egress, tls_proxy: Proxy
) -> None:
    result = await RedisCheck(egress).run(rd.target(host=NAME, port=tls_proxy.port, tls=True))

    assert result.outcome is Outcome.TLS_ERROR, result


async def test_tls_with_the_ca_is_ok_and_names_the_configured_host(
    rd: Subject, egress: Egress, tls_proxy: Proxy, certificate: SelfSigned
) -> None:
    target = rd.target(host=NAME, port=tls_proxy.port, tls=True, ca_pem=certificate.ca_pem)

    result = await RedisCheck(egress).run(target)

    assert result.outcome is Outcome.OK, result
    assert result.server is not None
    assert result.server.tls_subject == NAME  # the name verified, not read from the certificate
    assert tls_proxy.server_names == [NAME]
