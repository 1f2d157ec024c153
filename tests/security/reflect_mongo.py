"""A reflecting mongod (``mockupdb``, by the MongoDB driver team), reaching SCRAM.

``hello`` answers as a writable primary that offers SCRAM-SHA-256 and echoes in
every string field a driver reads (``msg``, ``setName``-like fields are avoided so
the driver keeps the server); ``saslStart`` gets an OP_MSG error (code 18,
AuthenticationFailed) whose ``errmsg`` and ``codeName`` carry ``echo`` and the SASL
payload received (the user name and nonce). SCRAM never sends the password, so
the echo of the test's credentials stands for a server that knows them.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

from mockupdb import MockupDB
from reflect_wire import one_line


@dataclass
class MongoPeer:
    echo: str
    sent: list[str] = field(default_factory=list)
    reached_auth: bool = False
    port: int = 0
    server: MockupDB = field(init=False)

    def __post_init__(self) -> None:
        self.server = MockupDB(auto_ismaster=None, request_timeout=5)
        self.server.autoresponds(self._handle)

    @contextlib.asynccontextmanager
    async def running(self) -> AsyncIterator[MongoPeer]:
        self.port = self.server.run()
        try:
            yield self
        finally:
            self.server.stop()

    def sent_text(self) -> str:
        return "\n".join(self.sent)

    def _handle(self, request: Any) -> bool:
        name = request.command_name.lower()
        if name in ("ismaster", "hello"):
            return bool(request.ok(
                isWritablePrimary=True, ismaster=True, helloOk=True, minWireVersion=0,
                maxWireVersion=21, saslSupportedMechs=["SCRAM-SHA-256"],
            ))  # fmt: skip
        heard = one_line(f"{self.echo} {request.doc!r}")
        if name in ("saslstart", "authenticate"):
            self.reached_auth = True
        message = f"Authentication failed. {heard}"
        self.sent.append(message)
        return bool(request.command_err(code=18, errmsg=message, codeName=heard))
