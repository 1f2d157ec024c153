"""What a test or check found, as a ``ConnectionTested`` event carries it (``schemas.events``).

``TestResult`` holds a fixed sentence, never a driver message or secret;
``ServerIdentityData`` what the check learned of the server, in fixed forms only.
"""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict


class ServerIdentityData(BaseModel):
    """What a check learned of the server, in fixed forms only (never server text):
    ``version`` a version number or a product from a fixed list (``nginx/1.25.3``),
    ``tls_subject`` the configured name the certificate was verified for,
    ``tls_issuer`` ``sha256:`` + the digest of the issuer's DER name."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    version: str | None = None
    tls_subject: str | None = None
    tls_issuer: str | None = None
    tls_not_after: datetime | None = None


class TestResult(BaseModel):
    """What a test or check found: a fixed sentence, never a driver message or secret."""

    __test__ = False  # not a pytest class
    model_config = ConfigDict(extra="forbid", frozen=True)

    outcome: str
    detail: str
    latency_ms: float
    phases: dict[str, float] = {}
    server: ServerIdentityData | None = None
    tested_at: datetime
