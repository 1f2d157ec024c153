"""PostgreSQL check: what only PostgreSQL has (schemas, CONNECT, ssl modes).

Peer: the private SCRAM cluster of ``db_postgres`` with ``ssl=on`` and the
self-signed certificate of ``db_pki`` (for ``*.db.test``, resolved to 127.0.0.1
by the tests' egress resolver); and the machine's PostgreSQL, which has no TLS.
"""

from __future__ import annotations

import pytest
from db_pki import SelfSigned
from db_postgres import PrivatePostgres
from db_subjects import Subject, postgres_subject

from connmgr.workers.checks.base import Outcome
from connmgr.workers.checks.postgres import PostgresCheck
from connmgr.workers.egress import Egress

NAME = "postgres.db.test"


@pytest.fixture
def pg(private_pg: PrivatePostgres, pg_password: str) -> Subject:
    return postgres_subject(private_pg.port, pg_password)


async def test_a_schema_the_role_may_use_is_ok(pg: Subject, egress: Egress) -> None:
    result = await PostgresCheck(egress).run(pg.target(schema="open_schema"))

    assert result.outcome is Outcome.OK, result


async def test_a_schema_the_role_may_not_use_is_permission_denied(
    pg: Subject, egress: Egress
) -> None:
    result = await PostgresCheck(egress).run(pg.target(schema="closed_schema"))

    assert result.outcome is Outcome.PERMISSION_DENIED, result
    assert result.detail == "the user may not use the schema"


async def test_a_schema_that_does_not_exist_is_a_config_error(pg: Subject, egress: Egress) -> None:
    result = await PostgresCheck(egress).run(pg.target(schema="no_such_schema"))

    assert result.outcome is Outcome.CONFIG_ERROR, result


async def test_a_database_that_does_not_exist_is_a_config_error(
    pg: Subject, egress: Egress
) -> None:
    result = await PostgresCheck(egress).run(pg.target(database="no_such_database"))

    assert (result.outcome, result.detail) == (Outcome.CONFIG_ERROR, "the database does not exist")


async def test_a_database_the_role_may_not_connect_to_is_permission_denied(
    pg: Subject, egress: Egress
) -> None:
    result = await PostgresCheck(egress).run(pg.target(database="lockeddb"))

    assert result.outcome is Outcome.PERMISSION_DENIED, result


async def test_verify_full_fails_on_a_self_signed_certificate_without_its_ca(
    pg: Subject, egress: Egress
) -> None:
    result = await PostgresCheck(egress).run(pg.target(host=NAME, ssl="verify-full"))

    assert result.outcome is Outcome.TLS_ERROR, result
    assert result.detail == "the server certificate could not be verified"


async def test_verify_full_succeeds_with_the_ca_and_reports_the_certificate(
    pg: Subject, egress: Egress, certificate: SelfSigned
) -> None:
    target = pg.target(host=NAME, ssl="verify-full", ca_pem=certificate.ca_pem)

    result = await PostgresCheck(egress).run(target)

    assert result.outcome is Outcome.OK, result
    assert result.server is not None
    assert result.server.tls_subject == NAME  # the name verified, not read from the certificate
    assert result.server.tls_not_after is not None


@pytest.mark.parametrize(("mode", "outcome"), [("verify-full", "tls_error"), ("verify-ca", "ok")])
async def test_only_verify_full_checks_the_name(
    pg: Subject, egress: Egress, certificate: SelfSigned, mode: str, outcome: str
) -> None:
    target = pg.target(host=NAME, ssl=mode, ca_pem=certificate.ca_pem, server_name="other.test")

    result = await PostgresCheck(egress).run(target)

    assert result.outcome == outcome, result


async def test_require_uses_tls_without_verifying_it(pg: Subject, egress: Egress) -> None:
    result = await PostgresCheck(egress).run(pg.target(host=NAME, ssl="require"))

    assert result.outcome is Outcome.OK, result


async def test_a_server_without_tls_is_a_tls_error_when_tls_is_required(
    egress: Egress, pg_url: str
) -> None:
    machine = postgres_subject(5432, "any")
    target = machine.target(ssl="require", database="postgres")

    result = await PostgresCheck(egress).run(target)

    assert result.outcome is Outcome.TLS_ERROR, result
    assert result.detail == "the server did not accept a TLS connection"
