"""The one secret-leak scanner: every test that promises "no secret" asks it.

A ``SecretScanner`` holds the secrets of a test (``add``, ``add_pem``,
``add_jwt`` for runtime-issued tokens) and searches text or bytes for each one in
every form a leak takes (``Form``):

- ``raw``; ``hex``;
- ``base64`` and ``base64url``: the characters fully determined by the secret's
  bytes at each of the three byte alignments, so the secret is found inside any
  larger base64 blob (padded or not), and ``basic``: the base64 of
  ``username:secret`` as an HTTP ``Authorization: Basic`` value carries it;
- ``url`` (``quote`` with and without ``/`` safe) and ``url_plus`` (``quote_plus``);
- ``json`` (JSON string escapes, ASCII and not) and ``repr`` (``repr`` of the
  text and of its UTF-8 bytes);
- ``pem_line``: every body line of a PEM secret, since ``repr`` and JSON escape
  the newlines between them (a certificate, mostly structure any certificate
  shares, is searched by its lines only);
- ``window``: any 16 consecutive characters of a secret (of each PEM body line,
  of a JWT's signature), so a truncated or partly masked secret is still caught;
  ``base64_window``: any 16 consecutive characters of its base64 (either
  alphabet, any alignment), so a truncated ``Authorization: Basic`` value is too.
  Secrets shorter than 16 characters are searched whole.

A finding names the haystack, the secret's label, the form, the offset and a
masked excerpt of its surroundings: the scanner never prints a secret in full.
Secrets shorter than ``MIN_SECRET_LENGTH`` are refused (they would match ordinary
text); give tests long, random secrets.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Final
from urllib.parse import quote, quote_plus

WINDOW: Final = 16
MIN_SECRET_LENGTH: Final = 8
MIN_ENCODED_NEEDLE: Final = 8
MIN_PEM_LINE: Final = 12
_EXCERPT: Final = 24
_LOOKAROUND: Final = 512
PEM_BLOCK: Final = re.compile(r"-----BEGIN [A-Z0-9 ]+-----(.*?)-----END [A-Z0-9 ]+-----", re.S)


class Form(StrEnum):
    RAW = "raw"
    HEX = "hex"
    BASE64 = "base64"
    BASE64URL = "base64url"
    BASIC = "basic"
    URL = "url"
    URL_PLUS = "url_plus"
    JSON = "json"
    REPR = "repr"
    PEM_LINE = "pem_line"
    WINDOW = "window"
    BASE64_WINDOW = "base64_window"


@dataclass(frozen=True)
class Finding:
    """One secret found in one haystack; never holds the secret itself."""

    where: str
    label: str
    form: Form
    offset: int
    count: int
    excerpt: str

    def __str__(self) -> str:
        return (
            f"{self.where}: {self.label} as {self.form} at offset {self.offset}"
            f" ({self.count}x): …{self.excerpt}…"
        )


@dataclass(frozen=True, repr=False)
class _Needles:
    label: str
    exact: dict[str, Form]
    windows: dict[str, Form]
    """Window -> form: ``window`` (of the text) or ``base64_window`` (of its base64)."""


class SecretLeaked(AssertionError):
    """Raised by ``assert_clean``; its message lists findings, never a secret."""


@dataclass
class SecretScanner:
    """Secrets to look for; ``scan`` / ``assert_clean`` look."""

    _needles: list[_Needles] = field(default_factory=list, repr=False)

    @property
    def labels(self) -> list[str]:
        return [needles.label for needles in self._needles]

    def add(self, label: str, secret: str, *, username: str | None = None) -> None:
        """A secret text; with ``username``, also its HTTP Basic form."""
        _check_length(label, secret)
        exact = _encoded_forms(secret)
        if username is not None:
            basic = base64.b64encode(f"{username}:{secret}".encode()).decode()
            exact.setdefault(basic.rstrip("="), Form.BASIC)
        windows = dict.fromkeys(_windows(secret), Form.WINDOW)
        for core in _base64_cores(secret.encode(), base64.b64encode) + _base64_cores(
            secret.encode(), base64.urlsafe_b64encode
        ):
            for window in _windows(core.rstrip("=")) if len(core) > WINDOW else ():
                windows.setdefault(window, Form.BASE64_WINDOW)
        self._needles.append(_Needles(label, exact, windows))

    def add_pem(self, label: str, pem: str, *, public: Iterable[str] = ()) -> None:
        """A PEM secret (key or certificate): whole, every body line, and (keys) windows.

        DER is mostly structure: every P-256 key starts with the same algorithm
        header and embeds its public key; certificates share OIDs, names and
        validity bytes with every other certificate. So a certificate is searched
        whole and by its lines only (each holds random key or signature bytes), and
        a key's windows and lines found in a ``public`` text (its certificate, a
        reference key of the same kind, the CA) are not searched.
        """
        _check_length(label, pem)
        exact = _encoded_forms(pem)
        lines = [line for body in PEM_BLOCK.findall(pem) for line in body.split()]
        if not lines:
            raise ValueError(f"{label}: no PEM block found")
        known = list(public)
        windows: set[str] = set()
        certificate = "-----BEGIN CERTIFICATE-----" in pem
        for line in lines:
            if len(line) >= MIN_PEM_LINE:
                exact.setdefault(line, Form.PEM_LINE)
            if not certificate:
                windows.update(_windows(line))
        exact = {n: f for n, f in exact.items() if not any(n in text for text in known)}
        windows = {w for w in windows if not any(w in text for text in known)}
        self._needles.append(_Needles(label, exact, dict.fromkeys(windows, Form.WINDOW)))

    def add_jwt(self, label: str, token: str) -> None:
        """A signed token: whole, and its signature's windows (its header is not secret)."""
        _check_length(label, token)
        parts = token.split(".")
        if len(parts) != 3 or not parts[2]:
            raise ValueError(f"{label}: not a compact JWS (header.payload.signature)")
        exact = _encoded_forms(token)
        exact.setdefault(parts[2], Form.RAW)
        signature = dict.fromkeys(_windows(parts[2]), Form.WINDOW)
        self._needles.append(_Needles(label, exact, signature))

    def scan(self, where: str, haystack: str | bytes) -> list[Finding]:
        """Every secret found in ``haystack``: one finding per secret and form."""
        text = _as_text(haystack)
        window_hits = _window_hits(text, self._needles)
        findings: list[Finding] = []
        for index, needles in enumerate(self._needles):
            findings.extend(self._scan_one(where, text, needles, window_hits.get(index, [])))
        return findings

    def scan_all(self, haystacks: Mapping[str, str | bytes]) -> list[Finding]:
        return [found for where, text in haystacks.items() for found in self.scan(where, text)]

    def assert_clean(self, haystacks: Mapping[str, str | bytes]) -> None:
        """Raise ``SecretLeaked`` listing every finding (masked) if any secret is found."""
        if not self._needles:
            raise ValueError("a scanner with no secrets finds nothing: add the test's secrets")
        findings = self.scan_all(haystacks)
        if findings:
            listed = "\n  ".join(str(finding) for finding in findings)
            raise SecretLeaked(f"{len(findings)} secret finding(s):\n  {listed}")

    def mask(self, text: str) -> str:
        """``text`` with every occurrence of any form of any secret replaced by ``★``."""
        spans = sorted(
            [span for needles in self._needles for span in _exact_spans(text, needles)]
            + [
                (start, end)
                for hits in _window_hits(text, self._needles).values()
                for start, end, _ in hits
            ]
        )
        masked, cursor = [], 0
        for start, end in spans:
            if start >= cursor:  # a new span; overlapping ones only extend the last
                masked.append(text[cursor:start])
                masked.append("★")
            cursor = max(cursor, end)
        masked.append(text[cursor:])
        return "".join(masked)

    def _scan_one(
        self, where: str, text: str, needles: _Needles, windows: list[tuple[int, int, Form]]
    ) -> Iterator[Finding]:
        found: dict[Form, list[tuple[int, int]]] = {}
        for needle, form in needles.exact.items():
            for start in _occurrences(text, needle):
                found.setdefault(form, []).append((start, start + len(needle)))
        exact_spans = [span for spans in found.values() for span in spans]
        for start, end, form in windows:  # windows inside a whole match add nothing
            if not any(outer <= start and end <= stop for outer, stop in exact_spans):
                found.setdefault(form, []).append((start, end))
        for form, spans in found.items():
            start, end = min(spans)
            # Mask beyond the excerpt before cutting it, so no neighbouring
            # occurrence shows even in part at its edge.
            before = self.mask(text[max(0, start - _EXCERPT - _LOOKAROUND) : start])[-_EXCERPT:]
            after = self.mask(text[end : end + _EXCERPT + _LOOKAROUND])[:_EXCERPT]
            excerpt = f"{before}«{needles.label}»{after}".replace("\n", "\\n")
            yield Finding(where, needles.label, form, start, len(spans), excerpt)


