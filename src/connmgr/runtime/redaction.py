"""The redaction processor every log line passes through (``runtime.logging``).

``redact_secrets`` masks, at any depth of dicts, lists and tuples: the whole
value of any key whose name looks secret (``is_secret_key``); and in any text,
under any key: ``Basic`` and ``Bearer`` credentials, URL userinfo (the password,
or the whole userinfo when it is a single token), the values of secret-looking
keys written ``key=value`` or ``key: value`` (query strings, reprs, JSON, server
messages), the bodies of PEM blocks (whole or cut short, newlines real or
escaped) and JWT-looking tokens (three base64url segments, the first a JSON
object's, so starting ``eyJ``). Other objects (exceptions, bytes, UUIDs) are
rendered as text and masked the same way. A structure too deep to inspect is
withheld.

The values the line itself reveals as secret (those under secret-looking keys,
after ``key=``, inside a ``Basic`` or ``Bearer`` credential) are known for the
whole line: each is also masked wherever it appears in another form
(``redaction_forms``: raw, base64 and base64url at any alignment, hex, URL-,
JSON- and ``repr``-escaped), so one line cannot leak through its other fields
what it hides under its secret key.
"""

from __future__ import annotations

import functools
import re
from collections.abc import MutableMapping
from typing import Any, Final

from structlog.typing import EventDict, WrappedLogger

from connmgr.runtime.redaction_forms import REDACTED, KnownSecrets, credential_values

__all__ = ["REDACTED", "is_secret_key", "mask_text", "redact_secrets"]
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
# A PEM block, whole (its body up to the matching END, newlines real or escaped),
# or cut short (its body as far as base64 and line breaks go).
_PEM_BLOCK: Final = re.compile(
    r"(?P<head>-----BEGIN (?P<label>[A-Z0-9 ]{1,64})-----)"
    r"(?:(?P<body>.+?)(?P<tail>-----END (?P=label)-----)|(?:[A-Za-z0-9+/=\s]|\\[nr])+)",
    re.S,
)
# A JWS/JWT: a header that is a JSON object's base64url (``{"`` is "eyJ"), then the
# payload and signature segments. Three dotted words alone are a host name.
_JWT: Final = re.compile(r"\beyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*")
_MAX_DEPTH: Final = 12
_NOT_ALNUM: Final = re.compile(r"[^a-z0-9]")
_SECRET_KEY_PART: Final = re.compile("|".join(_SECRET_KEY_PARTS))
# A text of these characters alone holds nothing any rule above masks: each needs a
# space, ``=``, ``:``, ``@`` or ``/``, except a JWT, which starts ``eyJ`` (``_inert``).
_INERT_TEXT: Final = re.compile(r"[A-Za-z0-9_.+-]*")


def is_secret_key(key: object) -> bool:
    """True when a field named ``key`` may hold a secret."""
    return _is_secret_name(key if isinstance(key, str) else str(key))


@functools.lru_cache(maxsize=4096)
def _is_secret_name(name: str) -> bool:
    """``is_secret_key`` of a name; a line's keys are mostly the same few, so cached
    (bounded: a key read from input cannot grow it)."""
    normalized = _NOT_ALNUM.sub("", name.lower())
    return normalized in _SECRET_KEY_NAMES or _SECRET_KEY_PART.search(normalized) is not None


def _inert(text: str) -> bool:
    """True when no rule of ``mask_text`` can match in ``text`` (most values of a line:
    ids, names, outcomes), so it is neither scanned nor learned from."""
    return _INERT_TEXT.fullmatch(text) is not None and "eyJ" not in text


def _userinfo(match: re.Match[str]) -> str:
    user, colon, _ = match.group("userinfo").partition(":")
    return (
        f"{match.group('scheme')}{user}:{REDACTED}@"
        if colon
        else f"{match.group('scheme')}{REDACTED}@"
    )


