"""How JSON columns are written and read: orjson, with the standard library behind it.

The engine's ``json_serializer`` / ``json_deserializer`` (``database.create_engine``).
orjson writes the same document (compact, UTF-8 rather than ``\\u`` escapes, keys in
insertion order) several times faster, which the encryptor's batch of events,
projection rows and outcomes pays per column (``docs/decisions.md``, issue 15). What
orjson refuses — a key that is not a string, an integer beyond 64 bits — is written by
``json.dumps`` as before, and what it cannot read (``NaN``, which ``json.dumps``
writes on SQLite) is read by ``json.loads``. Only a float NaN or infinity is written
differently: as ``null``, a valid JSON document (PostgreSQL refused the ``NaN`` token).
The hash chain never reads this text: it hashes its own canonical form
(``event_log.canonical_form``).
"""

from __future__ import annotations

import json
from typing import Any

import orjson


def dumps(value: Any) -> str:
    try:
        return orjson.dumps(value).decode()
    except TypeError:  # orjson.JSONEncodeError is one
        return json.dumps(value)


def loads(text: str | bytes) -> Any:
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        return json.loads(text)
