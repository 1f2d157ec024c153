"""MongoDB check against MongoDB wire-protocol peers (no MongoDB server installs here).

Peers: ``nx-27017`` (PyPI) for real unauthenticated ``hello``/``ping``/
``buildInfo``/``listCollections`` answers, behind a TLS proxy for the TLS
tests; ``mockupdb`` (PyPI) scripted in ``db_mongo`` for SCRAM-SHA-256 and for an
``Unauthorized`` reply. Neither models roles, replica sets or a real TLS
server: the proxy terminates TLS with the ``*.db.test`` self-signed certificate.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from db_mongo import ScramMongo
from db_peers import Proxy, server_context
from db_pki import SelfSigned

from connmgr.schemas.connection_auth import BasicAuth, NoAuth
from connmgr.schemas.kinds import Kind, MongodbConfig
from connmgr.workers.checks.base import CheckTarget, Outcome
from connmgr.workers.checks.mongodb import MongodbCheck
from connmgr.workers.egress import Egress

NAME = "mongo.db.test"


def _target(
    port: int, *, host: str = "127.0.0.1", password: str | None = None, **config: object
) -> CheckTarget:
    auth = BasicAuth(username="app") if password is not None else NoAuth()
    return CheckTarget(
        connection_id="22222222-2222-4222-8222-222222222222",
        kind=Kind.MONGODB,
        config=MongodbConfig.model_validate({"host": host, "port": port, "tls": False, **config}),
        auth=auth,
        secrets={"password": password} if password is not None else {},
        timeout_s=5.0,
    )


@pytest.fixture
async def tls_proxy(nx_mongo: int, certificate: SelfSigned, folder: str) -> AsyncIterator[Proxy]:
    context = server_context(certificate.cert_pem, certificate.key_pem, folder)
    async with Proxy(upstream=nx_mongo, tls=context).running() as proxy:
        yield proxy


async def test_hello_ping_and_collections_of_a_database_are_ok(
    nx_mongo: int, egress: Egress
) -> None:
    result = await MongodbCheck(egress).run(_target(nx_mongo, database="appdb"))

    assert result.outcome is Outcome.OK, result
    assert result.server is not None
    assert result.server.version == "7.0.0"
    assert {"resolve", "connect", "auth", "query"} <= result.phases.keys()


async def test_a_server_outside_the_configured_replica_set_is_a_config_error(
    nx_mongo: int, egress: Egress
) -> None:
    result = await MongodbCheck(egress).run(_target(nx_mongo, replica_set="rs0"))

    assert result.outcome is Outcome.CONFIG_ERROR, result


async def test_an_unauthorized_list_of_collections_is_permission_denied(egress: Egress) -> None:
    peer = ScramMongo({"app": "app-password"}, unauthorized=frozenset({"listcollections"}))
    with peer.running() as port:
        target = _target(port, password="app-password", database="appdb")
        result = await MongodbCheck(egress).run(target)

    assert result.outcome is Outcome.PERMISSION_DENIED, result
    assert peer.authenticated == ["app"]


async def test_tls_fails_on_a_self_signed_certificate_without_its_ca(
    egress: Egress, tls_proxy: Proxy
) -> None:
    result = await MongodbCheck(egress).run(_target(tls_proxy.port, host=NAME, tls=True))

    assert result.outcome is Outcome.TLS_ERROR, result
    assert "tls" in result.phases


async def test_tls_with_the_ca_is_ok_and_every_handshake_names_the_configured_host(
    egress: Egress, tls_proxy: Proxy, certificate: SelfSigned
) -> None:
    target = _target(tls_proxy.port, host=NAME, tls=True, ca_pem=certificate.ca_pem)

    result = await MongodbCheck(egress).run(target)

    assert result.outcome is Outcome.OK, result
    assert result.server is not None
    assert result.server.tls_subject == NAME  # the name verified, not read from the certificate
    assert len(tls_proxy.server_names) >= 2  # the first connection, then the driver's
    assert set(tls_proxy.server_names) == {NAME}
