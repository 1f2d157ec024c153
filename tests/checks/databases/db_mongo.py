"""MongoDB wire-protocol peers (no MongoDB server is installable on these machines).

- ``nx_27017`` runs the ``nx-27017`` server (PyPI; MongoDB wire protocol over
  SQLite) as a subprocess on a free port: real ``hello``, ``ping``,
  ``buildInfo`` and ``listCollections`` answers. It cannot authenticate (its
  SCRAM is unimplemented), has no TLS, no users and no roles.
- ``ScramMongo`` is a ``mockupdb`` (PyPI, by the MongoDB driver team) server
  scripted here to do the server side of SCRAM-SHA-256 for its users (RFC 5802
  / 7677: it checks the client proof and signs its own answer, so a wrong
  password really fails with code 18), and to refuse named commands with code
  13 (Unauthorized). It models no storage, no real role system and no TLS.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import hmac
import secrets
import socket
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

from mockupdb import MockupDB

from support import wait_for

ITERATIONS = 4096


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _accepts(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
    except OSError:
        return False
    return True


@contextlib.asynccontextmanager
async def nx_27017(folder: Path) -> AsyncIterator[int]:
    """An nx-27017 server with an in-memory store; yields its port, stops it after."""
    port = _free_port()
    binary = Path(sys.executable).parent / "nx-27017"
    process = subprocess.Popen(
        [binary, "--db", "memory", "-p", str(port), "--log-file", folder / "nx.log",
         "--pid-file", folder / "nx.pid"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        await wait_for(lambda: process.poll() is None and _accepts(port), message="nx-27017")
        yield port
    finally:
        process.terminate()
        await asyncio.to_thread(process.wait, 10)


def _hmac(key: bytes, message: bytes) -> bytes:
    return hmac.new(key, message, hashlib.sha256).digest()


class ScramMongo:
    """A scripted mongod that authenticates ``users`` with SCRAM-SHA-256."""

    def __init__(self, users: dict[str, str], unauthorized: frozenset[str] = frozenset()) -> None:
        self._users = users
        self._unauthorized = unauthorized
        self._conversations: dict[int, tuple[str, bytes, str]] = {}
        self.authenticated: list[str] = []
        self.server = MockupDB(auto_ismaster=None, request_timeout=5)
        self.server.autoresponds(self._handle)

    @contextlib.contextmanager
    def running(self) -> Iterator[int]:
        port = self.server.run()
        try:
            yield port
        finally:
            self.server.stop()

    def _handle(self, request: Any) -> bool:
        name = request.command_name.lower()
        doc = request.doc
        if name in ("ismaster", "hello"):
            return bool(request.ok(
                isWritablePrimary=True, ismaster=True, helloOk=True, minWireVersion=0,
                maxWireVersion=21, saslSupportedMechs=["SCRAM-SHA-256"],
            ))  # fmt: skip
        if name == "saslstart":
            return bool(request.ok(**self._server_first(bytes(doc["payload"]))))
        if name == "saslcontinue":
            return bool(self._server_final(request, doc["conversationId"], bytes(doc["payload"])))
        if name in self._unauthorized:
            return bool(request.command_err(code=13, errmsg="not authorized"))
        if name == "buildinfo":
            return bool(request.ok(version="7.0.0-mockupdb"))
        if name == "listcollections":
            return bool(request.ok(cursor={"id": 0, "ns": "x.$cmd", "firstBatch": []}))
        return bool(request.ok())

    def _server_first(self, client_first: bytes) -> dict[str, Any]:
        bare = client_first.decode().split(",", 2)[2]
        fields = dict(part.split("=", 1) for part in bare.split(","))
        salt = secrets.token_bytes(16)
        nonce = fields["r"] + base64.b64encode(secrets.token_bytes(18)).decode()
        server_first = f"r={nonce},s={base64.b64encode(salt).decode()},i={ITERATIONS}"
        conversation = len(self._conversations) + 1
        self._conversations[conversation] = (fields["n"], salt, f"{bare},{server_first}")
        return {"conversationId": conversation, "done": False, "payload": server_first.encode()}

    def _server_final(self, request: Any, conversation: int, client_final: bytes) -> bool:
        user, salt, messages = self._conversations.pop(conversation)
        without_proof, proof = client_final.decode().rsplit(",p=", 1)
        auth_message = f"{messages},{without_proof}".encode()
        password = self._users.get(user, secrets.token_hex(8))
        salted = hashlib.pbkdf2_hmac("sha256", password.encode(), salt, ITERATIONS)
        client_key = _hmac(salted, b"Client Key")
        signature = _hmac(hashlib.sha256(client_key).digest(), auth_message)
        claimed = bytes(a ^ b for a, b in zip(base64.b64decode(proof), signature, strict=True))
        if not hmac.compare_digest(claimed, client_key):
            return bool(request.command_err(code=18, errmsg="Authentication failed."))
        self.authenticated.append(user)
        verifier = base64.b64encode(_hmac(_hmac(salted, b"Server Key"), auth_message))
        return bool(request.ok(conversationId=conversation, done=True, payload=b"v=" + verifier))
