"""Mail and database checks never carry what a reflecting server sends back.

Each peer (``refl_peers``) receives the login and puts it into its greeting,
replies, error messages and version strings. The result holds none of it; the
positive controls are the outcomes, which still follow the peer's answers, and
the values that are still recorded in fixed form (the product from the fixed
list, the version number alone).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from refl_peers import (
    Handler,
    imap_reflector,
    mysql_reflector,
    peer,
    postgres_reflector,
    redis_reflector,
    smtp_reflector,
)
from refl_support import leaks

from connmgr.schemas.connection_auth import BasicAuth
from connmgr.schemas.kinds import Kind, parse_config
from connmgr.workers.checks.base import CheckTarget, Outcome
from connmgr.workers.checks.registry import build_checks
from connmgr.workers.egress import Egress

PASSWORD = "pw-refl-proto-6e2d41"
ACCEPTED = {True: Outcome.OK, False: Outcome.AUTH_FAILED}


def target(kind: Kind, port: int, **config: Any) -> CheckTarget:
    return CheckTarget(
        connection_id="5f1e6d0c-3b2a-4c19-8e7f-6a5b4c3d2e1f",
        kind=kind,
        config=parse_config(kind, {"host": "127.0.0.1", "port": port, **config}),
        auth=BasicAuth(username="app"),
        secrets={"password": PASSWORD},
        timeout_s=5.0,
    )


@pytest.mark.parametrize("accept", [True, False])
@pytest.mark.parametrize(
    ("kind", "reflector", "product"),
    [(Kind.SMTP, smtp_reflector, "Postfix"), (Kind.IMAP, imap_reflector, "Dovecot")],
)
async def test_a_mail_server_reflecting_the_login_leaks_nothing(
    kind: Kind, reflector: Callable[[bool], Handler], product: str, accept: bool, egress: Egress
) -> None:
    async with peer(reflector(accept)) as port:
        result = await build_checks(egress)[kind].run(target(kind, port, security="none"))

    assert result.outcome is ACCEPTED[accept], result
    assert result.server is not None
    assert result.server.version == product  # from the fixed list, not the greeting's text
    assert leaks(result, [PASSWORD]) == []


@pytest.mark.parametrize("accept", [True, False])
async def test_a_redis_server_reflecting_the_login_leaks_nothing(
    accept: bool, egress: Egress
) -> None:
    async with peer(redis_reflector(accept)) as port:
        result = await build_checks(egress)[Kind.REDIS].run(target(Kind.REDIS, port))

    assert result.outcome is ACCEPTED[accept], result
    if accept:
        assert result.server is not None
        assert result.server.version == "7.2.4"
    assert leaks(result, [PASSWORD]) == []


@pytest.mark.parametrize(
    ("sqlstate", "outcome"),
    [("28P01", Outcome.AUTH_FAILED), ("28000", Outcome.PERMISSION_DENIED),
     ("XX000", Outcome.PROTOCOL_ERROR)],
)  # fmt: skip
async def test_a_postgres_server_reflecting_the_password_leaks_nothing(
    sqlstate: str, outcome: Outcome, egress: Egress
) -> None:
    async with peer(postgres_reflector(sqlstate)) as port:
        config = {"database": "orders", "ssl": "disable"}
        result = await build_checks(egress)[Kind.POSTGRES].run(
            target(Kind.POSTGRES, port, **config)
        )

    assert result.outcome is outcome, result
    assert leaks(result, [PASSWORD]) == []


@pytest.mark.parametrize(("code", "outcome"), [(1045, Outcome.AUTH_FAILED),
                                               (1999, Outcome.PROTOCOL_ERROR)])  # fmt: skip
async def test_a_mysql_server_naming_the_password_leaks_nothing(
    code: int, outcome: Outcome, egress: Egress
) -> None:
    async with peer(mysql_reflector(PASSWORD, code)) as port:
        result = await build_checks(egress)[Kind.MYSQL].run(target(Kind.MYSQL, port, ssl="disable"))

    assert result.outcome is outcome, result
    assert leaks(result, [PASSWORD]) == []
