"""Airflow's service types: ``http``, ``aws`` (S3), ``smtp``, ``imap``.

``http``: the host (with its protocol, or ``schema`` as the scheme) and port
make the base URL and the extras are HttpHook's headers, credential headers
becoming auth (``http_entries``). ``aws``: the bucket comes from ``schema``,
``bucket_name`` or ``service_config.s3``, the access key from the login or the
extras; a role or temporary credentials skip the entry (``docs/importers.md``,
"Airflow").
"""

from __future__ import annotations

from typing import Any, Final

from connmgr.schemas.kinds import Kind

from .airflow_fields import (
    AirflowConnection,
    flag,
    host_of,
    login_of,
    made,
)
from .entries import EntryRefused, secret_or_none
from .http_entries import http_parts

_HTTP_REQUEST_OPTIONS: Final = frozenset(
    {"proxies", "stream", "verify", "cert", "max_redirects", "allow_redirects", "trust_env"}
    | {"timeout", "check_response", "auth_type", "auth_kwargs", "adapter"}
)


def http(connection: AirflowConnection, extras: dict[str, Any], notes: list[str]) -> Any:
    host = host_of(connection)
    base = host if "://" in host else f"{connection.schema or 'http'}://{host}"
    if connection.port is not None:
        base += f":{connection.port}"
    for option in sorted(_HTTP_REQUEST_OPTIONS & extras.keys()):
        extras.pop(option)
        notes.append(f"dropped option {option!r}: a request option connmgr does not take")
    headers = {name: str(extras.pop(name)) for name in list(extras)}
    parts = http_parts(
        base, headers=headers, notes=notes, username=connection.login, password=connection.password
    )
    return made(connection, Kind.HTTP, parts.config, (parts.auth, parts.secrets))


def aws(connection: AirflowConnection, extras: dict[str, Any], notes: list[str]) -> Any:
    for refused, why in (
        ("role_arn", "it assumes a role; connmgr stores an access key"),
        ("aws_session_token", "its credentials are temporary (a session token)"),
    ):
        if extras.get(refused):
            raise EntryRefused(why)
    s3_config = extras.pop("service_config", {}).get("s3", {})
    bucket = connection.schema or extras.pop("bucket_name", None) or s3_config.get("bucket_name")
    if not bucket:
        raise EntryRefused("no bucket: set schema or service_config.s3.bucket_name")
    config: dict[str, Any] = {"bucket": bucket}
    region = extras.pop("region_name", None)
    endpoint = extras.pop("endpoint_url", None) or s3_config.get("endpoint_url")
    config |= {"region": region} if region else {}
    config |= {"endpoint_url": endpoint} if endpoint else {}
    key_id = connection.login or extras.pop("aws_access_key_id", None)
    secret = connection.password or secret_or_none(extras.pop("aws_secret_access_key", None))
    if not key_id or secret is None:
        raise EntryRefused("no access key; connmgr has no instance or role credentials")
    login = ({"method": "basic", "username": str(key_id)}, {"password": secret})
    return made(connection, Kind.S3, config, login)


def smtp(connection: AirflowConnection, extras: dict[str, Any], notes: list[str]) -> Any:
    implicit = not flag(extras, "disable_ssl", False)
    starttls = not flag(extras, "disable_tls", False)
    security = "implicit" if implicit else ("starttls" if starttls else "none")
    port = connection.port or (465 if implicit else 587)
    config = {"host": host_of(connection), "port": port, "security": security}
    return made(connection, Kind.SMTP, config, login_of(connection))


def imap(connection: AirflowConnection, extras: dict[str, Any], notes: list[str]) -> Any:
    implicit = flag(extras, "use_ssl", True)
    port = connection.port or (993 if implicit else 143)
    security = "implicit" if implicit else "none"
    config = {"host": host_of(connection), "port": port, "security": security}
    return made(connection, Kind.IMAP, config, login_of(connection))
