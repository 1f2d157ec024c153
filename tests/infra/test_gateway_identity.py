"""The command gateway's broker connections through the shipped auth callout.

``GatewayLinks`` connects with a ``connections:write`` token as the gateway user:
it reads the public seal key and publishes its tenant's commands, and nothing of
another tenant (docs/decisions.md, "The command gateway (issue 14 §1)").
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from connmgr.producers.errors import ProducerError
from connmgr.producers.gateway_links import Caller, GatewayLinks
from connmgr.schemas.bus.subjects import command_subject
from connmgr.storage.tokens import SCOPE_CONNECTIONS_WRITE, issue_token
from connmgr.workers.encryptor.service import publish_seal_key
from connmgr.workers.keyring import Keyring
from support.secured_broker import SecuredBroker, running_broker


@pytest.fixture
async def broker(tmp_path: Path) -> AsyncIterator[SecuredBroker]:
    async with running_broker(tmp_path) as running:
        yield running


async def test_a_write_token_links_as_its_tenants_gateway_and_reads_the_seal_key(
    broker: SecuredBroker,
) -> None:
    keyring = Keyring.generate()
    await publish_seal_key((await broker.pool("encryptor")).nc, keyring)
    token = await issue_token(broker.engine, "console", "a", [SCOPE_CONNECTIONS_WRITE])
    links = GatewayLinks(broker.server.url)
    try:
        link = await links.link(Caller(tenant="a", actor="console", token=token))

        assert await link.seal_keys.current() == keyring.seal_public_info()
        assert link.nc.new_inbox().startswith("_INBOX.gateway.a.")
        ack = await link.nc.jetstream().publish(command_subject("a", "test", "c1"), b"{}")
        assert ack.seq >= 1
    finally:
        await links.close()


async def test_a_read_token_gets_no_gateway_link(broker: SecuredBroker) -> None:
    token = await issue_token(broker.engine, "dashboard", "a", ["read"])
    links = GatewayLinks(broker.server.url)
    try:
        with pytest.raises(ProducerError, match="cannot connect"):
            await links.link(Caller(tenant="a", actor="dashboard", token=token))
    finally:
        await links.close()
