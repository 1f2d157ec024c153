"""Fixtures of the database-check tests: each kind's real peer, with accounts made here.

- PostgreSQL: a private SCRAM cluster with TLS (``db_postgres``), a login role,
  a database, a schema it may use and one it may not, a database it may not enter.
- MySQL: the machine's MariaDB, a user with a password and one database.
- Redis: the machine's Redis, an ACL user allowed PING/INFO/SELECT and one allowed nothing.
- MongoDB: ``db_mongo``'s peers (nx-27017, and mockupdb scripted for SCRAM).
Every account is removed at the end of the session. ``subject`` parametrizes the
contract tests over the four kinds.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import aiomysql
import asyncpg
import pytest
import redis.asyncio as redis
from db_mongo import ScramMongo, nx_27017
from db_pki import SelfSigned
from db_postgres import PrivatePostgres, postgres_bin, private_postgres
from db_subjects import Subject, mongodb_subject, mysql_subject, postgres_subject, redis_subject

from connmgr.workers.egress import Egress, EgressPolicy, IPAddress
from support import service_unavailable

KINDS = ("postgres", "mysql", "redis", "mongodb")


@pytest.fixture(autouse=True)
def _debug_logs(caplog: pytest.LogCaptureFixture) -> None:
    """Capture every log record at DEBUG, so leak assertions see all of them."""
    caplog.set_level(logging.DEBUG)


async def _db_test_resolver(host: str, port: int) -> list[IPAddress]:
    """``*.db.test`` names (the test certificate's) resolve to the loopback address."""
    import ipaddress

    from connmgr.workers.egress import DnsFailure

    if host.endswith(".db.test"):
        return [ipaddress.IPv4Address("127.0.0.1")]
    raise DnsFailure(host)


@pytest.fixture(scope="session")
def egress() -> Egress:
    """The dev stack's policy: loopback allowed; ``*.db.test`` resolves to it."""
    return Egress(EgressPolicy(allow_loopback=True), resolver=_db_test_resolver)


@pytest.fixture(scope="session")
def strict_egress() -> Egress:
    """A production policy: loopback refused."""
    return Egress(EgressPolicy(allow_loopback=False), resolver=_db_test_resolver)


@pytest.fixture(scope="session")
def certificate() -> SelfSigned:
    return SelfSigned.make()


@pytest.fixture(scope="session")
def private_pg(certificate: SelfSigned) -> Iterator[PrivatePostgres]:
    binaries = postgres_bin()
    if binaries is None:
        service_unavailable("postgres", "no /usr/lib/postgresql/<version>/bin/initdb")
    with private_postgres(binaries, certificate) as cluster:
        yield cluster


@pytest.fixture(scope="session")
async def pg_password(private_pg: PrivatePostgres) -> str:
    """Role ``app`` (this password) owns nothing; may use ``open_schema`` of ``appdb``."""
    password = f"pg-{secrets.token_hex(12)}"
    admin = await asyncpg.connect(private_pg.admin_dsn)
    try:
        await admin.execute(f"CREATE ROLE app LOGIN PASSWORD '{password}'")
        await admin.execute("CREATE DATABASE appdb")
        await admin.execute("CREATE DATABASE lockeddb")
        await admin.execute("REVOKE CONNECT ON DATABASE lockeddb FROM PUBLIC")
    finally:
        await admin.close()
    appdb = await asyncpg.connect(private_pg.admin_dsn.rsplit("/", 1)[0] + "/appdb")
    try:
        await appdb.execute("CREATE SCHEMA open_schema; CREATE SCHEMA closed_schema")
        await appdb.execute("GRANT USAGE ON SCHEMA open_schema TO app")
    finally:
        await appdb.close()
    return password


@pytest.fixture(scope="session")
async def mariadb_account(mariadb_url: str) -> AsyncIterator[tuple[str, str, str]]:
    """(user, password, database): a user with SELECT on its own database only."""
    name, password = f"connmgr_check_{secrets.token_hex(4)}", f"my-{secrets.token_hex(12)}"
    statements = [
        f"CREATE DATABASE {name}",
        f"CREATE USER '{name}'@'%' IDENTIFIED BY '{password}'",
        f"GRANT SELECT ON {name}.* TO '{name}'@'%'",
    ]
    await _mariadb(statements)
    try:
        yield name, password, name
    finally:
        await _mariadb([f"DROP USER IF EXISTS '{name}'@'%'", f"DROP DATABASE IF EXISTS {name}"])


async def _mariadb(statements: list[str]) -> None:
    connection = await aiomysql.connect(host="127.0.0.1", port=3306, user="root")
    try:
        async with connection.cursor() as cursor:
            for statement in statements:
                await cursor.execute(statement)
    finally:
        connection.close()


@pytest.fixture(scope="session")
async def redis_users(redis_url: str) -> AsyncIterator[tuple[str, str, str]]:
    """(user, password, powerless user with the same password): ACL users, deleted after."""
    suffix, password = secrets.token_hex(4), f"rd-{secrets.token_hex(12)}"
    user, powerless = f"connmgr-check-{suffix}", f"connmgr-none-{suffix}"
    client = redis.Redis.from_url(redis_url)
    try:
        await client.acl_setuser(
            user, enabled=True, passwords=[f"+{password}"], commands=["+ping", "+info", "+select"]
        )
        await client.acl_setuser(
            powerless, enabled=True, passwords=[f"+{password}"], commands=["-@all"]
        )
        yield user, password, powerless
    finally:
        await client.acl_deluser(user, powerless)
        await client.aclose()


@pytest.fixture(scope="session")
async def nx_mongo(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[int]:
    async with nx_27017(tmp_path_factory.mktemp("nx")) as port:
        yield port


@pytest.fixture(scope="session")
def mongo_password() -> str:
    return f"mg-{secrets.token_hex(12)}"


@pytest.fixture(scope="session")
def scram_mongo(mongo_password: str) -> Iterator[int]:
    with ScramMongo({"app": mongo_password}).running() as port:
        yield port


@pytest.fixture(params=KINDS)
def subject(request: pytest.FixtureRequest) -> Subject:
    """One kind's check, config and a real peer that checks its password."""
    kind: str = request.param
    if kind == "postgres":
        cluster: PrivatePostgres = request.getfixturevalue("private_pg")
        return postgres_subject(cluster.port, request.getfixturevalue("pg_password"))
    if kind == "mysql":
        user, password, database = request.getfixturevalue("mariadb_account")
        return mysql_subject(user, password, database)
    if kind == "redis":
        user, password, _ = request.getfixturevalue("redis_users")
        return redis_subject(user, password)
    port = request.getfixturevalue("scram_mongo")
    return mongodb_subject(port, request.getfixturevalue("mongo_password"))


@pytest.fixture
def folder(tmp_path: Path) -> str:
    return str(tmp_path)
