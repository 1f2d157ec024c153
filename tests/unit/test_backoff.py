"""The one backoff policy: doubling waits jittered down to half, capped, from tenacity."""

from __future__ import annotations

import asyncio

import pytest
import tenacity

from connmgr.backoff import Backoff, pause


@pytest.mark.parametrize("failures", [0, 1, 2, 3, 4, 6, 7, 20, 10_000])
def test_the_wait_doubles_with_each_failure_jittered_down_to_half_up_to_the_cap(
    failures: int,
) -> None:
    backoff = Backoff(first_s=1.0, max_s=60.0)
    nominal = min(60.0, 2.0 ** min(max(failures, 1) - 1, 6))

    waits = {backoff.delay_s(failures) for _ in range(200)}

    assert all(nominal / 2 <= wait <= nominal for wait in waits)
    assert len(waits) > 100  # jittered, not a handful of fixed values


def test_the_jitter_spreads_over_the_whole_upper_half() -> None:
    waits = [Backoff(first_s=8.0).delay_s(1) for _ in range(400)]

    assert min(waits) < 4.5
    assert max(waits) > 7.5


def test_a_zero_backoff_never_waits() -> None:
    assert {Backoff(first_s=0.0).delay_s(n) for n in (1, 2, 5)} == {0.0}


@pytest.mark.parametrize(("first_s", "max_s"), [(-0.1, 1.0), (2.0, 1.0)])
def test_a_negative_or_inverted_backoff_is_refused(first_s: float, max_s: float) -> None:
    with pytest.raises(ValueError, match="0 <= first_s <= max_s"):
        Backoff(first_s, max_s)


class Flaky:
    """Raises ``errors`` in turn, then returns "done"; counts the calls."""

    def __init__(self, *errors: Exception) -> None:
        self.errors = list(errors)
        self.calls = 0

    async def __call__(self) -> str:
        self.calls += 1
        if self.errors:
            raise self.errors.pop(0)
        return "done"


QUICK = Backoff(first_s=0.0)
ON_CONNECTION_ERROR = tenacity.retry_if_exception_type(ConnectionError)


async def test_a_matching_failure_is_retried_until_the_call_succeeds() -> None:
    flaky = Flaky(ConnectionError("a"), ConnectionError("b"))

    assert await QUICK.retrying(3, retry=ON_CONNECTION_ERROR)(flaky) == "done"
    assert flaky.calls == 3


async def test_out_of_attempts_the_last_failure_itself_is_raised() -> None:
    flaky = Flaky(ConnectionError("first"), ConnectionError("second"), ConnectionError("third"))

    with pytest.raises(ConnectionError, match="second"):
        await QUICK.retrying(2, retry=ON_CONNECTION_ERROR)(flaky)
    assert flaky.calls == 2


async def test_a_failure_the_predicate_does_not_match_is_raised_at_once() -> None:
    flaky = Flaky(KeyError("not transient"))

    with pytest.raises(KeyError):
        await QUICK.retrying(5, retry=ON_CONNECTION_ERROR)(flaky)
    assert flaky.calls == 1


async def test_out_of_attempts_a_retried_result_is_returned_as_it_is() -> None:
    answers = iter(["busy", "still busy", "busy again"])

    async def answer() -> str:
        return next(answers)

    retrying = QUICK.retrying(2, retry=tenacity.retry_if_result(lambda text: "busy" in text))

    assert await retrying(answer) == "still busy"


async def test_the_after_hook_sees_every_retried_attempt() -> None:
    seen: list[int] = []
    flaky = Flaky(*(ConnectionError(str(n)) for n in range(5)))
    retrying = QUICK.retrying(
        3, retry=ON_CONNECTION_ERROR, after=lambda state: seen.append(state.attempt_number)
    )

    with pytest.raises(ConnectionError):
        await retrying(flaky)
    assert seen == [1, 2, 3]


async def test_the_attempts_are_spaced_by_the_backoff() -> None:
    retrying = Backoff(first_s=0.02, max_s=0.03).retrying(4, retry=ON_CONNECTION_ERROR)
    flaky = Flaky(*(ConnectionError(str(n)) for n in range(4)))

    with pytest.raises(ConnectionError):
        await retrying(flaky)

    slept = retrying.statistics["idle_for"]  # the waits after attempts 1, 2 and 3
    assert 0.01 + 0.015 + 0.015 <= slept <= 0.02 + 0.03 + 0.03


async def test_a_pause_ends_at_once_when_stop_is_set() -> None:
    stop = asyncio.Event()
    stop.set()

    await asyncio.wait_for(pause(stop, 3600.0), timeout=5)


async def test_a_pause_without_stop_lasts_its_time() -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    began = loop.time()

    await pause(stop, 0.05)

    assert loop.time() - began >= 0.04
    assert not stop.is_set()