def _check_length(label: str, secret: str) -> None:
    if len(secret) < MIN_SECRET_LENGTH:
        raise ValueError(
            f"{label}: a secret shorter than {MIN_SECRET_LENGTH} characters would match"
            " ordinary text; use a longer random one"
        )


def _as_text(haystack: str | bytes) -> str:
    if isinstance(haystack, bytes):
        return haystack.decode("utf-8", errors="backslashreplace")
    return haystack


def _encoded_forms(secret: str) -> dict[str, Form]:
    """Needle -> form; the first form named for a needle wins (``raw`` before the rest)."""
    data = secret.encode()
    forms: dict[str, Form] = {secret: Form.RAW}
    candidates: list[tuple[str, Form]] = [
        (data.hex(), Form.HEX),
        (data.hex().upper(), Form.HEX),
        *((core, Form.BASE64) for core in _base64_cores(data, base64.b64encode)),
        *((core, Form.BASE64URL) for core in _base64_cores(data, base64.urlsafe_b64encode)),
        (quote(secret, safe=""), Form.URL),
        (quote(secret), Form.URL),
        (quote_plus(secret), Form.URL_PLUS),
        (json.dumps(secret)[1:-1], Form.JSON),
        (json.dumps(secret, ensure_ascii=False)[1:-1], Form.JSON),
        (repr(secret)[1:-1], Form.REPR),
        (repr(data)[2:-1], Form.REPR),
    ]
    for needle, form in candidates:
        if len(needle) >= MIN_ENCODED_NEEDLE:
            forms.setdefault(needle, form)
    return forms


