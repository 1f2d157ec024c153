"""A MongoDB server that names the password in its answers leaks nothing into the result.

SCRAM never sends the password itself, so the scripted peer is told it: it puts
it into ``buildInfo``'s version, every error message and a refused command's
text. The result keeps only the version number; the outcomes still follow the
peer's answers (the positive control).
"""

from __future__ import annotations

from typing import Any

import pytest
from db_mongo import ScramMongo

from connmgr.schemas.connection_auth import BasicAuth
from connmgr.schemas.kinds import Kind, MongodbConfig
from connmgr.workers.checks.base import CheckTarget, Outcome
from connmgr.workers.checks.mongodb import MongodbCheck
from connmgr.workers.egress import Egress
from support.secret_scan import findings_in

PASSWORD = "mongo-refl-pw-3c9e1a"


class NamingMongo(ScramMongo):
    """``ScramMongo`` whose every text names the password."""

    def _handle(self, request: Any) -> bool:
        name = request.command_name.lower()
        if name == "buildinfo":
            return bool(request.ok(version=f"7.0.5-{PASSWORD}", gitVersion=PASSWORD))
        if name in self._unauthorized:
            return bool(request.command_err(code=13, errmsg=f"not authorized: {PASSWORD}"))
        return super()._handle(request)

    def _server_final(self, request: Any, conversation: int, client_final: bytes) -> bool:
        original = request.command_err

        def naming_error(**fields: Any) -> Any:
            return original(**{**fields, "errmsg": f"Authentication failed for {PASSWORD}"})

        request.command_err = naming_error
        return super()._server_final(request, conversation, client_final)


def target(port: int, password: str) -> CheckTarget:
    return CheckTarget(
        connection_id="22222222-2222-4222-8222-222222222222",
        kind=Kind.MONGODB,
        config=MongodbConfig(host="127.0.0.1", port=port, tls=False, database="appdb"),
        auth=BasicAuth(username="app"),
        secrets={"password": password},
        timeout_s=5.0,
    )


@pytest.mark.parametrize(
    ("password", "unauthorized", "outcome"),
    [(PASSWORD, frozenset[str](), Outcome.OK),
     ("not-the-password", frozenset[str](), Outcome.AUTH_FAILED),
     (PASSWORD, frozenset({"listcollections"}), Outcome.PERMISSION_DENIED)],
)  # fmt: skip
async def test_a_mongodb_server_naming_the_password_leaks_nothing(
    password: str, unauthorized: frozenset[str], outcome: Outcome, egress: Egress
) -> None:
    with NamingMongo({"app": PASSWORD}, unauthorized).running() as port:
        result = await MongodbCheck(egress).run(target(port, password))

    assert result.outcome is outcome, result
    if outcome is Outcome.OK:
        assert result.server is not None
        assert result.server.version == "7.0.5"
    assert findings_in([PASSWORD], {"result": repr(result)}) == []
