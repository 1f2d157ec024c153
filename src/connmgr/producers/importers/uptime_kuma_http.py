"""Uptime Kuma ``http`` and ``keyword`` monitors as ``http`` connections.

The URL splits into base URL and test path (``http_entries``); the accepted
status codes become ``expected_status`` (connmgr expects one status: a range is
narrowed to 200 when it holds it, else to its first code, with a note); a
keyword monitor's keyword becomes ``body_contains``. Basic logins and credential
headers become auth and secrets there; OAuth2 client credentials become
``oauth2`` (secret ``client_secret``) and mTLS ``mtls`` (secrets
``client_cert_pem`` and ``client_key_pem``, the CA as ``ca_pem``). An inverted
keyword and NTLM skip the monitor (``docs/importers.md``, "Uptime Kuma").
"""

from __future__ import annotations

import json
from typing import Any

from pydantic import SecretStr

from connmgr.schemas.kinds import Kind

from .entries import EntryRefused, ImportedConnection, secret_or_none
from .http_entries import http_parts


def monitor_flag(monitor: dict[str, Any], key: str, default: bool = False) -> bool:
    """A monitor's boolean, which a backup may hold as 0/1 or true/false."""
    value = monitor.get(key, default)
    return bool(value) if value is not None else default


def http_monitor(name: str, monitor: dict[str, Any], notes: list[str]) -> ImportedConnection:
    if monitor_flag(monitor, "invertKeyword"):
        raise EntryRefused("an inverted keyword (absent means up) has no connmgr expectation")
    method = str(monitor.get("authMethod") or "")
    if method not in ("", "none", "basic", "oauth2-cc", "mtls"):
        raise EntryRefused(f"auth method {method!r} has no connmgr equivalent")
    basic = method == "basic" and monitor.get("basic_auth_user")
    password = secret_or_none(monitor.get("basic_auth_pass")) if basic else None
    parts = http_parts(
        str(monitor.get("url") or ""),
        method=str(monitor.get("method") or "GET"),
        headers=_headers(monitor.get("headers")),
        notes=notes,
        username=str(monitor["basic_auth_user"]) if basic else None,
        password=password,
    )
    config = parts.config
    config["test"] |= _expectations(monitor, notes)
    auth, secrets = parts.auth, dict(parts.secrets)
    if method in ("oauth2-cc", "mtls"):
        if auth["method"] != "none":
            raise EntryRefused("credentials both in headers and in the auth method")
        auth, secrets, ca_pem = _other_login(method, monitor)
        config |= {"ca_pem": ca_pem} if ca_pem else {}
    _http_notes(monitor, notes)
    return ImportedConnection(name=name, kind=Kind.HTTP, config=config, auth=auth, secrets=secrets)


def _expectations(monitor: dict[str, Any], notes: list[str]) -> dict[str, Any]:
    test: dict[str, Any] = {"expected_status": _expected_status(monitor, notes)}
    if monitor.get("type") == "keyword":
        keyword = monitor.get("keyword")
        if not isinstance(keyword, str) or not keyword:
            raise EntryRefused("a keyword monitor without a keyword")
        test["body_contains"] = keyword
    return test


def _expected_status(monitor: dict[str, Any], notes: list[str]) -> int:
    accepted = monitor.get("accepted_statuscodes") or ["200-299"]
    if not isinstance(accepted, list) or not all(isinstance(code, str) for code in accepted):
        raise EntryRefused("accepted_statuscodes is not a list of codes")
    first = accepted[0]
    low, _, high = first.partition("-")
    if not low.isdigit() or (high and not high.isdigit()):
        raise EntryRefused("accepted_statuscodes holds something that is not a status code")
    status = 200 if high and int(low) <= 200 <= int(high) else int(low)
    if len(accepted) > 1 or high:
        notes.append(f"accepted status codes narrowed to {status}: connmgr expects one status")
    return status


def _other_login(
    method: str, monitor: dict[str, Any]
) -> tuple[dict[str, Any], dict[str, SecretStr], str | None]:
    if method == "oauth2-cc":
        scopes = str(monitor.get("oauth_scopes") or "").split()
        auth: dict[str, Any] = {
            "method": "oauth2",
            "token_url": monitor.get("oauth_token_url"),
            "client_id": monitor.get("oauth_client_id"),
            "scopes": scopes,
        }
        if monitor.get("oauth_audience"):
            auth["audience"] = monitor["oauth_audience"]
        secret = secret_or_none(monitor.get("oauth_client_secret"))
        return auth, ({"client_secret": secret} if secret else {}), None
    secrets = {
        field: value
        for field, key in (("client_cert_pem", "tlsCert"), ("client_key_pem", "tlsKey"))
        if (value := secret_or_none(monitor.get(key))) is not None
    }
    return {"method": "mtls"}, secrets, monitor.get("tlsCa") or None


def _http_notes(monitor: dict[str, Any], notes: list[str]) -> None:
    if monitor_flag(monitor, "ignoreTls"):
        notes.append("ignoreTls not kept: connmgr always verifies TLS")
    if isinstance(monitor.get("maxredirects"), int) and monitor["maxredirects"] > 0:
        notes.append("redirects not followed: connmgr takes a 3xx as the answer")
    if monitor.get("body"):
        notes.append("request body dropped: connmgr's test request has none")


def _headers(raw: Any) -> dict[str, str]:
    if raw in (None, ""):
        return {}
    try:
        headers = json.loads(raw) if isinstance(raw, str) else raw
    except (json.JSONDecodeError, RecursionError):
        raise EntryRefused("headers are not a JSON object") from None
    if not isinstance(headers, dict):
        raise EntryRefused("headers are not a JSON object")
    return {str(key): str(value) for key, value in headers.items()}
