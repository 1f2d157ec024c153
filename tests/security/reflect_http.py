"""A reflecting HTTP(S) peer for the http, webhook and s3 kinds (aiohttp).

Every answer carries the credentials the request brought (its ``Authorization``
and ``X-`` headers, query and body, first), ``echo`` (the test's credentials)
and the whole request in
every place HTTP offers: the status reason, ``Server``, ``WWW-Authenticate``,
custom headers, a cookie, the body and, for ``Mode.REDIRECT``, the ``Location``.
``Mode.S3`` answers as S3 does, with an XML error body naming the key.

``/oauth2/token`` is a client-credentials token endpoint: it issues a fresh
access token per request (``issued``: runtime secrets the test must add to its
scanner) and reflects the client credentials it received in its headers.
``bearers`` keeps every ``Authorization: Bearer`` value received (the JWTs connmgr
signed, the issued tokens), so the test scans for those too.
"""

from __future__ import annotations

import contextlib
import json
import secrets
import ssl
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from enum import StrEnum
from urllib.parse import quote
from xml.sax.saxutils import escape

from aiohttp import web
from reflect_wire import one_line

TOKEN_PATH = "/oauth2/token"
_JSON = "application/json"


class Mode(StrEnum):
    ACCEPT = "accept"
    REFUSE = "refuse"
    REDIRECT = "redirect"
    REFUSE_TOKEN = "refuse_token"
    """The token endpoint refuses the client (RFC 6749 error JSON echoing it)."""
    S3 = "s3"


@dataclass
class HttpPeer:
    echo: str
    mode: Mode
    tls: ssl.SSLContext | None = None
    requests: list[str] = field(default_factory=list)
    sent: list[str] = field(default_factory=list)
    issued: list[str] = field(default_factory=list)
    bearers: list[str] = field(default_factory=list)
    port: int = 0

    @property
    def base_url(self) -> str:
        scheme = "https" if self.tls else "http"
        return f"{scheme}://127.0.0.1:{self.port}"

    @property
    def reached_auth(self) -> bool:
        """A request arrived at the tested resource (or, refusing tokens, at the endpoint)."""
        if self.mode is Mode.REFUSE_TOKEN:
            return bool(self.requests)
        return any(not request.startswith(f"POST {TOKEN_PATH}") for request in self.requests)

    def sent_text(self) -> str:
        return "\n".join(self.sent)

    @contextlib.asynccontextmanager
    async def running(self) -> AsyncIterator[HttpPeer]:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._answer)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=self.tls)
        await site.start()
        self.port = runner.addresses[0][1]
        try:
            yield self
        finally:
            await runner.cleanup()

    async def _answer(self, request: web.Request) -> web.StreamResponse:
        body = await request.text()
        heard = one_line(
            f"{request.method} {request.path_qs} {json.dumps(dict(request.headers))} {body}"
        )
        self.requests.append(heard)
        authorization = request.headers.get("Authorization", "")
        if authorization.lower().startswith("bearer "):
            self.bearers.append(authorization.split(" ", 1)[1].strip())
        echo = one_line(f"{_credentials_received(request, body)} {self.echo} {heard}")
        if request.path == TOKEN_PATH:
            return self._token(echo)
        return self._reflect(echo, request)

    def _token(self, echo: str) -> web.Response:
        if self.mode is Mode.REFUSE_TOKEN:
            error = {"error": "invalid_client", "error_description": echo, "error_uri": echo}
            return self._respond(401, f"Unauthorized {echo}", echo, json.dumps(error), _JSON)
        token = f"issued-{secrets.token_urlsafe(24)}"
        self.issued.append(token)
        document = {"access_token": token, "token_type": "Bearer", "expires_in": 3600}
        return self._respond(200, "OK", echo, json.dumps(document), _JSON)

    def _reflect(self, echo: str, request: web.Request) -> web.Response:
        if self.mode is Mode.S3:
            xml = (
                "<?xml version='1.0' encoding='UTF-8'?><Error><Code>SignatureDoesNotMatch</Code>"
                f"<Message>{escape(echo)}</Message><AWSAccessKeyId>{escape(echo)}"
                f"</AWSAccessKeyId><StringToSign>{escape(echo)}</StringToSign>"
                f"<RequestId>{escape(echo)}</RequestId></Error>"
            )
            return self._respond(403, "Forbidden", echo, xml, "application/xml")
        text = json.dumps({"ok": self.mode is Mode.ACCEPT, "error": echo, "you_sent": echo})
        if self.mode is Mode.ACCEPT:
            return self._respond(200, f"OK {echo}", echo, text, _JSON)
        if self.mode is Mode.REDIRECT:
            response = self._respond(302, f"Found {echo}", echo, text, _JSON)
            location = f"http://127.0.0.1:{self.port}/landing?echo={quote(echo)}"
            response.headers["Location"] = location
            return response
        return self._respond(401, f"Unauthorized {echo}", echo, text, _JSON)

    def _respond(
        self, status: int, reason: str, echo: str, text: str, content_type: str
    ) -> web.Response:
        headers = {
            "Server": f"reflector/1.0 {echo}",
            "WWW-Authenticate": f'Basic realm="{echo}"',
            "X-Echo": echo,
            "X-Request-Id": echo,
            "Set-Cookie": f"session={quote(echo)}",
        }
        self.sent.append(f"{status} {reason} {json.dumps(headers)} {text}")
        return web.Response(
            status=status, reason=reason, headers=headers, text=text, content_type=content_type
        )


def _credentials_received(request: web.Request, body: str) -> str:
    """What carried credentials, first, so that even a short copy (a truncated
    header) of the echo holds one: the auth and custom headers, the query, the body."""
    headers = [
        value
        for name, value in request.headers.items()
        if name.lower() == "authorization" or name.lower().startswith("x-")
    ]
    return " ".join([*headers, request.query_string, body])