def _secret_values(text: str) -> list[re.Match[str]]:
    """Each value written after a secret-looking ``key=`` or ``key:`` in ``text``."""
    values: list[re.Match[str]] = []
    done = 0
    for key in _KEY_SEPARATOR.finditer(text):
        if key.start() < done or not is_secret_key(key.group("key")):
            continue
        if text.startswith(REDACTED, key.end()):
            continue  # already masked: ``]`` ends a bare value, so it would not match whole
        value = _VALUE.match(text, key.end())
        if value is None:
            continue
        values.append(value)
        done = value.end()
    return values


def _mask_secret_values(text: str) -> str:
    """``text`` with the value after every secret-looking ``key=`` or ``key:`` masked."""
    parts: list[str] = []
    done = 0
    for value in _secret_values(text):
        quote = value.group()[0] if value.group()[0] in "'\"" else ""
        parts += [text[done : value.start()], quote, REDACTED, quote]
        done = value.end()
    return "".join(parts) + text[done:]


def _pem(match: re.Match[str]) -> str:
    if match.group("tail") is None:
        return f"{match.group('head')}{REDACTED}"
    return f"{match.group('head')}{REDACTED}{match.group('tail')}"


def mask_text(text: str, known: KnownSecrets | None = None) -> str:
    """``text`` with embedded credentials, and every form of the ``known`` secret
    values, masked (see the module docstring)."""
    if not _inert(text):
        text = _mask_credentials(text)
    return text if known is None else known.mask(text)


def _mask_credentials(text: str) -> str:
    """``mask_text`` without the known values: every rule applied to ``text``."""
    if "-----BEGIN " in text:
        text = _PEM_BLOCK.sub(_pem, text)
    if "eyJ" in text:
        text = _JWT.sub(REDACTED, text)
    if "@" in text and "://" in text:
        text = _URL_USERINFO.sub(_userinfo, text)
    text = _BEARER_VALUE.sub(rf"\g<head>{REDACTED}", text)
    text = _BASIC_VALUE.sub(rf"\g<head>{REDACTED}", text)
    if "=" in text or ":" in text:
        text = _mask_secret_values(text)
    return text


def _as_text(value: Any) -> str:
    if isinstance(value, bytes | bytearray):
        return bytes(value).decode("utf-8", "replace")
    return repr(value) if isinstance(value, BaseException) else str(value)


def _redact(value: Any, depth: int, known: KnownSecrets) -> Any:
    if depth > _MAX_DEPTH:
        return REDACTED  # unreadable depth (or a cycle): refuse rather than leak
    if value is None or isinstance(value, bool | int | float):
        return value
    if isinstance(value, dict):
        return {
            key: REDACTED if is_secret_key(key) else _redact(item, depth + 1, known)
            for key, item in value.items()
        }
    if isinstance(value, list):
        return [_redact(item, depth + 1, known) for item in value]
    if isinstance(value, tuple):
        return tuple(_redact(item, depth + 1, known) for item in value)
    return mask_text(value if isinstance(value, str) else _as_text(value), known)


def _reveal(value: Any, depth: int, known: KnownSecrets, *, secret: bool = False) -> None:
    """Learn the secret values of a line: under secret keys, and written in its texts."""
    if depth > _MAX_DEPTH or value is None or isinstance(value, bool | int | float):
        return
    if isinstance(value, dict):  # inside a secret dict, its secret-looking keys only
        for key, item in value.items():
            _reveal(item, depth + 1, known, secret=is_secret_key(key))
    elif isinstance(value, list | tuple):
        for item in value:
            _reveal(item, depth + 1, known, secret=secret)
    else:
        text = value if isinstance(value, str) else _as_text(value)
        if secret:
            known.add(text)
        if _inert(text):
            return
        for found in _secret_values(text):
            known.add(found.group().strip("'\""))
        for credential in credential_values(text, _BEARER_VALUE, _BASIC_VALUE):
            known.add(credential)


def redact_secrets(_logger: WrappedLogger, _method: str, event_dict: EventDict) -> EventDict:
    """structlog processor: mask secret-looking fields and embedded credentials."""
    known = KnownSecrets()
    _reveal(dict(event_dict), 0, known)
    redacted: MutableMapping[str, Any] = _redact(dict(event_dict), 0, known)
    event_dict.clear()
    event_dict.update(redacted)
    return event_dict
