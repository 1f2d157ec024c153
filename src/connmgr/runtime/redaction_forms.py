"""The other forms of a secret value a log line has revealed, for ``runtime.redaction``.

``KnownSecrets`` holds the values one line shows to be secret and masks each,
in any text of that line, as it is written raw and in every encoding a leak
takes: base64 and base64url (the characters that depend on the value's bytes
alone, at each of the three byte alignments, so the value is found inside a
larger blob such as ``user:password``), hex, URL escapes (``quote`` and
``quote_plus``), JSON and ``repr`` escapes. Values shorter than ``MIN_KNOWN``
characters are not learned: they would mask ordinary words.

``credential_values`` reads what a ``Bearer`` or ``Basic`` credential carries:
the token, and the password inside the base64 ``user:password``.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Final
from urllib.parse import quote, quote_plus

REDACTED: Final = "[redacted]"
MIN_KNOWN: Final = 6


@dataclass
class KnownSecrets:
    """Secret values of one log line; ``mask`` hides each of their forms in a text."""

    _needles: set[str] = field(default_factory=set)
    _pattern: re.Pattern[str] | None = None

    def add(self, value: str) -> None:
        value = value.strip()
        if len(value) < MIN_KNOWN or REDACTED in value:
            return
        self._needles.update(n for n in _forms(value) if len(n) >= MIN_KNOWN)
        self._pattern = None

    def mask(self, text: str) -> str:
        if not self._needles:
            return text
        if self._pattern is None:  # longest first, so a form inside another is not cut
            ordered = sorted(self._needles, key=len, reverse=True)
            self._pattern = re.compile("|".join(map(re.escape, ordered)))
        return self._pattern.sub(REDACTED, text)


def _forms(value: str) -> Iterator[str]:
    data = value.encode()
    yield value
    yield data.hex()
    yield data.hex().upper()
    for encode in (base64.b64encode, base64.urlsafe_b64encode):
        yield encode(data).decode().rstrip("=")
        yield from _base64_cores(data, encode)
    yield quote(value, safe="")
    yield quote(value)
    yield quote_plus(value)
    yield json.dumps(value)[1:-1]
    yield json.dumps(value, ensure_ascii=False)[1:-1]
    yield repr(value)[1:-1]
    yield repr(data)[2:-1]


def _base64_cores(data: bytes, encode: Callable[[bytes], bytes]) -> Iterator[str]:
    """The base64 characters that depend on ``data`` alone, at byte offsets 0, 1 and 2:
    character ``i`` covers bits ``[6i, 6i + 6)``, inside the value or not."""
    for shift in range(3):
        encoded = encode(b"\0" * shift + data + b"\0\0")
        first_bit, end_bit = 8 * shift, 8 * (shift + len(data))
        first = -(-first_bit // 6)
        last = end_bit // 6 - 1
        if last >= first:
            yield encoded[first : last + 1].decode()


def credential_values(text: str, bearer: re.Pattern[str], basic: re.Pattern[str]) -> Iterator[str]:
    """The bearer tokens in ``text``, and the password of each Basic credential."""
    for match in bearer.finditer(text):
        yield text[match.end("head") : match.end()]
    for match in basic.finditer(text):
        encoded = text[match.end("head") : match.end()]
        try:
            decoded = base64.b64decode(encoded + "=" * (-len(encoded) % 4), validate=True)
        except (binascii.Error, ValueError):
            continue
        _, colon, password = decoded.decode("utf-8", "replace").partition(":")
        if colon:
            yield password
