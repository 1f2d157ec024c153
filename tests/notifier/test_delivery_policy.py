"""Which answers are delivered, retryable or permanent, and how retries spend their budget."""

from __future__ import annotations

import pytest

from connmgr.workers.notifier.delivery import (
    Attempt,
    DeliveryPolicy,
    Tried,
    status_attempt,
    with_retries,
)
from connmgr.workers.notifier.records import DELIVERED, FAILED, PENDING, settle

QUICK = DeliveryPolicy(attempts_per_delivery=3, max_attempts=6, backoff_s=0.0)


@pytest.mark.parametrize(
    ("status", "delivered", "permanent"),
    [
        (200, True, False),
        (202, True, False),
        (204, True, False),
        (301, False, True),
        (400, False, True),
        (404, False, True),
        (401, False, False),
        (408, False, False),
        (429, False, False),
        (500, False, False),
        (503, False, False),
    ],
)
def test_statuses_map_to_delivered_retryable_or_permanent(
    status: int, delivered: bool, permanent: bool
) -> None:
    attempt = status_attempt(status)
    assert (attempt.delivered, attempt.permanent) == (delivered, permanent)
    assert attempt.code == (None if delivered else f"http_{status}")


@pytest.mark.parametrize(("attempt", "nominal"), [(1, 0.5), (2, 1.0), (3, 2.0)])
def test_backoff_doubles_within_a_delivery_jittered_down_to_half(
    attempt: int, nominal: float
) -> None:
    backoff = DeliveryPolicy(backoff_s=0.5).backoff()
    pauses = {backoff.delay_s(attempt) for _ in range(100)}
    assert all(nominal / 2 <= pause <= nominal for pause in pauses)
    assert len(pauses) > 1  # jittered


async def test_retries_stop_at_the_first_success() -> None:
    answers = [Attempt.failed("http_503", permanent=False), Attempt(True, status=200)]
    tried = await with_retries(lambda: _next(answers), QUICK, budget=3)
    assert (tried.attempts, tried.last.delivered) == (2, True)


async def test_a_permanent_failure_is_not_retried() -> None:
    answers = [Attempt.failed("http_404", permanent=True)] * 3
    tried = await with_retries(lambda: _next(answers), QUICK, budget=3)
    assert (tried.attempts, tried.last.code) == (1, "http_404")


async def test_retries_spend_no_more_than_their_budget() -> None:
    answers = [Attempt.failed("timeout", permanent=False)] * 5
    tried = await with_retries(lambda: _next(answers), QUICK, budget=2)
    assert (tried.attempts, len(answers), tried.last.code) == (2, 3, "timeout")


async def test_a_spent_budget_still_makes_one_attempt() -> None:
    answers = [Attempt.failed("http_503", permanent=False)] * 2
    tried = await with_retries(lambda: _next(answers), QUICK, budget=0)
    assert (tried.attempts, tried.last.code) == (1, "http_503")


async def _next(answers: list[Attempt]) -> Attempt:
    return answers.pop(0)


@pytest.mark.parametrize(
    ("attempt", "total", "last_chance", "status"),
    [
        (Attempt(True, status=200), 1, False, DELIVERED),
        (Attempt.failed("http_503", permanent=False), 3, False, PENDING),
        (Attempt.failed("http_503", permanent=False), 6, False, FAILED),
        (Attempt.failed("http_503", permanent=False), 3, True, FAILED),
        (Attempt.failed("refused_by_policy", permanent=True), 1, False, FAILED),
    ],
)
def test_a_delivery_settles_as_delivered_pending_or_failed(
    attempt: Attempt, total: int, last_chance: bool, status: str
) -> None:
    tried = Tried(attempt, 1)
    assert settle(tried, total, max_attempts=6, last_chance=last_chance) == status
