"""The error map code by code (aioresponses), Retry-After in every form, response parsing."""

from __future__ import annotations

import email.utils
import re
import time
from datetime import UTC, datetime
from typing import Any

import pytest
from aiohttp import ClientResponse
from aioresponses import aioresponses as _aioresponses

import kling_async as kling
from kling_async._convert import task_from_wire
from kling_async._retry import parse_retry_after

BASE = "https://api.test"
ANY_COSTS = re.compile(r"^https://api\.test/account/costs.*$")
NO_RETRY = kling.RetryPolicy(attempts=1)


class _SentRequest:
    output_size = 0


class _Response(ClientResponse):
    """aioresponses 0.7.9 builds responses without the ``stream_writer`` that aiohttp 3.14
    requires; this supplies one (a request already sent, as aioresponses means it)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("stream_writer", _SentRequest())
        super().__init__(*args, **kwargs)


class aioresponses(_aioresponses):  # a drop-in for the library's own name
    def add(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("response_class", _Response)
        super().add(*args, **kwargs)


CODES: list[tuple[int, int, type[kling.APIError]]] = [
    (401, 1000, kling.AuthenticationError),
    (401, 1001, kling.AuthenticationError),
    (401, 1002, kling.AuthenticationError),
    (429, 1100, kling.AccountError),
    (429, 1101, kling.AccountError),
    (429, 1102, kling.BalanceExhaustedError),
    (403, 1103, kling.PermissionDeniedError),
    (400, 1200, kling.InvalidRequestError),
    (400, 1201, kling.InvalidRequestError),
    (404, 1202, kling.NotFoundError),
    (404, 1203, kling.NotFoundError),
    (400, 1300, kling.ContentPolicyError),
    (400, 1301, kling.ContentPolicyError),
    (429, 1302, kling.RateLimitError),
    (429, 1303, kling.ConcurrencyLimitError),
    (429, 1304, kling.PermissionDeniedError),
    (500, 5000, kling.ServerError),
    (503, 5001, kling.ServerError),
    (504, 5002, kling.ServerError),
    (418, 4242, kling.APIError),
]


def client(**changes: Any) -> kling.KlingClient:
    return kling.KlingClient(
        api_key="k", base_url=BASE, retry=changes.pop("retry", NO_RETRY), **changes
    )


@pytest.mark.parametrize(("http", "code", "cls"), CODES, ids=[str(c[1]) for c in CODES])
async def test_each_code_maps_to_its_exception(http: int, code: int, cls: type[Exception]) -> None:
    body = {"code": code, "message": f"message {code}", "request_id": "req-1"}
    with aioresponses() as mocked:
        mocked.get(ANY_COSTS, status=http, payload=body)
        async with client() as c:
            with pytest.raises(kling.APIError) as caught:
                await c.account.costs()
    error = caught.value
    assert type(error) is cls
    assert (error.code, error.http_status, error.request_id) == (code, http, "req-1")
    assert error.message == f"message {code}"
    assert error.body == body
    assert str(code) in str(error)
    assert "req-1" in str(error)


async def test_task_not_found_is_not_found() -> None:
    with aioresponses() as mocked:
        mocked.get(
            f"{BASE}/v1/videos/image2video/x",
            status=400,
            payload={"code": 1201, "message": "Task not found by id/external id"},
        )
        async with client() as c:
            with pytest.raises(kling.NotFoundError):
                await c.image_to_video.get("x")


@pytest.mark.parametrize(
    ("status", "body", "cls"),
    [
        (502, "<html>bad gateway</html>", kling.ServerError),
        (200, "not json", kling.ResponseFormatError),
        (200, '{"message": "no code"}', kling.ResponseFormatError),
        (200, '["a list"]', kling.ResponseFormatError),
        (503, '{"message": "no code"}', kling.ServerError),
    ],
)
async def test_answers_without_an_envelope(status: int, body: str, cls: type[Exception]) -> None:
    with aioresponses() as mocked:
        mocked.get(ANY_COSTS, status=status, body=body)
        async with client() as c:
            with pytest.raises(cls):
                await c.account.costs()


async def test_connection_errors_map_to_api_connection_error() -> None:
    import aiohttp

    with aioresponses() as mocked:
        mocked.get(ANY_COSTS, exception=aiohttp.ClientOSError(104, "reset"))
        mocked.get(ANY_COSTS, exception=TimeoutError())
        async with client() as c:
            with pytest.raises(kling.APIConnectionError) as reset:
                await c.account.costs()
            with pytest.raises(kling.APITimeoutError):
                await c.account.costs()
    assert not isinstance(reset.value, TimeoutError)


async def test_retry_after_decides_the_delay() -> None:
    slept: list[float] = []
    clock = kling.VirtualClock()  # the pacer's hold until Retry-After passes costs no real time

    async def sleep(seconds: float) -> None:
        slept.append(seconds)
        await clock.sleep(seconds)

    busy = {"code": 1302, "message": "too fast"}
    ok = {"code": 0, "message": "SUCCEED", "data": {"resource_pack_subscribe_infos": []}}
    date = email.utils.formatdate(time.time() + 30, usegmt=True)
    with aioresponses() as mocked:
        mocked.get(ANY_COSTS, status=429, payload=busy, headers={"Retry-After": "2"})
        mocked.get(ANY_COSTS, status=429, payload=busy, headers={"Retry-After": date})
        mocked.get(ANY_COSTS, status=429, payload=busy, headers={"Retry-After": "3600"})
        mocked.get(ANY_COSTS, status=200, payload=ok)
        policy = kling.RetryPolicy(attempts=5, max_retry_after=60)
        real = time.monotonic()
        async with client(retry=policy, sleep=sleep, clock=clock) as c:
            costs = await c.account.costs()
    assert costs.packs == ()
    assert time.monotonic() - real < 10  # was a minute of real waiting
    assert clock.monotonic() >= 2 + 28 + 60
    # the retries' waits (the pacer also holds later requests until Retry-After has passed)
    assert slept[0] == 2
    assert any(28 <= s <= 31 for s in slept)
    assert max(slept) == 60  # an hour asked for, capped at max_retry_after


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({"Retry-After": "5"}, 5.0),
        ({"Retry-After": "1.5"}, 1.5),
        ({"retry-after-ms": "250"}, 0.25),
        ({"Retry-After": "-3"}, 0.0),
        ({"Retry-After": "soon"}, None),
        ({}, None),
        ({"Retry-After": "Wed, 21 Oct 2015 07:28:00 GMT"}, 0.0),
        ({"Retry-After": "Sun, 06 Nov 1994 08:49:37"}, None),
    ],
)
def test_parse_retry_after_table(headers: dict[str, str], expected: float | None) -> None:
    assert parse_retry_after(headers) == expected


def test_parse_retry_after_http_date_in_the_future() -> None:
    now = time.time()
    header = email.utils.formatdate(now + 120, usegmt=True)
    assert parse_retry_after({"Retry-After": header}, now=now) == pytest.approx(120, abs=1)


async def test_backoff_grows_and_stays_capped() -> None:
    policy = kling.RetryPolicy(initial_backoff=1, max_backoff=5, jitter=0)
    assert [policy.delay(n, None) for n in range(1, 6)] == [1, 2, 4, 5, 5]


# -- response parsing ----------------------------------------------------------------------


def test_task_parsing_is_lenient_and_typed() -> None:
    body = {
        "task_id": 123,
        "task_status": "succeed",
        "task_status_msg": "",
        "task_info": {"external_task_id": "e1", "parent_video": {"id": "p"}},
        "created_at": 1722769557708,
        "updated_at": "1722769857708",
        "final_unit_deduction": "3.5",
        "task_result": {
            "videos": [{"id": "v", "url": "https://x/v.mp4", "duration": "5.1", "future_field": 1}]
        },
        "brand_new_field": {"a": 1},
    }
    task = task_from_wire(body, "image2video")
    assert task.task_id == "123"
    assert task.status is kling.TaskStatus.SUCCEEDED
    assert task.raw_status == "succeed"
    assert task.created_at == datetime.fromtimestamp(1722769557.708, tz=UTC)
    assert task.updated_at is not None
    assert task.updated_at.tzinfo is UTC
    assert task.units == 3.5
    assert task.videos == (kling.Video(id="v", url="https://x/v.mp4", duration=5.1),)
    assert task.extra == {"brand_new_field": {"a": 1}}
    assert task.raw == body


@pytest.mark.parametrize("status", ["queued", "SUCCEEDED", "", None, 7])
def test_unknown_statuses_never_crash(status: object) -> None:
    task = task_from_wire({"task_id": "1", "task_status": status}, "text2video")
    assert task.status in (kling.TaskStatus.UNKNOWN, kling.TaskStatus.SUCCEEDED)
    assert not task.failed


@pytest.mark.parametrize(
    ("body", "path"),
    [
        ({"task_id": "1", "task_result": {"videos": [{"id": "v"}]}}, "url"),
        (
            {
                "task_id": "1",
                "task_result": {"videos": [{"id": "v", "url": "u", "duration": "long"}]},
            },
            "duration",
        ),
        ({"task_id": "1", "created_at": 10**30}, "out of range"),
        ({"task_id": "1", "task_result": "oops"}, "task_result"),
        ({"task_status": "succeed"}, "task_id"),
        ("just a string", "task object"),
    ],
)
def test_malformed_tasks_raise_response_format_error(body: Any, path: str) -> None:
    with pytest.raises(kling.ResponseFormatError) as caught:
        task_from_wire(body, "image2video")
    assert path in str(caught.value)


async def test_a_connection_that_cannot_be_made_is_unreachable_and_creates_nothing(
    tmp_path: Any,
) -> None:
    """Refused (a port bound but not listening, on loopback): the request never went out, so
    the create made no task; the error names where it tried."""
    import socket

    from kling_async.money import nothing_created

    from .._helpers import API_KEY, png

    image = tmp_path / "in.png"
    image.write_bytes(png(480, 320))
    with socket.socket() as held:  # bound, not listening: connections to it are refused
        held.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{held.getsockname()[1]}"
        policy = kling.RetryPolicy(attempts=2, initial_backoff=0.01, max_backoff=0.02)
        async with kling.KlingClient(api_key=API_KEY, base_url=url, retry=policy) as c:
            with pytest.raises(kling.ServerUnreachableError) as refused:
                await c.image_to_video.create(image=image, prompt="a wave")
            sent = c.requests_sent
    error = refused.value
    assert error.base_url == url
    assert url in str(error)
    assert "nothing was sent" in str(error)
    assert nothing_created(error)
    assert isinstance(error, kling.APIConnectionError)  # the family callers already catch
    assert sent == 2  # retried within the policy (a server starting may answer), not blindly
