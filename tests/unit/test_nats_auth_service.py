"""``NatsAuthService.answer``: a bad request or an unreachable token store never stops it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from nats.aio.client import Client

from connmgr.storage.database import create_engine
from connmgr.storage.tokens import issue_token
from connmgr.workers.nats_auth import jwt
from connmgr.workers.nats_auth.decisions import REFUSED
from connmgr.workers.nats_auth.issuer import issuer_from_seed, new_issuer_seed
from connmgr.workers.nats_auth.service import NatsAuthService
from support.databases import migrated_engine, sqlite_url_in
from support.leaks import LeakChannels


def server_request(token: str) -> bytes:
    claims = {
        "nats": {
            "type": "authorization_request",
            "server_id": {"id": "NSERVER"},
            "user_nkey": "UCLIENT",
            "connect_opts": {"auth_token": token},
        }
    }
    return jwt.encode(claims, issuer_from_seed(new_issuer_seed())).encode()


def response_body(answer: bytes | None) -> dict[str, Any]:
    assert answer is not None
    return dict(jwt.request_claims(answer)["nats"])


async def test_a_live_token_is_answered_and_an_unreadable_request_is_dropped(
    tmp_path: Path, leak_channels: LeakChannels
) -> None:
    async with migrated_engine(sqlite_url_in(tmp_path)) as engine:
        service = NatsAuthService(
            Client(), engine, issuer_from_seed(new_issuer_seed()), ttl_s=60, slots=1
        )
        token = await issue_token(engine, "p", "acme", ["commands:write"])

        accepted = response_body(await service.answer(server_request(token)))
        assert "error" not in accepted
        user = jwt.request_claims(accepted["jwt"].encode())
        assert user["name"] == "tenant-acme"
        assert user["exp"] - user["iat"] == 60
        assert await service.answer(b"garbage") is None
    # Neither the client's token nor the user JWT connmgr signed for it is logged.
    leak_channels.scanner.add("api token", token)
    leak_channels.scanner.add_jwt("signed user jwt", accepted["jwt"])
    leak_channels.assert_clean()


async def test_a_token_store_it_cannot_read_refuses_the_client(
    tmp_path: Path, leak_channels: LeakChannels
) -> None:
    engine = create_engine(sqlite_url_in(tmp_path))  # never migrated: no token table
    try:
        service = NatsAuthService(
            Client(), engine, issuer_from_seed(new_issuer_seed()), ttl_s=60, slots=1
        )
        refused = response_body(await service.answer(server_request("cm_secret-token-value")))
    finally:
        await engine.dispose()
    assert refused == {"type": "authorization_response", "version": 2, "error": REFUSED}
    leak_channels.scanner.add("token", "cm_secret-token-value")
    leak_channels.add("answer", json.dumps(refused))
    leak_channels.assert_clean()
    assert json.dumps(refused).count("secret") == 0
