"""MySQL/MariaDB check: database access, TLS that is never silently dropped, no clear text.

Peers: the machine's MariaDB (a user made by the fixtures; its TLS is off, which
is what the downgrade tests need), a recording TCP proxy in front of it, and a
fake server that greets like MySQL and asks for ``mysql_clear_password``.
"""

from __future__ import annotations

import asyncio
import struct
from collections.abc import AsyncIterator

import pytest
from db_peers import LOOPBACK, Proxy
from db_subjects import Subject, mysql_subject
from pymysql.constants import CLIENT

from connmgr.schemas.kinds import MysqlConfig
from connmgr.workers.checks.base import Outcome
from connmgr.workers.checks.logins import Login
from connmgr.workers.checks.mysql import CLEARTEXT, NO_TLS, MysqlCheck, connection_options
from connmgr.workers.egress import Egress
from support.secret_scan import SecretScanner


@pytest.fixture
def my(mariadb_account: tuple[str, str, str]) -> Subject:
    return mysql_subject(*mariadb_account)


async def test_a_database_the_user_may_not_use_is_permission_denied(
    my: Subject, egress: Egress
) -> None:
    result = await MysqlCheck(egress).run(my.target(database="mysql"))

    assert result.outcome is Outcome.PERMISSION_DENIED, result
    assert result.detail == "the user may not use the database"


async def test_a_database_that_does_not_exist_is_a_config_error(
    egress: Egress, mariadb_url: str
) -> None:
    root = mysql_subject("root", "", "information_schema")

    result = await MysqlCheck(egress).run(root.target(database="connmgr_no_such_database"))

    assert (result.outcome, result.detail) == (Outcome.CONFIG_ERROR, "the database does not exist")


@pytest.mark.parametrize("mode", ["require", "verify-ca", "verify-full"])
async def test_a_server_without_tls_gets_nothing_when_tls_is_asked_for(
    my: Subject, egress: Egress, mode: str
) -> None:
    async with Proxy(upstream=3306).running() as proxy:
        result = await MysqlCheck(egress).run(my.target(port=proxy.port, ssl=mode))

    assert (result.outcome, result.detail) == (Outcome.TLS_ERROR, NO_TLS)
    assert proxy.client_bytes == b""


def test_the_driver_never_offers_local_infile(my: Subject) -> None:
    config = MysqlConfig(host="127.0.0.1", database=my.username)
    options = connection_options("127.0.0.1", config, Login("user", "secret"), None, 1.0)

    assert options["local_infile"] is False
    assert not options["client_flag"] & CLIENT.LOCAL_FILES
    assert options["read_default_file"] is None
    assert options["init_command"] is None


def _greeting(plugin: bytes) -> bytes:
    """A MySQL protocol-10 greeting whose default auth plugin is ``plugin``."""
    capabilities = CLIENT.PROTOCOL_41 | CLIENT.SECURE_CONNECTION | CLIENT.PLUGIN_AUTH
    body = (
        b"\x0a5.7.99-fake\x00" + struct.pack("<I", 7) + b"12345678\x00"
        + struct.pack("<HBHH", capabilities & 0xFFFF, 33, 2, capabilities >> 16)
        + bytes([21]) + b"\x00" * 10 + b"123456789012\x00" + plugin + b"\x00"
    )  # fmt: skip
    return struct.pack("<I", len(body))[:3] + b"\x00" + body


@pytest.fixture
async def cleartext_server() -> AsyncIterator[tuple[int, bytearray]]:
    received = bytearray()

    async def greet(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(_greeting(b"mysql_clear_password"))
        await writer.drain()
        received.extend(await reader.read(4096))
        writer.close()

    server = await asyncio.start_server(greet, LOOPBACK, 0)
    try:
        yield server.sockets[0].getsockname()[1], received
    finally:
        server.close()


async def test_a_server_asking_for_the_password_in_clear_text_gets_nothing(
    my: Subject, egress: Egress, cleartext_server: tuple[int, bytearray]
) -> None:
    port, received = cleartext_server

    result = await MysqlCheck(egress).run(my.target(port=port))

    assert (result.outcome, result.detail) == (Outcome.CONFIG_ERROR, CLEARTEXT)
    assert received == b""
    scanner = SecretScanner()
    scanner.add("password", my.password)
    scanner.assert_clean({"received by the server": bytes(received), "result": repr(result)})
