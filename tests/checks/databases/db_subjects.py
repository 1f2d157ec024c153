"""One description per kind, so the contract tests read the same for all four.

A ``Subject`` names the check class, how to build its config for a host and
port, the login, and the port of a real peer that checks that login's password.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from connmgr.schemas.connection_auth import BasicAuth
from connmgr.schemas.kinds import Kind, KindConfig, parse_config
from connmgr.workers.checks.base import Check, CheckTarget
from connmgr.workers.checks.mongodb import MongodbCheck
from connmgr.workers.checks.mysql import MysqlCheck
from connmgr.workers.checks.postgres import PostgresCheck
from connmgr.workers.checks.redis import RedisCheck
from connmgr.workers.egress import Egress


@dataclass(frozen=True)
class Subject:
    kind: Kind
    check_class: Callable[[Egress], Check]
    port: int
    username: str
    password: str = field(repr=False)
    extra: dict[str, Any] = field(default_factory=dict)

    def config(self, host: str, port: int, **overrides: Any) -> KindConfig:
        return parse_config(self.kind, {"host": host, "port": port, **self.extra, **overrides})

    def target(
        self,
        *,
        port: int | None = None,
        password: str | None = None,
        host: str = "127.0.0.1",
        timeout_s: float = 5.0,
        **config: Any,
    ) -> CheckTarget:
        return CheckTarget(
            connection_id="11111111-1111-4111-8111-111111111111",
            kind=self.kind,
            config=self.config(host, self.port if port is None else port, **config),
            auth=BasicAuth(username=self.username),
            secrets={"password": self.password if password is None else password},
            timeout_s=timeout_s,
        )

    def check(self, egress: Egress) -> Check:
        return self.check_class(egress)


def postgres_subject(port: int, password: str) -> Subject:
    extra = {"database": "appdb", "ssl": "disable"}
    return Subject(Kind.POSTGRES, PostgresCheck, port, "app", password, extra)


def mysql_subject(user: str, password: str, database: str) -> Subject:
    extra = {"database": database, "ssl": "disable"}
    return Subject(Kind.MYSQL, MysqlCheck, 3306, user, password, extra)


def redis_subject(user: str, password: str) -> Subject:
    return Subject(Kind.REDIS, RedisCheck, 6379, user, password)


def mongodb_subject(port: int, password: str) -> Subject:
    return Subject(Kind.MONGODB, MongodbCheck, port, "app", password, {"tls": False})
