"""MongoDB check (pymongo's ``AsyncMongoClient``): ``hello``, ``ping``, version, collections.

Contract: a first connection by ``open_checked`` (egress policy, checked
address, TLS pinned to ``server_name`` or the host) classifies a closed port or
a bad certificate at once (pymongo would only time out server selection) and
gives the certificate identity. The driver then connects to that address with
``directConnection=True`` and the same pinned context, logs in (``basic``: SCRAM
against ``auth_source`` or the database; ``mtls``: MONGODB-X509), runs ``hello``,
``ping`` and ``buildInfo``, checks ``replica_set`` against ``setName``, and lists
the collections the user may see when a database other than ``admin`` is set.
Phases: ``resolve``, ``connect``, ``tls``, ``auth`` (the first command: pymongo
logs in on first use), ``query``.

pymongo takes TLS settings as options and file paths only, and verifies the
name it dialled (an IP address here): ``_use_context`` puts the pinned context
in place of the one it built, so SNI and verification use the configured name.
"""

from __future__ import annotations

import ssl
import time
from typing import Any, ClassVar, Final

from pymongo import AsyncMongoClient
from pymongo.errors import (
    ConfigurationError,
    NetworkTimeout,
    OperationFailure,
    PyMongoError,
    ServerSelectionTimeoutError,
)

from connmgr.schemas.connection_auth import BasicAuth, MtlsAuth
from connmgr.schemas.kinds import Kind, MongodbConfig
from connmgr.workers.checks import drivers, logins
from connmgr.workers.checks.base import CheckResult, CheckTarget, Outcome, ServerIdentity
from connmgr.workers.checks.failures import CheckFailed
from connmgr.workers.checks.mongodb_heartbeat import NOT_MONGODB, HeartbeatWatcher
from connmgr.workers.checks.net import Stopwatch, classify, open_checked
from connmgr.workers.checks.vetted import version_number
from connmgr.workers.egress import Egress, IPAddress

AUTHENTICATION_FAILED: Final = 18
UNAUTHORIZED: Final = 13
Client = AsyncMongoClient[dict[str, Any]]


class MongodbCheck:
    kind: ClassVar[Kind] = Kind.MONGODB

    def __init__(self, egress: Egress) -> None:
        self._egress = egress

    async def run(self, target: CheckTarget) -> CheckResult:
        return await drivers.run_check(target, MongodbConfig, self._probe, classify_mongodb)

    async def _probe(
        self, config: MongodbConfig, target: CheckTarget, watch: Stopwatch
    ) -> ServerIdentity:
        login = logins.login_of(target)
        if isinstance(target.auth, MtlsAuth) and not config.tls:
            raise CheckFailed(Outcome.CONFIG_ERROR, "a client certificate needs tls")
        name = config.server_name or config.host
        tls = logins.kind_tls(config, login) if config.tls else None
        first = await open_checked(
            self._egress, config.host, config.port, watch, tls=tls, server_hostname=name
        )
        identity = drivers.peer_identity(first.writer, None)
        await first.close()
        remaining_s = target.timeout_s - (time.perf_counter() - watch.started)
        watcher = HeartbeatWatcher()
        client = _client(first.address, config, target, tls, remaining_s, watcher)
        try:
            with watch.phase("auth"):
                hello = await watcher.unless_foreign(client.admin.command("hello"))
            with watch.phase("query"):
                version = await _query(client, config, hello)
        finally:
            await drivers.close_quietly(client.close)
        return ServerIdentity(
            version, identity.tls_subject, identity.tls_issuer, identity.tls_not_after
        )


def _client(
    address: IPAddress,
    config: MongodbConfig,
    target: CheckTarget,
    tls: ssl.SSLContext | None,
    budget_s: float,
    watcher: HeartbeatWatcher,
) -> Client:
    budget_ms = max(1, int(budget_s * 1000))
    client: Client = AsyncMongoClient(
        host=f"[{address}]" if address.version == 6 else str(address),
        port=config.port,
        directConnection=True,
        connect=False,
        tls=tls is not None,
        serverSelectionTimeoutMS=budget_ms,
        connectTimeoutMS=budget_ms,
        socketTimeoutMS=budget_ms,
        maxPoolSize=1,
        retryReads=False,
        retryWrites=False,
        appname="connmgr-check",
        event_listeners=[watcher],
        **_credentials(config, target),
    )
    if tls is not None:
        _use_context(client, tls)
    return client


def _credentials(config: MongodbConfig, target: CheckTarget) -> dict[str, Any]:
    match target.auth:
        case BasicAuth(username=username):
            return {
                "username": username,
                "password": target.secrets.get("password", ""),
                "authSource": config.auth_source or config.database,
            }
        case MtlsAuth():
            return {"authMechanism": "MONGODB-X509", "authSource": "$external"}
        case _:
            return {}


def _use_context(client: Client, context: ssl.SSLContext) -> None:
    """Give the driver's connection pools the pinned context (before its first connection)."""
    pool_options = client.options.pool_options
    if not hasattr(pool_options, "_PoolOptions__ssl_context"):
        raise RuntimeError("pymongo changed: PoolOptions no longer holds its ssl context")
    setattr(pool_options, "_PoolOptions__ssl_context", context)  # noqa: B010 - name-mangled


async def _query(client: Client, config: MongodbConfig, hello: dict[str, Any]) -> str | None:
    if config.replica_set is not None and hello.get("setName") != config.replica_set:
        raise CheckFailed(Outcome.CONFIG_ERROR, "the server is not in the configured replica set")
    await client.admin.command("ping")
    build = await client.admin.command("buildInfo")
    if config.database != "admin":
        await client[config.database].list_collection_names(authorizedCollections=True)
    return version_number(build.get("version"))


def classify_mongodb(error: BaseException) -> tuple[Outcome, str]:
    """Server error codes first, then driver failures, then the common ones."""
    match error:
        case OperationFailure(code=code) if code == AUTHENTICATION_FAILED:
            return Outcome.AUTH_FAILED, "the server rejected the user name or password"
        case OperationFailure(code=code) if code == UNAUTHORIZED:
            return Outcome.PERMISSION_DENIED, "the user may not run the check's commands"
        case NetworkTimeout() | ServerSelectionTimeoutError():
            return Outcome.TIMEOUT, "the target did not answer within the timeout"
        case ConfigurationError():
            return Outcome.CONFIG_ERROR, "the driver rejected the configuration"
        case PyMongoError():
            return Outcome.PROTOCOL_ERROR, NOT_MONGODB
        case _:
            return classify(error)
