"""A check's result in the form the log and the command outcomes record (``TestResult``).

The same shape for a test (``ConnectionTested``, the tester) and a manual
check's outcome (the prober), stamped with the time it was recorded.
"""

from __future__ import annotations

from datetime import UTC, datetime

from connmgr.schemas.check_results import ServerIdentityData, TestResult
from connmgr.workers.checks.base import CheckResult


def test_result(result: CheckResult) -> TestResult:
    server = result.server
    return TestResult(
        outcome=result.outcome.value,
        detail=result.detail,
        latency_ms=result.latency_ms,
        phases=result.phases,
        server=ServerIdentityData(
            version=server.version,
            tls_subject=server.tls_subject,
            tls_issuer=server.tls_issuer,
            tls_not_after=server.tls_not_after,
        )
        if server
        else None,
        tested_at=datetime.now(UTC),
    )
