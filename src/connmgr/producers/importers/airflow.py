"""Airflow: ``airflow connections export`` output, JSON, YAML or env, and URIs.

The three files ``airflow connections export`` writes, which Airflow's local
filesystem secrets backend also reads (``docs/importers.md``, "Airflow"):

- JSON and YAML: a mapping of ``conn_id`` to either a connection URI or an
  object with ``conn_type``, ``host``, ``port``, ``schema``, ``login``,
  ``password``, ``description`` and ``extra`` (JSON text or an object; the
  backend's ``extra_dejson`` is read too);
- env: one ``conn_id=<URI>`` or ``conn_id=<JSON object>`` line per connection
  (``--serialization-format uri|json``), ``#`` comments and blank lines ignored.

A URI is Airflow's: ``<conn-type>://<login>:<password>@<host>:<port>/<schema>?
<extras>``, percent-encoded, with ``__extra__=<JSON>`` for extras that are not
text. Structure that is not one of these (a list at the top, an entry that is
a number, a repeated ``conn_id``) makes the file malformed; an entry whose
type or fields connmgr cannot take is skipped with the reason
(``airflow_types``).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, Final, Literal

from pydantic import SecretStr

from .airflow_types import AirflowConnection, convert_connection
from .entries import Conversion, EntryRefused, ImportedConnection, convert_entries
from .errors import ImportFailed
from .reading import load_json, load_yaml
from .uris import split_uri

AirflowFormat = Literal["json", "yaml", "env"]
FORMATS: Final = ("json", "yaml", "env")
_FIELDS: Final = frozenset(
    {"conn_type", "description", "host", "login", "password", "schema", "port", "extra"}
)
_ACCEPTED: Final = _FIELDS | {"conn_id", "extra_dejson"}


@dataclass(frozen=True, slots=True)
class _Entry:
    """One raw entry: a URI or an object, kept apart from its conn_id."""

    uri: str | None = field(default=None, repr=False)
    fields: dict[str, Any] | None = field(default=None, repr=False)


def convert(text: str, file_format: AirflowFormat) -> Conversion:
    """Every connection of one exported file; ``ImportFailed`` if the file is malformed."""
    entries = _env_entries(text) if file_format == "env" else _mapping_entries(text, file_format)
    return convert_entries(((f"airflow:{key}", entry) for key, entry in entries), _convert)


def _convert(label: str, entry: _Entry, notes: list[str]) -> ImportedConnection:
    conn_id = label.partition(":")[2]
    connection = _from_uri(conn_id, entry.uri) if entry.uri is not None else None
    if connection is None:
        connection = _from_fields(conn_id, entry.fields or {})
    return convert_connection(connection, notes)


def _mapping_entries(text: str, file_format: AirflowFormat) -> Iterator[tuple[str, _Entry]]:
    document = load_json(text) if file_format == "json" else load_yaml(text)
    if document is None:
        return
    if not isinstance(document, dict):
        raise ImportFailed("input_malformed", "the file must map each conn_id to a connection")
    for key, value in document.items():
        yield str(key), _entry(str(key), value)


def _entry(conn_id: str, value: Any) -> _Entry:
    if isinstance(value, str):
        return _Entry(uri=value)
    if isinstance(value, dict):
        return _Entry(fields=value)
    raise ImportFailed(
        "input_malformed", f"connection {conn_id!r} is neither a URI nor an object of fields"
    )


def _env_entries(text: str) -> Iterator[tuple[str, _Entry]]:
    seen: set[str] = set()
    for number, line in enumerate(text.splitlines(), start=1):
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        key, separator, value = stripped.partition("=")
        key, value = key.strip(), value.strip()
        if not separator or not key:
            raise ImportFailed("input_malformed", f"line {number} is not conn_id=value")
        if key in seen:
            raise ImportFailed("input_malformed", f"line {number} repeats conn_id {key!r}")
        seen.add(key)
        if value.startswith("{"):
            yield key, _entry(key, load_json(value))
        else:
            yield key, _Entry(uri=value)


def _from_uri(conn_id: str, uri: str) -> AirflowConnection:
    """Airflow's URI, including its host-with-a-protocol form ``http://https://host``."""
    conn_type, separator, rest = uri.strip().partition("://")
    if not separator or not conn_type or rest.count("://") > 1:
        raise EntryRefused("the URI is not <conn_type>://<connection>")
    protocol, nested, tail = rest.partition("://")
    if nested and ("@" in protocol or ":" in protocol):
        raise EntryRefused("the URI's host protocol holds a login or a port")
    parts = split_uri(f"{protocol}://{tail}" if nested else f"{conn_type}://{rest}")
    host = f"{protocol}://{parts.host}" if nested and parts.host else parts.host
    query = dict(parts.query)
    extra: Any = query.pop("__extra__", None)
    extras = _extras(extra) if extra is not None else query
    return AirflowConnection(
        conn_id=conn_id,
        conn_type=conn_type,
        host=host,
        port=parts.port,
        schema=parts.path or None,
        login=parts.username,
        password=parts.password,
        extra=extras,
    )


def _from_fields(conn_id: str, fields: dict[str, Any]) -> AirflowConnection:
    unknown = set(map(str, fields)) - _ACCEPTED
    if unknown:
        raise EntryRefused(f"Airflow has no connection field {', '.join(sorted(unknown))}")
    if fields.get("extra") is not None and fields.get("extra_dejson") is not None:
        raise EntryRefused("both extra and extra_dejson are given")
    extra = fields.get("extra", fields.get("extra_dejson"))
    password = fields.get("password")
    return AirflowConnection(
        conn_id=conn_id,
        conn_type=_text(fields, "conn_type") or "",
        host=_text(fields, "host"),
        port=_port(fields.get("port")),
        schema=_text(fields, "schema"),
        login=_text(fields, "login"),
        password=SecretStr(str(password)) if password not in (None, "") else None,
        extra=_extras(extra) if extra is not None else {},
        description=_text(fields, "description") or "",
    )


def _text(fields: dict[str, Any], name: str) -> str | None:
    value = fields.get(name)
    if value is None or value == "":
        return None
    if not isinstance(value, str | int):
        raise EntryRefused(f"{name} is not text")
    return str(value)


def _port(value: Any) -> int | None:
    if value in (None, ""):
        return None
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise EntryRefused("port is not a number")
    try:
        return int(value)
    except ValueError:
        raise EntryRefused("port is not a number") from None


def _extras(value: Any) -> dict[str, Any]:
    if isinstance(value, str):
        if not value.strip():
            return {}
        try:
            value = json.loads(value)
        except (json.JSONDecodeError, RecursionError):
            raise EntryRefused("extra is not a JSON object") from None
    if not isinstance(value, dict):
        raise EntryRefused("extra is not a JSON object")
    return {str(key): item for key, item in value.items()}
