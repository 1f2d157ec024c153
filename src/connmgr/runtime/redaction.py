"""The redaction processor every log line passes through (``runtime.logging``).

``redact_secrets`` masks, at any depth of dicts, lists and tuples: the whole
value of any key whose name looks secret (``is_secret_key``); and in any text,
``Basic`` and ``Bearer`` credentials, URL userinfo (the password, or the whole
userinfo when it is a single token) and the values of secret-looking keys
written ``key=value`` or ``key: value`` (query strings, reprs, JSON, server
messages). Other objects (exceptions, bytes, UUIDs) are rendered as text and
masked the same way. A structure too deep to inspect is withheld.
"""

from __future__ import annotations

import re
from collections.abc import MutableMapping
from typing import Any, Final

from structlog.typing import EventDict, WrappedLogger

REDACTED: Final = "[redacted]"
# Matched against the key lowercased with everything but letters and digits
# removed, so "API-Key", "x_api_key" and "clientSecret" are all caught.
_SECRET_KEY_PARTS: Final = (
    "password", "passwd", "passphrase", "pwd", "secret", "token", "apikey",
    "authorization", "privatekey", "signingkey", "sealed", "plaintext", "ciphertext",
    "cookie", "credential", "datakey", "wrappedkey", "sessionid", "dsn", "accesskey",
)  # fmt: skip
# Short names that carry secrets as a whole (``?key=`` of Google APIs, ``sig=`` of
# signed URLs) but would catch too much as parts ("key_id", "signature_header").
_SECRET_KEY_NAMES: Final = frozenset({"key", "sig", "pass", "pw"})
_URL_USERINFO: Final = re.compile(
    r"(?P<scheme>\b[a-z][a-z0-9+.-]*://)(?P<userinfo>[^\s/?#]*)@", re.I
)
_BEARER_VALUE: Final = re.compile(r"(?P<head>\bbearer\s+)[^\s\"',;]+", re.I)
# Basic credentials are base64: a word of plain lower-case letters after "basic" is prose.
_BASIC_VALUE: Final = re.compile(
    r"(?P<head>\b(?i:basic)\s+)(?=[A-Za-z0-9+/]*(?:[0-9+/]|[a-z][A-Z]|[A-Z][a-z]))[A-Za-z0-9+/]+=*"
)
# A key and its separator: an optional closing quote, then ``=`` or ``:`` (not a
# URL's ``://``). Only the key and separator are matched, so a value that is
# itself ``key=value`` text is scanned too.
_KEY_SEPARATOR: Final = re.compile(r"(?P<key>[A-Za-z][A-Za-z0-9_.-]{0,63})['\"]?\s*[=:](?!//)\s*")
_VALUE: Final = re.compile(r"'[^']*'|\"[^\"]*\"|[^\s&,;'\")\]}]+")
_MAX_DEPTH: Final = 12


def is_secret_key(key: object) -> bool:
    """True when a field named ``key`` may hold a secret."""
    normalized = re.sub(r"[^a-z0-9]", "", str(key).lower())
    return normalized in _SECRET_KEY_NAMES or any(part in normalized for part in _SECRET_KEY_PARTS)


def _userinfo(match: re.Match[str]) -> str:
    user, colon, _ = match.group("userinfo").partition(":")
    return (
        f"{match.group('scheme')}{user}:{REDACTED}@"
        if colon
        else f"{match.group('scheme')}{REDACTED}@"
    )


def _mask_secret_values(text: str) -> str:
    """``text`` with the value after every secret-looking ``key=`` or ``key:`` masked."""
    parts: list[str] = []
    done = 0
    for key in _KEY_SEPARATOR.finditer(text):
        if key.start() < done or not is_secret_key(key.group("key")):
            continue
        value = _VALUE.match(text, key.end())
        if value is None or value.group() == REDACTED:
            continue
        quote = value.group()[0] if value.group()[0] in "'\"" else ""
        parts += [text[done : value.start()], quote, REDACTED, quote]
        done = value.end()
    return "".join(parts) + text[done:]


def mask_text(text: str) -> str:
    """``text`` with embedded credentials masked (see the module docstring)."""
    if "@" in text and "://" in text:
        text = _URL_USERINFO.sub(_userinfo, text)
    text = _BEARER_VALUE.sub(rf"\g<head>{REDACTED}", text)
    text = _BASIC_VALUE.sub(rf"\g<head>{REDACTED}", text)
    if "=" in text or ":" in text:
        text = _mask_secret_values(text)
    return text


def _redact(value: Any, depth: int) -> Any:
    if depth > _MAX_DEPTH:
        return REDACTED  # unreadable depth (or a cycle): refuse rather than leak
    if isinstance(value, str):
        return mask_text(value)
    if value is None or isinstance(value, bool | int | float):
        return value
    if isinstance(value, dict):
        return {
            key: REDACTED if is_secret_key(key) else _redact(item, depth + 1)
            for key, item in value.items()
        }
    if isinstance(value, list):
        return [_redact(item, depth + 1) for item in value]
    if isinstance(value, tuple):
        return tuple(_redact(item, depth + 1) for item in value)
    if isinstance(value, bytes | bytearray):
        return mask_text(bytes(value).decode("utf-8", "replace"))
    return mask_text(repr(value) if isinstance(value, BaseException) else str(value))


def redact_secrets(_logger: WrappedLogger, _method: str, event_dict: EventDict) -> EventDict:
    """structlog processor: mask secret-looking fields and embedded credentials."""
    redacted: MutableMapping[str, Any] = _redact(dict(event_dict), 0)
    event_dict.clear()
    event_dict.update(redacted)
    return event_dict
