"""The query side against hostile servers: task ids checked as they are parsed, task lists
parsed item by item, lists that end on a repeated page, ``wait`` bounded by its deadline even
when the query hangs, and ids that reach the server exactly as given (one path segment; never
a comma inside the comma-separated ``GET /tasks`` list)."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager, suppress
from typing import Any
from urllib.parse import unquote

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

import kling_async as kling
from kling_async._convert import split_tasks_from_wire, task_from_wire, tasks_from_wire

from .._helpers import ACCESS_KEY, API_KEY, SECRET_KEY, StartEmulator, fast_client, png

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

BAD_IDS = ["", "a/b", "?x", "../x", "a b", " x", "x\n", "a\tb", "a\x00b", "x" * 129, "..", "é"]
GOOD_IDS = ["CjikY2dY8ZEAAAAAAABn3w", "782301945563615232", "a-b_c.d~e", "x" * 128, "7"]


def envelope(data: Any) -> web.Response:
    return web.json_response({"code": 0, "message": "SUCCEED", "request_id": "r", "data": data})


def legacy_task(ident: str, external: str | None = None) -> dict[str, Any]:
    return {
        "task_id": ident,
        "task_status": "processing",
        "task_info": {"external_task_id": external} if external is not None else {},
        "created_at": 1_700_000_000_000,
        "updated_at": 1_700_000_000_000,
    }


def new_task(ident: str) -> dict[str, Any]:
    return {"id": ident, "status": "processing", "external_id": "", "outputs": []}


@asynccontextmanager
async def hostile(
    handler: Handler, route: str = "/{tail:.*}", **client_options: Any
) -> AsyncIterator[kling.KlingClient]:
    """A server on 127.0.0.1 (port 0) answering requests to ``route`` (any path by default)
    with ``handler``, and a client for it (legacy keys and an API key; one try per request
    unless told otherwise)."""
    app = web.Application()
    app.router.add_route("*", route, handler)
    server = TestServer(app, host="127.0.0.1", port=0)
    await server.start_server()
    options: dict[str, Any] = {
        "access_key": ACCESS_KEY,
        "secret_key": SECRET_KEY,
        "api_key": API_KEY,
        "base_url": str(server.make_url("")).rstrip("/"),
        "retry": kling.RetryPolicy(attempts=1),
        "timeouts": kling.Timeouts(query=3, connect=2),
    }
    options.update(client_options)
    try:
        async with kling.KlingClient(**options) as client:
            yield client
    finally:
        await server.close()


# -- 1. task ids are checked when a task is parsed ---------------------------------------------


@pytest.mark.parametrize("bad", BAD_IDS)
@pytest.mark.parametrize(("wire", "field"), [("legacy", "task_id"), ("new", "id")])
def test_an_unusable_task_id_is_refused_naming_field_and_value(
    bad: str, wire: str, field: str
) -> None:
    body = legacy_task(bad) if wire == "legacy" else new_task(bad)
    with pytest.raises(kling.ResponseFormatError) as caught:
        task_from_wire(body, "image2video", wire)
    text = str(caught.value)
    assert text.startswith(f"{field}: ")
    assert repr(bad)[:40] in text  # the value, shown (a long one cut short)
    assert "is not a usable task id" in text
    assert "A-Z a-z 0-9 - _ . ~" in text  # the rule
    assert caught.value.body == body
    with pytest.raises(kling.ResponseFormatError):  # the strict list form too
        tasks_from_wire([body], "image2video", wire)


@pytest.mark.parametrize("good", GOOD_IDS)
def test_real_and_emulator_task_ids_pass(good: str) -> None:
    assert task_from_wire(legacy_task(good), "image2video").task_id == good
    assert task_from_wire(new_task(good), "video", "new").task_id == good


def test_a_numeric_id_and_any_external_id_still_pass() -> None:
    body = legacy_task("1", external="a?b#c/d e, é")
    body["task_id"] = 782301945563615232  # a number where a string is documented
    task = task_from_wire(body, "image2video")
    assert task.task_id == "782301945563615232"
    assert task.external_task_id == "a?b#c/d e, é"  # the user's choice: type-checked only
    new = task_from_wire({**new_task("9"), "external_id": "../../x y"}, "video", "new")
    assert new.external_task_id == "../../x y"


async def test_the_emulator_ids_pass_through_the_client(start_emulator: StartEmulator) -> None:
    emu, _ = await start_emulator()
    async with fast_client(emu) as client:
        legacy = await client.image_to_video.create(image=png(), prompt="p")
        new = await client.image_to_video.create(image=png(), model="kling-3.0-turbo")
        assert (await client.image_to_video.get(legacy)).task_id == legacy.task_id
        assert (await client.image_to_video.get(new)).task_id == new.task_id
    assert legacy.task_id.isdigit()
    assert new.task_id.isdigit()


async def test_a_server_task_id_that_would_escape_the_path_is_refused() -> None:
    async def handler(request: web.Request) -> web.Response:
        return envelope(legacy_task("../../v1/account/costs"))

    async with hostile(handler) as client:
        with pytest.raises(kling.ResponseFormatError, match=r"task_id: '\.\./\.\./v1"):
            await client.image_to_video.get("mine")


# -- 2. task lists parsed item by item ---------------------------------------------------------


def test_split_tasks_keeps_the_good_items_and_names_the_bad() -> None:
    data: list[Any] = [
        legacy_task("1"),
        {**legacy_task("2"), "created_at": "yesterday"},  # bad field, readable id
        legacy_task("a/b"),  # the id itself is unusable
        7,  # not an object at all
        {**legacy_task("4"), "task_id": 4, "task_result": []},  # numeric id, bad result
        legacy_task("5"),
    ]
    tasks, failures = split_tasks_from_wire(data, "image2video")
    assert [t.task_id for t in tasks] == ["1", "5"]
    assert [ident for ident, _ in failures] == ["2", None, None, "4"]
    assert all(isinstance(exc, kling.ResponseFormatError) for _, exc in failures)
    assert "a/b" in str(failures[1][1])
    with pytest.raises(kling.ResponseFormatError):  # the strict form: all or nothing
        tasks_from_wire(data, "image2video")


def test_split_tasks_on_the_new_wire_and_on_a_non_list() -> None:
    data = [new_task("n1"), {"id": "n2", "outputs": "nope"}, {"status": "succeeded"}]
    tasks, failures = split_tasks_from_wire(data, "video", "new")
    assert [t.wire for t in tasks] == ["new"]
    assert [ident for ident, _ in failures] == ["n2", None]
    for not_a_list in ({"result": []}, None, "x"):
        with pytest.raises(kling.ResponseFormatError, match="expected an array"):
            split_tasks_from_wire(not_a_list, "video", "new")
    assert split_tasks_from_wire([], "image2video") == ([], [])


# -- 3. lists stop on a repeated page ----------------------------------------------------------


async def test_legacy_list_stops_when_every_page_is_the_same(
    caplog: pytest.LogCaptureFixture,
) -> None:
    served: list[str] = []

    async def handler(request: web.Request) -> web.Response:
        served.append(request.query.get("pageNum", "?"))
        return envelope([legacy_task(f"{i}") for i in range(1, 11)])  # a full page, always

    caplog.set_level(logging.WARNING, logger="kling_async")
    async with hostile(handler) as client, asyncio.timeout(4):
        listed = [t.task_id async for t in client.image_to_video.list(page_size=10)]
    assert listed == [str(i) for i in range(1, 11)]  # each task once
    assert served == ["1", "2"]  # the repeat of page 1 ends the walk (was 1,000 requests)
    assert any("already listed" in r.getMessage() for r in caplog.records)


async def test_legacy_list_yields_each_task_once_when_pages_overlap() -> None:
    pages = {1: ["a", "b", "c"], 2: ["c", "d", "e"], 3: ["f"]}  # a new task shifted page 2
    served: list[int] = []

    async def handler(request: web.Request) -> web.Response:
        number = int(request.query["pageNum"])
        served.append(number)
        return envelope([legacy_task(i) for i in pages.get(number, [])])

    async with hostile(handler) as client, asyncio.timeout(4):
        listed = [t.task_id async for t in client.text_to_video.list(page_size=3)]
    assert listed == ["a", "b", "c", "d", "e", "f"]
    assert served == [1, 2, 3]


async def test_cursor_list_stops_on_a_page_of_tasks_already_seen(
    caplog: pytest.LogCaptureFixture,
) -> None:
    served: list[Any] = []

    async def handler(request: web.Request) -> web.Response:
        body = await request.json()
        served.append(body["cursor"])
        # the same tasks every time, under a new cursor each time
        return envelope(
            {
                "result": [new_task("t1"), new_task("t2")],
                "has_more": True,
                "next_cursor": f"c{len(served)}",
            }
        )

    caplog.set_level(logging.WARNING, logger="kling_async")
    async with hostile(handler) as client, asyncio.timeout(4):
        listed = [t.task_id async for t in client.tasks.list(limit=2)]
        via_resource = [t.task_id async for t in client.image_to_video.list(api="new")]
    assert listed == ["t1", "t2"] == via_resource
    assert served == ["", "c1", "", "c3"]  # two requests per walk, not 1,000
    assert any("POST /tasks" in r.getMessage() for r in caplog.records)


async def test_cursor_list_still_stops_on_a_repeated_cursor() -> None:
    served: list[str] = []

    async def handler(request: web.Request) -> web.Response:
        served.append((await request.json())["cursor"])
        n = len(served)
        return envelope({"result": [new_task(f"t{n}")], "has_more": True, "next_cursor": "same"})

    async with hostile(handler) as client, asyncio.timeout(4):
        listed = [t.task_id async for t in client.tasks.list(limit=1)]
    assert listed == ["t1", "t2"]
    assert served == ["", "same"]


# -- 4. wait's deadline bounds its (retried) queries -------------------------------------------


@asynccontextmanager
async def never_answering_status() -> AsyncIterator[tuple[kling.KlingClient, list[str]]]:
    """A server whose task query never answers (it would sleep a minute), with a client that
    retries under its default-sized policy and waits 30 s per try: the old ``wait`` took
    minutes here."""
    release = asyncio.Event()
    seen: list[str] = []

    async def handler(request: web.Request) -> web.Response:
        seen.append(request.path)
        with suppress(TimeoutError):
            await asyncio.wait_for(release.wait(), 60)
        return envelope(legacy_task("1"))

    policy = kling.RetryPolicy(attempts=6, total_timeout=120)
    try:
        async with hostile(handler, retry=policy, timeouts=kling.Timeouts(query=30)) as client:
            yield client, seen
    finally:
        release.set()  # let the parked handlers end before the server closes


async def test_wait_ends_at_its_deadline_when_the_status_query_hangs() -> None:
    polling = kling.WaitPolicy(first_poll=0.1, min_interval=0.1, max_interval=0.2)
    async with never_answering_status() as (client, seen):
        started = time.monotonic()
        async with asyncio.timeout(4):  # the old code would still be in its first try here
            with pytest.raises(kling.TaskTimeoutError) as caught:
                await client.image_to_video.wait("1", timeout=1.5, policy=polling)
        elapsed = time.monotonic() - started
    assert elapsed < 3.0
    assert caught.value.task_id == "1"
    assert caught.value.timeout == 1.5
    assert caught.value.last is None  # no query ever answered
    assert seen == ["/v1/videos/image2video/1"]


async def test_wait_lets_a_cancel_through() -> None:
    polling = kling.WaitPolicy(first_poll=0.05, min_interval=0.1, max_interval=0.2)
    async with never_answering_status() as (client, seen):
        waiting = asyncio.create_task(client.image_to_video.wait("1", timeout=30, policy=polling))
        for _ in range(100):  # until the query hangs on the server
            if seen:
                break
            await asyncio.sleep(0.02)
        waiting.cancel()
        with pytest.raises(asyncio.CancelledError):
            await asyncio.wait_for(waiting, 2)
    assert seen


async def test_wait_still_gives_the_last_state_at_the_deadline(
    start_emulator: StartEmulator,
) -> None:
    emu, _ = await start_emulator(duration=(30, 30))
    async with fast_client(emu) as client:
        task = await client.image_to_video.create(image=png())
        slow = kling.WaitPolicy(first_poll=5, min_interval=5)  # first look after the deadline
        started = time.monotonic()
        with pytest.raises(kling.TaskTimeoutError) as caught:
            await client.image_to_video.wait(task, timeout=0.4, policy=slow)
        elapsed = time.monotonic() - started
    assert caught.value.last is not None  # the look made at the deadline
    assert 0.4 <= elapsed < 1.5


async def test_wait_refuses_a_deadline_that_is_not_a_number(start_emulator: StartEmulator) -> None:
    emu, _ = await start_emulator(duration=(30, 30))
    async with fast_client(emu) as client, asyncio.timeout(2):  # NaN used to mean "never"
        with pytest.raises(kling.ValidationError, match="timeout") as caught:
            await client.image_to_video.wait("1", timeout=float("nan"))
    assert caught.value.field == "timeout"


# -- 5. ids in query paths ---------------------------------------------------------------------


async def test_an_external_id_reaches_the_server_as_one_path_segment() -> None:
    ident = "a?b#c/d e"
    recorded: list[tuple[str, str, dict[str, str]]] = []

    async def handler(request: web.Request) -> web.Response:
        recorded.append((request.raw_path, request.match_info["ident"], dict(request.query)))
        return envelope(legacy_task("42", external=ident))

    # the route takes exactly one segment after the kind: an id split in two would miss it
    async with hostile(handler, "/v1/videos/image2video/{ident}") as client:
        task = await client.image_to_video.get(ident)
    assert task.external_task_id == ident
    ((raw, matched, query),) = recorded
    assert matched == ident  # the one segment, decoded by the server, is the id exactly
    prefix = "/v1/videos/image2video/"
    assert raw.startswith(prefix)
    segment = raw[len(prefix) :]
    for char in "/?# ":
        assert char not in segment
    assert unquote(segment) == ident
    assert query == {}  # nothing of the id leaked into a query string


async def test_new_api_ids_reach_the_query_exactly_and_a_comma_is_refused() -> None:
    recorded: list[dict[str, str]] = []

    async def handler(request: web.Request) -> web.Response:
        recorded.append(dict(request.query))
        return envelope([new_task("9")])

    async with hostile(handler) as client:
        found = await client.tasks.get_many(["a?b#c/d e", "x&y=z"], by="external_task_ids")
        assert [t.task_id for t in found] == ["9"]
        assert recorded == [{"external_task_ids": "a?b#c/d e,x&y=z"}]
        with pytest.raises(kling.ValidationError) as caught:
            await client.tasks.get_many(["ok", "a,b"], by="external_task_ids")
        assert caught.value.field == "external_task_ids[1]"
        assert caught.value.value == "a,b"
        assert "comma-separated" in caught.value.rule
        with pytest.raises(kling.ValidationError, match="task_ids"):
            await client.tasks.get("a,b")
        with pytest.raises(kling.ValidationError, match="not one string"):
            await client.tasks.get_many("abc")  # would have asked for 'a,b,c'
    assert len(recorded) == 1  # nothing was sent for the refused ones
