"""The probe port of a worker process (``health_host:health_port``), served from a thread.

A thread of its own (stdlib ``http.server``), not the process's event loop: a
probe is answered even while that loop is stuck, and then says so
(``health.HealthState``). Requests only read that state: no route performs I/O
of its own, so a flood of probes costs no NATS or database request.

Routes (``ROUTES`` of ``probe_routes``), ``GET`` only: ``/livez`` and
``/readyz``, 200 ``{"status": "ok"}`` or 503 ``{"status": "unavailable",
"reason": "<code>"}``. The port is unauthenticated, so an answer carries a
status and a reason code, never a setting, a host name, an error's text or any
tenant's data. Any other path is a 404, any other method a 405 (``Allow: GET``);
request lines and headers are bounded by ``http.server`` and a connection that
sends nothing is closed after ``REQUEST_TIMEOUT_S``. Requests are not logged
(a probe every few seconds); ``http.server``'s plain-text stderr lines never
appear.

``/metrics``: the process's Prometheus registry (``workers/metrics.py``), with
``connmgr_worker_ready{pool}`` set from the same readiness verdict ``/readyz``
answers, at the moment of the scrape. Its labels are bounded values the code
enumerates: no tenant, id, host or tenant-supplied text (docs/security.md), so
the port stays readable by the cluster's Prometheus without authentication.
"""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Final
from urllib.parse import urlsplit

import structlog
from prometheus_client import REGISTRY, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

from connmgr.runtime.health import HealthState, Verdict
from connmgr.workers.metrics import set_ready

log = structlog.get_logger("connmgr.health")

REQUEST_TIMEOUT_S: Final = 5.0
JSON: Final = "application/json"


@dataclass(frozen=True, slots=True)
class Answer:
    status: int
    content_type: str
    body: bytes


Route = Callable[[], Answer]


def verdict_answer(verdict: Verdict) -> Answer:
    if verdict.ok:
        return Answer(HTTPStatus.OK, JSON, b'{"status": "ok"}')
    body = {"status": "unavailable", "reason": verdict.reason}
    return Answer(HTTPStatus.SERVICE_UNAVAILABLE, JSON, json.dumps(body).encode())


def metrics_answer(state: HealthState, pool: str) -> Answer:
    set_ready(pool, state.readiness().ok)
    return Answer(HTTPStatus.OK, CONTENT_TYPE_LATEST, generate_latest(REGISTRY))


def probe_routes(state: HealthState, pool: str) -> dict[str, Route]:
    """The port's route table: the probes and the metrics of ``pool``'s process."""
    return {
        "/livez": lambda: verdict_answer(state.liveness()),
        "/readyz": lambda: verdict_answer(state.readiness()),
        "/metrics": lambda: metrics_answer(state, pool),
    }


def _handler(routes: Mapping[str, Route]) -> type[BaseHTTPRequestHandler]:
    class ProbeHandler(BaseHTTPRequestHandler):
        timeout = REQUEST_TIMEOUT_S

        def version_string(self) -> str:
            return "connmgr-health"  # no Python version in the Server header

        def do_GET(self) -> None:
            route = routes.get(urlsplit(self.path).path)
            if route is None:
                self._send(_error(HTTPStatus.NOT_FOUND, "not_found"))
                return
            self._send(route())

        def refuse(self) -> None:
            self._send(_error(HTTPStatus.METHOD_NOT_ALLOWED, "method_not_allowed"), allow=True)

        do_HEAD = do_POST = do_PUT = do_DELETE = do_PATCH = do_OPTIONS = do_TRACE = refuse  # noqa: N815
        do_CONNECT = refuse  # noqa: N815

        def _send(self, answer: Answer, *, allow: bool = False) -> None:
            self.send_response(answer.status)
            self.send_header("Content-Type", answer.content_type)
            self.send_header("Content-Length", str(len(answer.body)))
            self.send_header("Cache-Control", "no-store")
            if allow:
                self.send_header("Allow", "GET")
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(answer.body)

        def log_message(self, format: str, *args: object) -> None:
            pass  # a probe every few seconds is no news; errors are answered, not logged

    return ProbeHandler


def _error(status: HTTPStatus, reason: str) -> Answer:
    return Answer(status, JSON, json.dumps({"status": "error", "reason": reason}).encode())


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, host: str, port: int, routes: Mapping[str, Route]) -> None:
        self.address_family = socket.AF_INET6 if ":" in host else socket.AF_INET
        super().__init__((host, port), _handler(routes))


class ProbeServer:
    """``start()`` binds and serves in a daemon thread; ``stop()`` ends it. A port that
    cannot be bound is one ERROR line, ``health_port_unavailable``, and no server:
    the process runs on, and an orchestrator's probe then fails visibly."""

    def __init__(self, host: str, port: int, routes: Mapping[str, Route]) -> None:
        self._host, self._port, self._routes = host, port, routes
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int | None:
        return self._server.server_address[1] if self._server is not None else None

    def start(self) -> None:
        try:
            self._server = _Server(self._host, self._port, self._routes)
        except OSError as error:
            log.error(
                "health_port_unavailable", host=self._host, port=self._port, error=error.strerror
            )
            return
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="connmgr-health", daemon=True
        )
        self._thread.start()
        log.info("health_port_listening", host=self._host, port=self.port)

    def stop(self) -> None:
        if self._server is None:
            return
        self._server.shutdown()
        self._server.server_close()
        self._server = None
