"""S3 check: ``head_bucket``, optionally ``list_objects_v2`` (``MaxKeys=1``), via aioboto3.

Credentials are explicit only: the auth username is the access key id and the
secret ``password`` the secret access key. The botocore session under the
client has an empty credential chain and reads no AWS config files, so
environment variables, shared files and instance metadata are never consulted;
endpoint, CA bundle, proxies (none), retries (one attempt) and addressing style
are set explicitly, so ``AWS_*`` variables of the host change nothing that matters.

Egress: the endpoint's host is resolved and checked before any request. The
SDK's HTTP connector then resolves through ``checked_resolver.CheckedResolver``:
pinned answers for hosts already checked, and a checked resolution for any
other host the SDK asks for (the bucket's virtual host, a region redirect). The SDK therefore only
ever connects to addresses the policy accepted, with no re-resolution window
(no DNS rebinding between check and connect); TLS still verifies the hostname.

Phases: ``resolve`` (the endpoint check), ``auth`` (the signed HEAD; connect
and TLS happen inside the SDK and are not split out), ``query`` (the list).
The server identity is the ``Server`` header's product when it is a known one
(``vetted.http_server_product``, without its version); the SDK does not expose
the peer certificate, so no TLS subject or expiry is reported.
"""

from __future__ import annotations

import asyncio
import os
import ssl
from typing import Any, ClassVar, Final
from urllib.parse import urlsplit

import aioboto3
from aiobotocore.config import AioConfig  # type: ignore[import-untyped]
from aiobotocore.credentials import AioCredentialResolver  # type: ignore[import-untyped]
from aiobotocore.httpsession import AIOHTTPSession  # type: ignore[import-untyped]
from aiobotocore.session import AioSession  # type: ignore[import-untyped]
from botocore.configprovider import (  # type: ignore[import-untyped]
    BOTOCORE_DEFAUT_SESSION_VARIABLES,  # botocore's own spelling
)
from botocore.exceptions import ClientError  # type: ignore[import-untyped]

from connmgr.schemas.connection_auth import BasicAuth
from connmgr.schemas.kinds import Kind, S3Config
from connmgr.workers.checks.base import CheckResult, CheckTarget, Outcome, ServerIdentity
from connmgr.workers.checks.checked_resolver import CheckedResolver
from connmgr.workers.checks.net import Stopwatch, tls_context
from connmgr.workers.checks.s3_outcomes import DENIED_STATUS, FAILURES, failure_of
from connmgr.workers.checks.vetted import http_server_product
from connmgr.workers.egress import Egress

_HOST_FILES: Final = {"config_file": os.devnull, "credentials_file": os.devnull}


def _http_session_class(context: ssl.SSLContext) -> type[Any]:
    """aiobotocore's HTTP session with our TLS context (custom CA, optional server name)."""

    class _CheckedTlsSession(AIOHTTPSession):  # type: ignore[misc]
        def _get_ssl_context(self) -> ssl.SSLContext:
            return context

    return _CheckedTlsSession


def _isolated_botocore() -> Any:
    """A botocore session blind to the host: no ``AWS_*`` variables, no AWS files, no chain.

    Every session variable keeps its default but loses its environment variable;
    the config and credentials files are ``os.devnull``; the credential chain is empty.
    """
    variables = {
        name: (config_key, None, _HOST_FILES.get(name, default), convert)
        for name, (config_key, _env, default, convert) in BOTOCORE_DEFAUT_SESSION_VARIABLES.items()
    }
    session = AioSession(session_vars=variables)
    session.register_component("credential_provider", AioCredentialResolver(providers=[]))
    return session


def _client_config(
    config: S3Config, resolver: CheckedResolver, context: ssl.SSLContext, timeout_s: float
) -> Any:
    """One attempt, no proxies, explicit addressing; endpoints from the host are ignored."""
    return AioConfig(
        connector_args={"resolver": resolver},
        http_session_cls=_http_session_class(context),
        connect_timeout=timeout_s,
        read_timeout=timeout_s,
        retries={"total_max_attempts": 1, "mode": "standard"},
        s3={"addressing_style": config.addressing_style},
        proxies={},
        use_fips_endpoint=False,
        use_dualstack_endpoint=False,
        ignore_configured_endpoint_urls=True,
    )