def _base64_cores(data: bytes, encode: Callable[[bytes], bytes]) -> list[str]:
    """The base64 characters that depend only on ``data``, at byte offsets 0, 1 and 2.

    Character ``i`` of an encoding covers bits ``[6i, 6i + 6)``; it belongs to the
    secret when those bits lie inside the secret's bytes, whatever surrounds them.
    """
    cores = []
    for shift in range(3):
        encoded = encode(b"\0" * shift + data + b"\0\0")
        first_bit, end_bit = 8 * shift, 8 * (shift + len(data))
        indexes = [i for i in range(len(encoded)) if 6 * i >= first_bit and 6 * i + 6 <= end_bit]
        if indexes:
            cores.append(encoded[indexes[0] : indexes[-1] + 1].decode())
    # The full encodings, padded and not, of a secret encoded on its own.
    whole = encode(data).decode()
    return [whole, whole.rstrip("="), *cores]


def _windows(secret: str) -> set[str]:
    if len(secret) <= WINDOW:
        return {secret}
    return {secret[i : i + WINDOW] for i in range(len(secret) - WINDOW + 1)}


def _occurrences(text: str, needle: str) -> Iterator[int]:
    start = text.find(needle)
    while start != -1:
        yield start
        start = text.find(needle, start + 1)


def _window_hits(text: str, all_needles: list[_Needles]) -> dict[int, list[tuple[int, int, Form]]]:
    """Spans and forms of every window, by the index of the secret it belongs to, in one pass."""
    hits: dict[int, list[tuple[int, int, Form]]] = {}
    full: dict[str, list[tuple[int, Form]]] = {}
    for index, needles in enumerate(all_needles):
        for window, form in needles.windows.items():
            if len(window) < WINDOW:  # a short secret is searched whole
                spans = [(at, at + len(window), form) for at in _occurrences(text, window)]
                hits.setdefault(index, []).extend(spans)
            else:
                full.setdefault(window, []).append((index, form))
    if full:
        for start in range(len(text) - WINDOW + 1):
            for index, form in full.get(text[start : start + WINDOW]) or ():
                hits.setdefault(index, []).append((start, start + WINDOW, form))
    return {index: spans for index, spans in hits.items() if spans}


def _exact_spans(text: str, needles: _Needles) -> Iterable[tuple[int, int]]:
    for needle in needles.exact:
        for start in _occurrences(text, needle):
            yield start, start + len(needle)


__all__ = ["PEM_BLOCK", "WINDOW", "Finding", "Form", "SecretLeaked", "SecretScanner"]


def findings_in(secrets: Iterable[str], haystacks: Mapping[str, str | bytes]) -> list[str]:
    """Masked findings of each secret in ``haystacks``: PEM values by their lines,
    values too short for the scanner (deliberately wrong ones) searched raw."""
    scanner = SecretScanner()
    short: list[str] = []
    for number, secret in enumerate(dict.fromkeys(s for s in secrets if s), start=1):
        if len(secret) < MIN_SECRET_LENGTH:
            short.append(secret)
        elif PEM_BLOCK.search(secret):
            scanner.add_pem(f"secret {number}", secret)
        else:
            scanner.add(f"secret {number}", secret)
    found = [str(finding) for finding in scanner.scan_all(haystacks)]
    return found + [
        f"{where}: a short secret as raw"
        for where, text in haystacks.items()
        for secret in short
        if secret in _as_text(text)
    ]
