"""Secret references of a connections file, and where a literal secret hides.

A secret is given as ``env:NAME``, ``file:PATH`` or ``prompt`` (``SecretReference``);
any other text is a literal and refused (``SecretReferenceText``, error code
``literal_secret``, never quoting the value). ``secret_path`` finds a secret-looking
key (``password``, ``token``, a credential header…) given where no secret belongs,
and ``placeholder_reference`` is the reference ``export`` and the importers write
for a secret they do not know. Pure; ``schemas.declared`` uses these.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Annotated, Any, Final, Literal

from pydantic import AfterValidator, StringConstraints, WithJsonSchema
from pydantic_core import PydanticCustomError

REFERENCE_PATTERN: Final = re.compile(
    r"^(env:[A-Za-z_][A-Za-z0-9_]{0,127}|file:\S[^\n]{0,1023}|prompt)$"
)
SECRET_KEYS: Final = frozenset(
    {
        *("password", "passwd", "pass", "secret", "token", "api_key", "apikey"),
        *("client_secret", "consumer_secret", "token_secret", "refresh_token"),
        *("signing_key", "signing_secret", "private_key", "client_key_pem"),
        *("secret_access_key", "aws_secret_access_key", "access_token", "credentials"),
    }
)
"""Keys that hold a secret wherever they appear: refused in ``config`` and ``auth``."""
SECRET_HEADERS: Final = frozenset(
    {"authorization", "proxy-authorization", "cookie", "x-api-key", "api-key", "x-auth-token"}
)
"""Header names in an http ``config.headers`` whose value is a credential."""


def _reference(value: str) -> str:
    if not REFERENCE_PATTERN.match(value):
        raise PydanticCustomError(
            "literal_secret",
            "must be a reference (env:NAME, file:PATH or prompt), never a secret value",
        )
    return value


SecretReferenceText = Annotated[
    str,
    AfterValidator(_reference),
    WithJsonSchema({"type": "string", "pattern": REFERENCE_PATTERN.pattern}),
]
"""``env:NAME`` | ``file:PATH`` | ``prompt``; anything else is a literal and refused."""
SecretName = Annotated[str, StringConstraints(min_length=1, max_length=128)]


@dataclass(frozen=True, slots=True)
class SecretReference:
    """A parsed reference: ``scheme`` ``env``, ``file`` or ``prompt``, and its target."""

    scheme: Literal["env", "file", "prompt"]
    target: str = ""

    @classmethod
    def parse(cls, text: str) -> SecretReference:
        _reference(text)
        if text == "prompt":
            return cls("prompt")
        scheme, _, target = text.partition(":")
        return cls("env" if scheme == "env" else "file", target)


def placeholder_reference(connection_name: str, field: str) -> str:
    """The ``env:`` reference ``export`` and the importers write for a secret they do
    not know: ``CONNMGR_SECRET_<NAME>_<FIELD>``, upper case, other characters ``_``."""
    raw = f"CONNMGR_SECRET_{connection_name}_{field}".upper()
    return "env:" + re.sub(r"[^A-Z0-9_]", "_", raw)[:128]


def secret_path(value: Any, path: str) -> str | None:
    """The first secret-holding key under ``value``, as a dotted path, or None."""
    if isinstance(value, dict):
        for key, item in value.items():
            here = f"{path}.{key}"
            lowered = str(key).lower()
            secret_header = path.endswith(".headers") and lowered in SECRET_HEADERS
            if lowered in SECRET_KEYS or secret_header:
                return here
            if (found := secret_path(item, here)) is not None:
                return found
    if isinstance(value, list):
        for index, item in enumerate(value):
            if (found := secret_path(item, f"{path}[{index}]")) is not None:
                return found
    return None