class S3Check:
    """Checks that the credentials can reach the bucket (and list it, if configured)."""

    kind: ClassVar[Kind] = Kind.S3

    def __init__(self, egress: Egress) -> None:
        self._egress = egress

    async def run(self, target: CheckTarget) -> CheckResult:
        """Bounded by ``target.timeout_s``; every target failure maps to an outcome."""
        config = target.config
        if not isinstance(config, S3Config):
            raise TypeError("S3Check needs an S3Config")
        watch = Stopwatch()
        secret = target.secrets.get("password")
        if not isinstance(target.auth, BasicAuth) or not secret:
            detail = "the connection needs an access key id and a secret access key"
            return watch.result(Outcome.CONFIG_ERROR, detail)
        try:
            context = tls_context(server_hostname=config.server_name, ca_pem=config.ca_pem)
        except (ssl.SSLError, ValueError):
            return watch.result(Outcome.CONFIG_ERROR, "the CA certificate (ca_pem) is invalid")
        keys = (target.auth.username, secret)
        try:
            async with asyncio.timeout(target.timeout_s):
                server = await self._probe(config, keys, context, target, watch)
        except FAILURES as error:
            return watch.result(*failure_of(error))
        sentence = "the bucket is reachable with these credentials"
        return watch.result(Outcome.OK, sentence, server)

    async def _probe(
        self,
        config: S3Config,
        keys: tuple[str, str],
        context: ssl.SSLContext,
        target: CheckTarget,
        watch: Stopwatch,
    ) -> ServerIdentity:
        """Resolve and check the endpoint, then HEAD (and list) through pinned addresses."""
        url, host, port = _endpoint(config)
        resolver = CheckedResolver(self._egress)
        with watch.phase("resolve"):
            await resolver.check(host, port)
        session = aioboto3.Session(
            aws_access_key_id=keys[0],
            aws_secret_access_key=keys[1],
            botocore_session=_isolated_botocore(),
        )
        client_config = _client_config(config, resolver, context, target.timeout_s)
        async with session.client(
            "s3", region_name=config.region, endpoint_url=url, config=client_config, verify=True
        ) as client:
            with watch.phase("auth"):
                response = await _head_bucket(client, config.bucket)
            if config.list_objects:
                with watch.phase("query"):
                    await client.list_objects_v2(Bucket=config.bucket, MaxKeys=1)
        return _server_identity(response)


def _endpoint(config: S3Config) -> tuple[str, str, int]:
    """The endpoint URL (AWS's regional one by default), its host and its port."""
    url = config.endpoint_url or f"https://s3.{config.region}.amazonaws.com"
    endpoint = urlsplit(url)
    port = endpoint.port or (443 if endpoint.scheme == "https" else 80)
    return url, endpoint.hostname or "", port


def _server_identity(response: dict[str, Any]) -> ServerIdentity:
    """The ``Server`` header's known product ("AmazonS3", "MinIO"), never its version."""
    headers = response.get("ResponseMetadata", {}).get("HTTPHeaders", {})
    header = headers.get("server")
    product = http_server_product(header if isinstance(header, str) else None, with_version=False)
    return ServerIdentity(version=product)


async def _head_bucket(client: Any, bucket: str) -> dict[str, Any]:
    """HEAD the bucket; on 403, a one-key GET tells a bad key from a denial.

    A HEAD reply has no body, so S3 cannot say *why* it refused; the GET's
    error code (``InvalidAccessKeyId``, ``SignatureDoesNotMatch`` or
    ``AccessDenied``) can, and it raises the ``ClientError`` that is mapped.
    """
    try:
        response: dict[str, Any] = await client.head_bucket(Bucket=bucket)
    except ClientError as error:
        if error.response.get("ResponseMetadata", {}).get("HTTPStatusCode") != DENIED_STATUS:
            raise
        response = await client.list_objects_v2(Bucket=bucket, MaxKeys=1)
    return response
