"""Bounded, validated field types shared by the command and event models.

Every string has a maximum length, every number a range; there is no free-form
text that reaches a driver (``docs/security.md``, "Options are allowed, not
blocked" and "Inputs are bounded").
"""

from __future__ import annotations

import ipaddress
import re
from typing import Annotated, Final
from urllib.parse import urlsplit

from pydantic import AfterValidator, ConfigDict, Field, StringConstraints

STRICT_MODEL: Final = ConfigDict(extra="forbid", frozen=True, strict=True)

_LABEL = re.compile(r"^(?!-)[A-Za-z0-9-]{1,63}(?<!-)$")
# Only these can parse as an IP address: IPv4 is digits and dots, IPv6 has a colon.
# Names skip the parse, whose ValueError costs more than the rest of the check.
_MAYBE_IP = re.compile(r"^[0-9.]+$|:")
_HEADER_NAME = re.compile(r"^[A-Za-z0-9!#$%&'*+.^_`|~-]{1,128}$")


def _check_hostname(value: str) -> str:
    """A DNS name (lower-cased, trailing dot dropped) or an IP address as written.

    An IPv6 zone id (``fe80::1%eth0``, or ``%25eth0`` from a URL) is refused: it
    names an interface of the machine that connects, not a target, and a scoped
    address compares unequal to its plain form (the egress policy refuses it too).
    """
    if "%" in value:
        raise ValueError("must not contain % (an IPv6 zone id or a percent-encoding)")
    candidate = value[1:-1] if value.startswith("[") and value.endswith("]") else value
    if _MAYBE_IP.search(candidate):
        try:
            ipaddress.ip_address(candidate)
        except ValueError:
            pass
        else:
            return candidate
    name = value.rstrip(".")
    if not name or len(name) > 253 or not all(_LABEL.match(label) for label in name.split(".")):
        raise ValueError("must be a hostname or an IP address")
    return name.lower()


def _check_http_url(value: str) -> str:
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https"):
        raise ValueError("must be an http or https URL")
    if parts.username is not None or parts.password is not None:
        raise ValueError("must not contain credentials; use auth and secrets")
    if not parts.hostname:
        raise ValueError("must name a host")
    _check_hostname(parts.hostname)
    try:
        _ = parts.port
    except ValueError as error:
        raise ValueError("has an invalid port") from error
    if parts.fragment:
        raise ValueError("must not have a fragment")
    return value


def _check_header_name(value: str) -> str:
    if not _HEADER_NAME.match(value):
        raise ValueError("must be a valid HTTP header name")
    return value


def _check_pem(value: str) -> str:
    if "-----BEGIN " not in value:
        raise ValueError("must be PEM text (not a file path)")
    return value


Hostname = Annotated[str, StringConstraints(max_length=255), AfterValidator(_check_hostname)]
Port = Annotated[int, Field(ge=1, le=65535)]
HttpUrl = Annotated[str, StringConstraints(max_length=2048), AfterValidator(_check_http_url)]
HeaderName = Annotated[str, AfterValidator(_check_header_name)]
Name = Annotated[str, StringConstraints(min_length=1, max_length=200, strip_whitespace=True)]
Identifier = Annotated[
    str, StringConstraints(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9_.$-]+$")
]
ShortText = Annotated[str, StringConstraints(max_length=256)]
Description = Annotated[str, StringConstraints(max_length=2000)]
Tag = Annotated[str, StringConstraints(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.:/-]+$")]
PemText = Annotated[str, StringConstraints(max_length=16384), AfterValidator(_check_pem)]
UrlPath = Annotated[str, StringConstraints(min_length=1, max_length=1024, pattern=r"^/[^\s#]*$")]


def text_problem(value: str) -> str | None:
    """Why ``value`` is not text every database can store and compare, or None: a NUL
    (no PostgreSQL text holds one) or a lone surrogate (no UTF-8 encodes one). Other
    control characters are text both backends take alike. The reason never quotes
    the value."""
    if "\x00" in value:
        return "must not contain NUL characters"
    if any(0xD800 <= ord(char) <= 0xDFFF for char in value):
        return "must be valid Unicode text"
    return None
