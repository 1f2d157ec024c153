"""HTTP-based checks never carry what a reflecting server sends back (issue 9, item 7).

The peer puts every credential it received (the ``Authorization`` value and its
decoded basic pair, the query string, every header, the body) into its
``Server`` header, the reason phrase, ``WWW-Authenticate``, a redirect's
``Location``, the body and, over TLS, the certificate's subject and issuer.
For every auth method and every kind of answer, no form of any secret reaches
the result. The positive controls: the same peer's answers still decide the
outcome (``ok``, ``auth_failed``, ``protocol_error``), and a known product in
the ``Server`` header is still reported.
"""

from __future__ import annotations

from typing import Any
from xml.sax.saxutils import escape

import pytest
from aiohttp import web
from refl_support import Serve, leaks, received_text, reflecting_tls
from yarl import URL

from connmgr.schemas.connection_auth import (
    ApiKeyAuth,
    Auth,
    BasicAuth,
    BearerAuth,
    CustomHeadersAuth,
    JwtAuth,
    OAuth1Auth,
    OAuth2Auth,
)
from connmgr.schemas.kinds import HttpConfig, HttpTestRequest, Kind, S3Config, WebhookConfig
from connmgr.workers.checks.base import CheckResult, CheckTarget, Outcome
from connmgr.workers.checks.http import HttpCheck
from connmgr.workers.checks.s3 import S3Check
from connmgr.workers.checks.webhook import WebhookCheck
from connmgr.workers.egress import Egress

ACCESS_TOKEN = "at-refl-9f3e0c77"
STATUS = {"/ok": 200, "/denied": 401, "/broken": 500, "/redirect": 302}
OUTCOME = {
    "/ok": Outcome.OK,
    "/denied": Outcome.AUTH_FAILED,
    "/broken": Outcome.PROTOCOL_ERROR,
    "/redirect": Outcome.PROTOCOL_ERROR,
}
METHODS: dict[str, tuple[Auth, dict[str, str]]] = {
    "basic": (BasicAuth(username="app"), {"password": "pw-refl-1b7c9a"}),
    "bearer": (BearerAuth(), {"token": "tok-refl-5d2e8f"}),
    "api_key_header": (ApiKeyAuth(name="X-Api-Key"), {"api_key": "key-refl-3a9c1d"}),
    "api_key_query": (ApiKeyAuth(placement="query", name="key"), {"api_key": "key-refl-77e0b2"}),
    "custom_headers": (CustomHeadersAuth(header_names=["X-Secret"]), {"X-Secret": "hdr-refl-c4f1"}),
    "jwt": (JwtAuth(audience="api"), {"signing_key": "jwt-refl-0e6d5b"}),
    "oauth1": (OAuth1Auth(consumer_key="ck"), {"consumer_secret": "cs1-refl-8b2a"}),
}


def reflecting_app() -> web.Application:
    async def answer(request: web.Request) -> web.StreamResponse:
        echo = received_text(request, await request.read())
        headers = {
            "Server": f"nginx/1.25.3 {echo}",
            "X-Echo": echo,
            "WWW-Authenticate": f'Basic realm="{echo}"',
        }
        if request.path == "/token":
            token = {"access_token": ACCESS_TOKEN, "token_type": "bearer", "expires_in": 60}
            return web.json_response({**token, "echo": echo}, headers=headers)
        if request.path == "/token-refused":
            error = {"error": "invalid_client", "error_description": echo}
            return web.json_response(error, status=401, headers=headers)
        if request.path == "/redirect":
            headers["Location"] = f"http://127.0.0.1:9/next?{echo}"
        return web.Response(
            status=STATUS[request.path], reason=f"Reason {echo}", headers=headers, text=echo
        )

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", answer)
    return app


def http_target(
    base: URL, path: str, auth: Auth, secrets: dict[str, str], **config: Any
) -> CheckTarget:
    return CheckTarget(
        connection_id="5f1e6d0c-3b2a-4c19-8e7f-6a5b4c3d2e1f",
        kind=Kind.HTTP,
        config=HttpConfig(base_url=str(base), test=HttpTestRequest(path=path), **config),
        auth=auth,
        secrets=secrets,
        timeout_s=5.0,
    )


def assert_clean(result: CheckResult, secrets: dict[str, str], *more: str) -> None:
    assert leaks(result, [*secrets.values(), *more]) == [], result


