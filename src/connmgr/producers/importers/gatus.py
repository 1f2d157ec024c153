"""Gatus: a configuration YAML's ``endpoints``.

Each endpoint with a ``url`` becomes a connection whose health check is on
(``enabled`` kept), at the endpoint's ``interval`` (Go durations: ``30s``,
``5m``, ``1h30m``; Gatus's default 60s), with the ``client.timeout`` and the
first alert's failure and success thresholds when given (``docs/importers.md``,
"Gatus"):

- ``http://`` and ``https://``: an ``http`` connection (method and headers
  kept; credential headers become auth and secrets, ``http_entries``), with
  the conditions that map as expectations (``gatus_conditions``);
- ``tcp://host:port``: a ``tcp`` connection; ``tls://host:port``: the same
  with ``tls: true``; ``starttls://host:port``: an ``smtp`` connection with
  STARTTLS;
- every other scheme (``icmp``, ``dns``, ``ssh``, ``udp``, ``ws``, …) and every
  ``external-endpoints`` entry (pushed to, never probed) is skipped.

A secret written as Gatus's environment placeholder (``${TOKEN}``, or
``Bearer ${TOKEN}``) becomes the reference ``env:TOKEN``: no value is read. A
placeholder anywhere else (a host, a path) skips the entry, since the file
written takes literal config. An endpoint in a ``group`` is named
``group/name`` and tagged ``group:<group>``.
"""

from __future__ import annotations

import dataclasses
import re
from typing import Any, Final
from urllib.parse import urlsplit

from connmgr.schemas.kinds import Kind

from .entries import Conversion, EntryRefused, ImportedConnection, convert_entries, tags_of
from .errors import ImportFailed
from .gatus_conditions import conditions_of
from .http_entries import http_parts
from .reading import load_yaml

_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)")
_UNIT_SECONDS: Final = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1, "m": 60, "h": 3600}
_PLACEHOLDER = re.compile(r"^\$\{?(?P<name>[A-Za-z_][A-Za-z0-9_]*)\}?$")
_SOCKET_KINDS: Final = {"tcp": (Kind.TCP, {}), "tls": (Kind.TCP, {"tls": True})} | {
    "starttls": (Kind.SMTP, {"security": "starttls"})
}


def convert(text: str) -> Conversion:
    """Every endpoint of one configuration; ``ImportFailed`` if it is not one."""
    document = load_yaml(text)
    if not isinstance(document, dict) or not (
        "endpoints" in document or "external-endpoints" in document
    ):
        raise ImportFailed("input_not_recognised", "not a Gatus configuration (no endpoints)")
    entries: list[tuple[str, Any]] = []
    for section in ("endpoints", "external-endpoints"):
        listed = document.get(section) or []
        if not isinstance(listed, list):
            raise ImportFailed("input_malformed", f"{section} is not a list")
        for index, endpoint in enumerate(listed):
            if not isinstance(endpoint, dict) or not isinstance(endpoint.get("name"), str):
                raise ImportFailed("input_malformed", f"{section}[{index}] is not a named endpoint")
            external = section == "external-endpoints"
            entries.append((f"gatus:{_name(endpoint)}", {**endpoint, "__external": external}))
    return convert_entries(entries, _convert)


def _name(endpoint: dict[str, Any]) -> str:
    group = endpoint.get("group")
    return f"{group}/{endpoint['name']}" if group else str(endpoint["name"])


def _convert(label: str, endpoint: dict[str, Any], notes: list[str]) -> ImportedConnection:
    if endpoint["__external"]:
        raise EntryRefused("an external endpoint is pushed to, not probed")
    url = endpoint.get("url")
    if not isinstance(url, str) or not url:
        raise EntryRefused("the endpoint has no url")
    if "$" in url:
        raise EntryRefused("the url uses an environment placeholder; the file takes literal config")
    scheme = urlsplit(url).scheme.lower()
    conditions = endpoint.get("conditions") or []
    if not isinstance(conditions, list):
        raise EntryRefused("conditions is not a list")
    expectations = conditions_of(conditions)
    notes.extend(expectations.unmapped)
    name = label.partition(":")[2]
    if scheme in ("http", "https"):
        connection = _http(name, url, endpoint, expectations.test, notes)
    elif scheme in _SOCKET_KINDS:
        connection = _socket(name, url, scheme)
    else:
        raise EntryRefused(f"Gatus {scheme or 'dns'} endpoints have no connmgr kind")
    health = _health(endpoint, notes) | expectations.health
    group = endpoint.get("group")
    tags = tags_of([f"group:{group}"] if group else [], notes)
    return dataclasses.replace(connection, health_check=health, tags=tags)


