"""A private PostgreSQL cluster that checks passwords (SCRAM) and offers TLS.

The machine's PostgreSQL trusts every local connection, so a wrong password
would still log in there. This cluster is made by ``initdb --auth=scram-sha-256``
in a temporary folder owned by the ``postgres`` OS user (initdb refuses root),
started by ``pg_ctl`` on a free loopback port with ``ssl=on`` and the given
certificate, and stopped (``-m immediate``) and removed at the end.
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import secrets
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from db_pki import SelfSigned


def postgres_bin() -> Path | None:
    """The newest installed server's bin folder, or None."""
    found = glob.glob("/usr/lib/postgresql/*/bin/initdb")
    found.sort(key=lambda path: int(path.split("/")[4]))
    return Path(found[-1]).parent if found else None


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass(frozen=True)
class PrivatePostgres:
    port: int
    superuser_password: str
    certificate: SelfSigned

    @property
    def admin_dsn(self) -> str:
        return f"postgresql://postgres:{self.superuser_password}@127.0.0.1:{self.port}/postgres"


def _as_postgres(*command: str | Path) -> None:
    subprocess.run(
        ["runuser", "-u", "postgres", "--", *map(str, command)],
        check=True,
        capture_output=True,
        timeout=120,
    )


def _write_private(path: Path, text: str, owner: pwd.struct_passwd) -> None:
    path.write_text(text)
    os.chmod(path, 0o600)
    os.chown(path, owner.pw_uid, owner.pw_gid)


@contextlib.contextmanager
def private_postgres(binaries: Path, certificate: SelfSigned) -> Iterator[PrivatePostgres]:
    owner = pwd.getpwnam("postgres")
    folder = Path(tempfile.mkdtemp(prefix="connmgr-pg-"))
    os.chown(folder, owner.pw_uid, owner.pw_gid)
    password, port = secrets.token_hex(16), _free_port()
    _write_private(folder / "pwfile", password + "\n", owner)
    _write_private(folder / "server.crt", certificate.cert_pem, owner)
    _write_private(folder / "server.key", certificate.key_pem, owner)
    data = folder / "data"
    try:
        _as_postgres(
            binaries / "initdb", "-D", data, "-U", "postgres", "--auth=scram-sha-256",
            f"--pwfile={folder / 'pwfile'}", "-E", "UTF8", "--locale=C", "--no-sync",
        )  # fmt: skip
        options = (
            f"-p {port} -k {folder} -c listen_addresses=127.0.0.1 -c ssl=on"
            f" -c ssl_cert_file={folder / 'server.crt'} -c ssl_key_file={folder / 'server.key'}"
        )
        _as_postgres(
            binaries / "pg_ctl", "-D", data, "-l", folder / "log", "-w", "-t", "60",
            "-o", options, "start",
        )  # fmt: skip
        yield PrivatePostgres(port, password, certificate)
    finally:
        with contextlib.suppress(subprocess.CalledProcessError):
            _as_postgres(binaries / "pg_ctl", "-D", data, "-m", "immediate", "-w", "stop")
        shutil.rmtree(folder, ignore_errors=True)