@pytest.mark.parametrize("path", list(STATUS))
@pytest.mark.parametrize("method", list(METHODS))
async def test_no_reflected_credential_reaches_an_http_result(
    method: str, path: str, serve: Serve, egress: Egress
) -> None:
    auth, secrets = METHODS[method]
    base = await serve(reflecting_app())

    result = await HttpCheck(egress).run(http_target(base, path, auth, secrets))

    assert result.outcome is OUTCOME[path], result
    assert_clean(result, secrets)
    assert result.server is not None
    assert result.server.version == "nginx/1.25.3"  # the known product, and only it


@pytest.mark.parametrize(
    ("token_path", "outcome"), [("/token", Outcome.OK), ("/token-refused", Outcome.AUTH_FAILED)]
)
async def test_no_reflected_oauth2_credential_reaches_the_result(
    token_path: str, outcome: Outcome, serve: Serve, egress: Egress
) -> None:
    base = await serve(reflecting_app())
    auth = OAuth2Auth(token_url=str(base / token_path.lstrip("/")), client_id="cid-refl")
    secrets = {"client_secret": "cs2-refl-41d9", "refresh_token": "rt-refl-66ab"}

    result = await HttpCheck(egress).run(http_target(base, "/ok", auth, secrets))

    assert result.outcome is outcome, result
    assert_clean(result, secrets, ACCESS_TOKEN)


async def test_a_certificate_naming_the_credentials_is_reported_without_its_text(
    serve: Serve, egress: Egress
) -> None:
    auth, secrets = METHODS["basic"]
    tls = reflecting_tls(f"app:{secrets['password']}")
    base = await serve(reflecting_app(), tls.context)

    result = await HttpCheck(egress).run(http_target(base, "/ok", auth, secrets, ca_pem=tls.ca_pem))

    assert result.outcome is Outcome.OK, result
    assert result.server is not None
    assert result.server.tls_subject == "127.0.0.1"
    assert (result.server.tls_issuer or "").startswith("sha256:")
    assert result.server.tls_not_after is not None
    assert_clean(result, secrets)


@pytest.mark.parametrize("path", list(STATUS))
async def test_no_reflected_credential_reaches_a_webhook_result(
    path: str, serve: Serve, egress: Egress
) -> None:
    base = await serve(reflecting_app())
    secrets = {"password": "pw-refl-wh-2c8e", "signing_secret": "whsec-refl-9d0a"}
    target = CheckTarget(
        connection_id="5f1e6d0c-3b2a-4c19-8e7f-6a5b4c3d2e1f",
        kind=Kind.WEBHOOK,
        config=WebhookConfig(url=str(base / path.lstrip("/"))),
        auth=BasicAuth(username="hook"),
        secrets=secrets,
        timeout_s=5.0,
    )

    result = await WebhookCheck(egress).run(target)

    assert result.outcome is OUTCOME[path], result
    assert_clean(result, secrets)


def s3_app(status: int, code: str) -> web.Application:
    async def answer(request: web.Request) -> web.Response:
        echo = received_text(request, await request.read())
        headers = {"Server": f"AmazonS3 {echo}", "x-amz-request-id": echo[:200]}
        if status == 200:
            return web.Response(status=200, headers=headers)
        error = f"<Error><Code>{code}</Code><Message>{escape(echo)}</Message></Error>"
        return web.Response(
            status=status, headers=headers, text=error, content_type="application/xml"
        )

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", answer)
    return app


@pytest.mark.parametrize(
    ("status", "code", "outcome"),
    [(200, "", Outcome.OK), (403, "SignatureDoesNotMatch", Outcome.AUTH_FAILED),
     (403, "AccessDenied", Outcome.PERMISSION_DENIED), (400, "Weird", Outcome.PROTOCOL_ERROR)],
)  # fmt: skip
async def test_no_reflected_credential_reaches_an_s3_result(
    status: int, code: str, outcome: Outcome, serve: Serve, egress: Egress
) -> None:
    base = await serve(s3_app(status, code))
    key_id, secrets = "AKIAREFLECT7Q2W", {"password": "s3-refl-secret-5b1f9c"}
    target = CheckTarget(
        connection_id="5f1e6d0c-3b2a-4c19-8e7f-6a5b4c3d2e1f",
        kind=Kind.S3,
        config=S3Config(bucket="orders", endpoint_url=str(base), addressing_style="path"),
        auth=BasicAuth(username=key_id),
        secrets=secrets,
        timeout_s=5.0,
    )

    result = await S3Check(egress).run(target)

    assert result.outcome is outcome, result
    assert_clean(result, secrets, key_id)
    if status == 200:
        assert result.server is not None
        assert result.server.version == "AmazonS3"