def _http(
    name: str, url: str, endpoint: dict[str, Any], test: dict[str, Any], notes: list[str]
) -> ImportedConnection:
    headers = endpoint.get("headers") or {}
    if not isinstance(headers, dict):
        raise EntryRefused("headers is not a mapping")
    parts = http_parts(
        url,
        method=str(endpoint.get("method") or "GET"),
        headers={str(key): str(value) for key, value in headers.items()},
        notes=notes,
    )
    if any("$" in str(value) for value in parts.config.get("headers", {}).values()):
        raise EntryRefused("a header uses an environment placeholder; the file takes literal text")
    if "expected_status" not in test:
        notes.append("no [STATUS] == condition: connmgr expects 200")
    parts.config["test"] |= test
    if endpoint.get("body"):
        notes.append("request body dropped: connmgr's test request has none")
    client = endpoint.get("client") or {}
    if isinstance(client, dict) and client.get("insecure"):
        notes.append("client.insecure not kept: connmgr always verifies TLS")
    secrets, references = {}, {}
    for field, value in parts.secrets.items():
        placeholder = _PLACEHOLDER.match(value.get_secret_value())
        if placeholder is not None:
            references[field] = f"env:{placeholder['name']}"
        else:
            secrets[field] = value
    return ImportedConnection(
        name=name,
        kind=Kind.HTTP,
        config=parts.config,
        auth=parts.auth,
        secrets=secrets,
        references=references,
    )


def _socket(name: str, url: str, scheme: str) -> ImportedConnection:
    parts = urlsplit(url)
    try:
        port = parts.port
    except ValueError:
        raise EntryRefused("the url has an invalid port") from None
    if not parts.hostname or port is None:
        raise EntryRefused(f"a {scheme} url needs a host and a port")
    kind, options = _SOCKET_KINDS[scheme]
    return ImportedConnection(
        name=name, kind=kind, config={"host": parts.hostname, "port": port, **options}
    )


def _health(endpoint: dict[str, Any], notes: list[str]) -> dict[str, Any]:
    interval = _seconds(endpoint.get("interval", "60s"), "interval")
    health: dict[str, Any] = {
        "enabled": endpoint.get("enabled", True) is not False,
        "interval_s": min(max(round(interval), 10), 86400),
    }
    if not 10 <= interval <= 86400:
        notes.append("interval outside connmgr's 10s..24h: set to the bound")
    client = endpoint.get("client")
    if isinstance(client, dict) and "timeout" in client:
        timeout = _seconds(client["timeout"], "client.timeout")
        health["timeout_s"] = min(max(round(timeout), 1), 60)
    alerts = endpoint.get("alerts")
    if isinstance(alerts, list) and alerts and isinstance(alerts[0], dict):
        for key, target in (("failure-threshold", "failure_threshold"),
                            ("success-threshold", "recovery_threshold")):  # fmt: skip
            value = alerts[0].get(key)
            if isinstance(value, int) and not isinstance(value, bool):
                health[target] = min(max(value, 1), 100)
    return health


def _seconds(value: Any, what: str) -> float:
    """A Go duration (``1h30m``, ``500ms``) in seconds; ``EntryRefused`` if not one."""
    text = str(value).strip()
    parts = _DURATION_PART.findall(text)
    if not parts or "".join(number + unit for number, unit in parts) != text:
        raise EntryRefused(f"{what} is not a duration such as 30s or 5m")
    return sum(float(number) * _UNIT_SECONDS[unit] for number, unit in parts)
