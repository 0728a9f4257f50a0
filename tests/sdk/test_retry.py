"""The one retry helper (``_retry.retry``): what it tries, how often, and what it raises."""

from __future__ import annotations

import asyncio

import pytest

from kling_async._retry import retry
from kling_async.errors import ConfigurationError


class Flaky:
    """Fails with ``errors`` in turn, then returns the try's number."""

    def __init__(self, *errors: BaseException) -> None:
        self.errors = list(errors)
        self.tries: list[int] = []

    async def __call__(self, number: int) -> int:
        self.tries.append(number)
        if self.errors:
            raise self.errors.pop(0)
        return number


async def no_sleep(seconds: float) -> None:
    SLEPT.append(seconds)


SLEPT: list[float] = []


@pytest.fixture(autouse=True)
def _slept() -> None:
    SLEPT.clear()


async def test_a_first_success_is_returned_with_one_try() -> None:
    flaky = Flaky()
    waits: list[int] = []
    got = await retry(
        flaky, retry_if=lambda e: True, wait=lambda n, e: waits.append(n) or 1.0, attempts=3
    )
    assert (got, flaky.tries, waits, SLEPT) == (1, [1], [], [])


async def test_retryable_failures_are_tried_again_after_the_wait() -> None:
    flaky = Flaky(ValueError("a"), ValueError("b"))
    seen: list[tuple[int, str]] = []

    def wait(number: int, exc: BaseException) -> float:
        seen.append((number, str(exc)))
        return 0.25 * number

    got = await retry(flaky, retry_if=lambda e: True, wait=wait, attempts=5, sleep=no_sleep)
    assert got == 3
    assert flaky.tries == [1, 2, 3]
    assert seen == [(1, "a"), (2, "b")]  # the first failure counts as try 1
    assert SLEPT == [0.25, 0.5]


async def test_a_failure_not_retryable_is_raised_at_once() -> None:
    flaky = Flaky(KeyError("no"))
    with pytest.raises(KeyError):
        await retry(flaky, retry_if=lambda e: False, wait=lambda n, e: 0.0, attempts=5)
    assert flaky.tries == [1]


@pytest.mark.parametrize("attempts", [1, 2, 3])
async def test_attempts_bound_the_tries_and_the_last_failure_is_raised(attempts: int) -> None:
    flaky = Flaky(*(ValueError(str(n)) for n in range(1, 6)))
    with pytest.raises(ValueError, match=f"^{attempts}$"):
        await retry(
            flaky,
            retry_if=lambda e: True,
            wait=lambda n, e: 0.0,
            attempts=attempts,
            sleep=no_sleep,
        )
    assert flaky.tries == list(range(1, attempts + 1))


async def test_the_deadline_bounds_the_tries_and_cuts_the_wait() -> None:
    now = [0.0]

    async def sleep(seconds: float) -> None:
        SLEPT.append(seconds)
        now[0] += seconds

    flaky = Flaky(*(ValueError(str(n)) for n in range(1, 10)))
    with pytest.raises(ValueError, match=r"^4$"):
        await retry(
            flaky,
            retry_if=lambda e: True,
            wait=lambda n, e: 4.0,
            deadline=10.0,
            monotonic=lambda: now[0],
            sleep=sleep,
        )
    assert SLEPT == [4.0, 4.0, 2.0]  # the third wait is cut to the deadline
    assert flaky.tries == [1, 2, 3, 4]


async def test_a_cancellation_is_never_retried() -> None:
    flaky = Flaky(asyncio.CancelledError())
    with pytest.raises(asyncio.CancelledError):
        await retry(flaky, retry_if=lambda e: True, wait=lambda n, e: 0.0, attempts=5)
    assert flaky.tries == [1]


async def test_an_unbounded_retry_is_refused() -> None:
    with pytest.raises(ConfigurationError, match="attempts, by a deadline"):
        await retry(Flaky(), retry_if=lambda e: True, wait=lambda n, e: 0.0)
