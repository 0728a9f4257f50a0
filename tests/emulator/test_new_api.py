"""The new wire (model in the path, API key only) and what both wires share in 2026:
batch query and cursor list, status words, retired models, unique external ids across wires,
parallel tasks per model family, prices per second, per-route counters, faults."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import aiohttp
import pytest

from kling_async.emulator import default_unit_cost

from .._helpers import API_KEY, IMAGE, Api, StartEmulator, b64, png, test_account, token

KEY = f"Bearer {API_KEY}"
NO_AKSK = (
    "Authentication error. The current API does not support AK/SK; please go to the console "
    "to create API key."
)
TAIL = b64(png(640, 360, (10, 10, 200)))


def i2v(
    prompt: str | None = "a cat",
    *,
    first: str | None = IMAGE,
    last: str | None = None,
    voices: tuple[str, ...] = (),
    options: dict[str, Any] | None = None,
    **settings: Any,
) -> dict[str, Any]:
    """An image-to-video body of the new wire."""
    contents: list[dict[str, Any]] = []
    if prompt is not None:
        contents.append({"type": "prompt", "text": prompt})
    if first is not None:
        contents.append({"type": "first_frame", "url": first})
    if last is not None:
        contents.append({"type": "last_frame", "url": last})
    contents += [{"type": "voice", "voice_id": v} for v in voices]
    body: dict[str, Any] = {"contents": contents, "settings": settings}
    if options is not None:
        body["options"] = options
    return body


def t2v(prompt: str = "waves", *, options: dict[str, Any] | None = None, **settings: Any) -> Any:
    body: dict[str, Any] = {"prompt": prompt, "settings": settings}
    if options is not None:
        body["options"] = options
    return body


async def _raw_get(base: str, path: str) -> bytes:
    """Everything the server sends back to one GET on a connection of its own."""
    host, port = base.removeprefix("http://").split(":")
    reader, writer = await asyncio.open_connection(host, int(port))
    try:
        request = f"GET {path} HTTP/1.1\r\nHost: {host}\r\nAuthorization: {KEY}\r\n\r\n"
        writer.write(request.encode())
        await writer.drain()
        async with asyncio.timeout(5):
            return await reader.read()
    finally:
        writer.close()


class New:
    """Raw requests of the new wire, with the API key."""

    def __init__(self, api: Api) -> None:
        self.api = api

    async def create(
        self, model: str, body: dict[str, Any], *, kind: str = "image-to-video", auth: str = KEY
    ) -> tuple[int, dict[str, Any]]:
        status, answer, _ = await self.api.call("POST", f"/{kind}/{model}", json=body, auth=auth)
        return status, answer

    async def tasks(self, query: str) -> tuple[int, dict[str, Any]]:
        status, answer, _ = await self.api.call("GET", f"/tasks?{query}", auth=KEY)
        return status, answer

    async def page(self, **body: Any) -> tuple[int, dict[str, Any]]:
        status, answer, _ = await self.api.call("POST", "/tasks", json=body, auth=KEY)
        return status, answer

    async def wait(self, task_id: str, limit: float = 10.0) -> dict[str, Any]:
        deadline = time.monotonic() + limit
        while time.monotonic() < deadline:
            _, answer = await self.tasks(f"task_ids={task_id}")
            task: dict[str, Any] = answer["data"][0]
            if task["status"] in ("succeeded", "failed"):
                return task
            await asyncio.sleep(0.05)
        raise AssertionError(f"task {task_id} did not end within {limit} s")


async def test_new_create_and_task_objects(start_emulator: StartEmulator) -> None:
    emu, api = await start_emulator(duration=(0.3, 0.3))
    new = New(api)
    before = int(time.time() * 1000)
    status, created = await new.create(
        "kling-3.0-turbo", i2v(options={"external_task_id": "n-1", "callback_url": ""})
    )
    assert (status, created["code"], created["message"]) == (200, 0, "SUCCEED")
    data = created["data"]
    assert set(data) == {"id", "status", "create_time", "update_time", "external_id"}
    assert (data["status"], data["external_id"]) == ("submitted", "n-1")
    assert before - 5 <= data["create_time"] == data["update_time"] <= time.time() * 1000 + 5

    _, early = await new.tasks(f"task_ids={data['id']}")
    task = early["data"][0]
    assert set(task) == {
        "id",
        "status",
        "message",
        "create_time",
        "update_time",
        "external_id",
        "outputs",
        "billing",
    }
    assert task["status"] in ("submitted", "processing")
    assert (task["outputs"], task["billing"]) == ([], [])

    done = await new.wait(data["id"])
    assert (done["status"], done["message"], done["external_id"]) == ("succeeded", "", "n-1")
    assert abs(done["update_time"] - (data["create_time"] + 300)) <= 1
    (video,) = done["outputs"]
    assert set(video) == {"type", "id", "url", "watermark_url", "duration"}
    assert (video["type"], video["duration"]) == ("video", "5.1")
    # kling-3.0-turbo 720p 5 s: 0.8 units per second
    assert done["billing"] == [{"charge_type": "unit", "amount": "4", "package_type": "video"}]
    async with api.session.get(video["url"]) as r:
        assert (r.status, await r.read()) == (200, await emu.file_bytes(video["id"]))
    # the legacy query finds legacy tasks only
    status, legacy = await api.get(data["id"])
    assert (status, legacy["code"]) == (400, 1201)
    status, legacy = await api.get("n-1")
    assert (status, legacy["code"]) == (400, 1201)


async def test_new_text2video_and_failed_status(start_emulator: StartEmulator) -> None:
    _emu, api = await start_emulator(failure_rate=1.0)
    new = New(api)
    status, created = await new.create(
        "kling-2.6", t2v(aspect_ratio="9:16", duration=10), kind="text-to-video"
    )
    assert (status, created["code"]) == (200, 0), created
    done = await new.wait(created["data"]["id"])
    assert done["status"] == "failed"
    assert done["message"]
    assert done["outputs"] == []
    assert done["billing"] == [{"charge_type": "unit", "amount": "0", "package_type": "video"}]


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("POST", "/image-to-video/kling-3.0-turbo"),
        ("POST", "/text-to-video/kling-2.6"),
        ("GET", "/tasks?task_ids=1"),
        ("POST", "/tasks"),
    ],
)
async def test_a_jwt_is_refused_on_the_new_wire(
    emu_api: tuple[Any, Api], method: str, path: str
) -> None:
    emu, api = emu_api
    for jwt in (token(), token(exp=time.time() - 10)):  # valid or not, a JWT is AK/SK
        status, body, _ = await api.call(method, path, json={}, auth=f"Bearer {jwt}")
        assert (status, body["code"], body["message"]) == (401, 1002, NO_AKSK)
    status, body, _ = await api.call(method, path, json={}, auth="Bearer no-such-key")
    assert (status, body["code"]) == (401, 1000)
    assert emu.stats()["creates"] == 0


async def test_unknown_model_in_the_path_is_1203(emu_api: tuple[Any, Api]) -> None:
    _, api = emu_api
    new = New(api)
    status, body = await new.create("kling-9", i2v())
    assert (status, body["code"]) == (404, 1203)
    assert "kling-9" in body["message"]
    assert "kling-3.0-turbo" in body["message"]  # names what the path serves
    status, body = await new.create("kling-v2-6", t2v(), kind="text-to-video")
    assert (status, body["code"]) == (404, 1203)
    assert "legacy" in body["message"]


# (id, model, kind, body, words the 1201 message must contain)
NEW_CASES: list[tuple[str, str, str, dict[str, Any], tuple[str, ...]]] = [
    *(
        (
            f"unknown-{field}",
            "kling-2.6",
            "image-to-video",
            {**i2v(), field: value},
            (field, "not a field"),
        )
        for field, value in (
            ("negative_prompt", "blur"),
            ("cfg_scale", 0.5),
            ("camera_control", {"type": "simple", "config": {"zoom": 1}}),
            ("mode", "pro"),
            ("image_tail", TAIL),
            ("multi_prompt", []),
            ("model_name", "kling-2.6"),
        )
    ),
    ("unknown-setting", "kling-2.6", "image-to-video", i2v(fps=30), ("settings.fps",)),
    (
        "unknown-option",
        "kling-2.6",
        "image-to-video",
        {**i2v(), "options": {"sound": "on"}},
        ("options.sound",),
    ),
    (
        "aspect-on-i2v",
        "kling-2.6",
        "image-to-video",
        i2v(aspect_ratio="9:16"),
        ("settings.aspect_ratio",),
    ),
    ("contents-on-t2v", "kling-2.6", "text-to-video", {**t2v(), "contents": []}, ("contents",)),
    ("no-first-frame", "kling-2.6", "image-to-video", i2v(first=None, last=TAIL), ("first_frame",)),
    ("no-contents", "kling-2.6", "image-to-video", {"settings": {}}, ("contents", "required")),
    ("bad-type", "kling-2.6", "image-to-video", {"contents": [{"type": "video"}]}, ("type",)),
    ("duration-string", "kling-2.6", "image-to-video", i2v(duration="5"), ("settings.duration",)),
    ("duration-7", "kling-2.6", "image-to-video", i2v(duration=7), ("settings.duration", "'7'")),
    ("duration-16", "kling-3.0", "text-to-video", t2v(duration=16), ("settings.duration", "16")),
    ("bad-resolution", "kling-2.6", "image-to-video", i2v(resolution="8k"), ("resolution",)),
    (
        "turbo-4k",
        "kling-3.0-turbo",
        "image-to-video",
        i2v(resolution="4k"),
        ("settings.resolution", "'4k'"),
    ),
    (
        "turbo-last-frame",
        "kling-3.0-turbo",
        "image-to-video",
        i2v(last=TAIL, resolution="1080p"),
        ("last_frame", "kling-3.0-turbo"),
    ),
    (
        "turbo-audio-off",
        "kling-3.0-turbo",
        "image-to-video",
        i2v(audio="off"),
        ("settings.audio", "always"),
    ),
    (
        "turbo-voice",
        "kling-3.0-turbo",
        "image-to-video",
        i2v(voices=("v",)),
        ("voice", "kling-3.0-turbo"),
    ),
    (
        "2.6-audio-720p",
        "kling-2.6",
        "image-to-video",
        i2v(audio="native", resolution="720p"),
        ("settings.audio", "'1080p'"),
    ),
    (
        "2.6-last-frame-720p",
        "kling-2.6",
        "image-to-video",
        i2v(last=TAIL),
        ("last_frame", "'1080p'"),
    ),
    (
        "2.6-last-frame-with-audio",
        "kling-2.6",
        "image-to-video",
        i2v(last=TAIL, audio="native", resolution="1080p"),
        ("last_frame", "silent"),
    ),
    (
        "2.6-voice-without-audio",
        "kling-2.6",
        "image-to-video",
        i2v(voices=("v",), resolution="1080p"),
        ("voice", "settings.audio"),
    ),
    (
        "2.6-three-voices",
        "kling-2.6",
        "image-to-video",
        i2v(voices=("a", "b", "c"), audio="native", resolution="1080p"),
        ("voice", "at most 2"),
    ),
    (
        "2.6-voice-720p",
        "kling-2.6",
        "image-to-video",
        i2v(voices=("a",), audio="native"),
        ("'1080p'",),
    ),
    (
        "2.6-t2v-audio-720p",
        "kling-2.6",
        "text-to-video",
        t2v(audio="native"),
        ("settings.audio", "'1080p'"),
    ),
    (
        "2.5-turbo-audio",
        "kling-2.5-turbo",
        "image-to-video",
        i2v(audio="native", resolution="1080p"),
        ("settings.audio", "kling-2.5-turbo"),
    ),
    (
        "2.5-turbo-last-frame-720p",
        "kling-2.5-turbo",
        "image-to-video",
        i2v(last=TAIL),
        ("last_frame", "'1080p'"),
    ),
    (
        "2.5-turbo-3s",
        "kling-2.5-turbo",
        "text-to-video",
        t2v(duration=3),
        ("settings.duration", "'3'"),
    ),
    (
        "3.0-t2v-prompt-3073",
        "kling-3.0",
        "text-to-video",
        t2v("x" * 3073),
        ("prompt", "3073", "3072"),
    ),
    (
        "2.6-t2v-prompt-2501",
        "kling-2.6",
        "text-to-video",
        t2v("x" * 2501),
        ("prompt", "2501", "2500"),
    ),
    (  # kling-3.0-turbo-i2v: "cannot exceed 2500"
        "turbo-i2v-prompt-2501",
        "kling-3.0-turbo",
        "image-to-video",
        i2v("x" * 2501),
        ("contents[0].text", "2500"),
    ),
    (  # kling-omni-3.0-i2v: 3072
        "3.0-i2v-prompt-3073",
        "kling-3.0",
        "image-to-video",
        i2v("x" * 3073),
        ("contents[0].text", "3073", "3072"),
    ),
    ("blank-t2v-prompt", "kling-3.0", "text-to-video", t2v("  "), ("prompt", "blank")),
    (
        "prompt-without-text",
        "kling-3.0",
        "image-to-video",
        {"contents": [{"type": "prompt"}, {"type": "first_frame", "url": IMAGE}]},
        ("contents[0].text", "required"),
    ),
    (
        "two-first-frames",
        "kling-3.0",
        "image-to-video",
        {"contents": [{"type": "first_frame", "url": IMAGE}] * 2},
        ("contents[1]", "first_frame"),
    ),
    (
        "voice-ids-twice",
        "kling-2.6",
        "image-to-video",
        {
            "contents": [
                {"type": "first_frame", "url": IMAGE},
                {"type": "voice", "voice_id": "a", "id": "1"},
                {"type": "voice", "voice_id": "b", "id": "1"},
            ],
            "settings": {"audio": "native", "resolution": "1080p"},
        },
        ("contents[2].id", "another voice"),
    ),
    ("bad-first-frame", "kling-3.0", "image-to-video", i2v(first="@@@"), ("first_frame",)),
    (
        "bad-callback",
        "kling-3.0",
        "image-to-video",
        i2v(options={"callback_url": "ftp://x"}),
        ("options.callback_url",),
    ),
    (
        "blank-external-id",
        "kling-3.0",
        "image-to-video",
        i2v(options={"external_task_id": "  "}),
        ("options.external_task_id", "blank"),
    ),
]


@pytest.mark.parametrize(
    ("model", "kind", "body", "words"), [c[1:] for c in NEW_CASES], ids=[c[0] for c in NEW_CASES]
)
async def test_new_wire_rules(
    emu_api: tuple[Any, Api], model: str, kind: str, body: dict[str, Any], words: tuple[str, ...]
) -> None:
    emu, api = emu_api
    status, answer = await New(api).create(model, body, kind=kind)
    assert (status, answer["code"]) == (400, 1201), answer
    for word in words:
        assert word in answer["message"], (word, answer["message"])
    assert emu.stats()["creates"] == 0


@pytest.mark.parametrize(
    ("model", "kind", "body"),
    [
        ("kling-3.0-turbo", "image-to-video", i2v(resolution="1080p", duration=15)),
        ("kling-3.0-turbo", "image-to-video", i2v(audio="native", duration=3)),
        ("kling-3.0-turbo", "text-to-video", t2v("x" * 3072, aspect_ratio="1:1")),
        ("kling-3.0", "image-to-video", i2v(last=TAIL, resolution="4k", audio="native")),
        ("kling-3.0", "image-to-video", i2v(None, last=TAIL, audio="off", duration=3)),
        ("kling-3.0", "text-to-video", t2v(resolution="4k", duration=15, audio="native")),
        (
            "kling-2.6",
            "image-to-video",
            i2v(voices=("a", "b"), audio="native", resolution="1080p", duration=10),
        ),
        ("kling-2.6", "image-to-video", i2v(last=TAIL, resolution="1080p", audio="off")),
        ("kling-2.6", "text-to-video", t2v(audio="native", resolution="1080p")),
        ("kling-2.5-turbo", "image-to-video", i2v(last=TAIL, resolution="1080p")),
        ("kling-2.5-turbo", "text-to-video", t2v(audio="off", duration=10)),
        (
            "kling-2.6",
            "image-to-video",
            i2v(
                first="https://example.com/cat.png",
                options={"watermark_info": {"enabled": True}, "external_task_id": ""},
            ),
        ),
    ],
    ids=[
        "turbo-1080p-15s",
        "turbo-native-3s",
        "turbo-t2v-3072",
        "3.0-4k-last-frame-audio",
        "3.0-no-prompt",
        "3.0-t2v-4k",
        "2.6-two-voices",
        "2.6-last-frame",
        "2.6-t2v-audio",
        "2.5-turbo-last-frame",
        "2.5-turbo-t2v",
        "url-and-empty-external-id",
    ],
)
async def test_new_wire_valid_bodies(
    emu_api: tuple[Any, Api], model: str, kind: str, body: dict[str, Any]
) -> None:
    emu, api = emu_api
    status, answer = await New(api).create(model, body, kind=kind)
    assert (status, answer["code"]) == (200, 0), answer
    assert answer["data"]["status"] == "submitted"
    assert emu.stats()["creates"] == 1


async def test_batch_query(emu_api: tuple[Any, Api]) -> None:
    emu, api = emu_api
    new = New(api)
    ids = []
    for i in range(20):
        _, created = await new.create(
            "kling-2.6", t2v(options={"external_task_id": f"e{i}"}), kind="text-to-video"
        )
        ids.append(created["data"]["id"])
    _, legacy = await api.create(external_task_id="old-1")
    legacy_id = legacy["data"]["task_id"]

    status, answer = await new.tasks("task_ids=" + ",".join(ids))
    assert (status, answer["code"]) == (200, 0)
    assert [t["id"] for t in answer["data"]] == ids
    status, answer = await new.tasks("task_ids=" + ",".join([*ids, legacy_id]))
    assert (status, answer["code"]) == (400, 1201)
    assert "21" in answer["message"]
    assert "20" in answer["message"]
    status, answer = await new.tasks(f"task_ids={ids[0]}&external_task_ids=e1")
    assert (status, answer["code"]) == (400, 1201)
    assert "task_ids" in answer["message"]
    status, answer = await new.tasks("")
    assert (status, answer["code"]) == (400, 1201)
    status, answer = await new.tasks("task_ids=")
    assert (status, answer["code"]) == (400, 1201)

    # unknown ids are simply absent; the order asked is kept; a repeat is answered once
    status, answer = await new.tasks(f"task_ids=123,{ids[3]},nope,{ids[1]},{ids[3]}")
    assert (status, [t["id"] for t in answer["data"]]) == (200, [ids[3], ids[1]])
    status, answer = await new.tasks("external_task_ids=e2,ghost,e5")
    assert [t["external_id"] for t in answer["data"]] == ["e2", "e5"]
    status, answer = await new.tasks("task_ids=ghost")
    assert (status, answer["data"]) == (200, [])

    # the batch query is account-wide: legacy tasks too, in the new shape
    await api.wait(legacy_id)
    _, answer = await new.tasks("external_task_ids=old-1")
    (task,) = answer["data"]
    assert (task["id"], task["status"], task["external_id"]) == (legacy_id, "succeeded", "old-1")
    assert task["billing"][0]["amount"] == "1.5"
    assert "task_status" not in task

    stats = emu.stats()
    assert stats["batch_queries"] == 9
    assert stats["batch_query_ids"] == 20 + 5 + 3 + 1 + 1  # the calls that were answered
    assert stats["requests_by_route"]["GET /tasks"] == 9


async def test_cursor_list_pages_through_250_tasks(emu_api: tuple[Any, Api]) -> None:
    emu, api = emu_api
    new = New(api)
    created: list[str] = []
    for i in range(250):
        if i % 5 == 0:  # a legacy task now and then: the list is account-wide
            _, answer = await api.create(image="https://example.com/a.png")
            created.append(answer["data"]["task_id"])
        else:
            _, answer = await new.create("kling-2.5-turbo", t2v(f"shot {i}"), kind="text-to-video")
            created.append(answer["data"]["id"])
    newest_first = list(reversed(created))

    status, first = await new.page(limit=100)
    assert (status, first["code"]) == (200, 0)
    page = first["data"]
    assert (page["count"], page["has_more"]) == (100, True)
    assert [t["id"] for t in page["result"]] == newest_first[:100]
    # a task created between pages does not show up in later pages
    _, late = await new.create("kling-2.5-turbo", t2v("late"), kind="text-to-video")
    seen = [t["id"] for t in page["result"]]
    cursor = page["next_cursor"]
    for expected in (100, 50):
        status, answer = await new.page(cursor=cursor, limit=100, start_time=0, end_time=1)
        assert status == 200
        page = answer["data"]
        assert page["count"] == len(page["result"]) == expected
        seen += [t["id"] for t in page["result"]]
        cursor = page["next_cursor"]
    assert (page["has_more"], cursor) == (False, "")
    assert seen == newest_first  # every task once, newest first, no repeats
    assert late["data"]["id"] not in seen

    _, default = await new.page()  # no body fields: limit 100, the last 30 days
    assert default["data"]["count"] == 100
    assert default["data"]["result"][0]["id"] == late["data"]["id"]
    assert emu.stats()["list_queries"] == 4


async def test_cursor_list_filters_and_errors(start_emulator: StartEmulator) -> None:
    emu, api = await start_emulator(duration=(0.05, 0.05))
    new = New(api)
    _, done = await new.create("kling-2.6", t2v("done"), kind="text-to-video")
    await asyncio.sleep(0.1)
    emu.config.duration = (30.0, 30.0)
    _, running = await new.create("kling-2.6", t2v("running"), kind="text-to-video")

    async def ids(**body: Any) -> list[str]:
        status, answer = await new.page(**body)
        assert status == 200, answer
        return [t["id"] for t in answer["data"]["result"]]

    succeeded = [{"key": "status", "values": ["succeeded"]}]
    assert await ids(filters=succeeded) == [done["data"]["id"]]
    waiting = [{"key": "status", "values": ["submitted", "processing"]}]
    assert await ids(filters=waiting) == [running["data"]["id"]]
    assert len(await ids(filters=[{"key": "product_type", "values": ["video"]}])) == 2
    assert await ids(filters=[{"key": "product_type", "values": ["image"]}]) == []
    now = int(time.time() * 1000)
    assert await ids(start_time=now - 3_600_000, end_time=now - 1_800_000) == []
    assert len(await ids(start_time=str(now - 60_000), end_time=str(now + 1000))) == 2

    for body, field in [
        ({"limit": 501}, "limit"),
        ({"limit": 0}, "limit"),
        ({"limit": "10"}, "limit"),
        ({"cursor": "not-a-cursor"}, "cursor"),
        ({"start_time": now, "end_time": now - 1}, "start_time"),
        ({"filters": [{"key": "model", "values": ["x"]}]}, "filters[0].key"),
        ({"filters": [{"key": "status", "values": ["succeed"]}]}, "filters[0].values"),
    ]:
        status, answer = await new.page(**body)
        assert (status, answer["code"]) == (400, 1201), body
        assert field in answer["message"]


async def test_duplicate_external_task_id_on_both_wires(emu_api: tuple[Any, Api]) -> None:
    emu, api = emu_api
    new = New(api)
    assert (await api.create(external_task_id="dup"))[0] == 200
    for model, body, kind in (
        ("kling-2.6", i2v(options={"external_task_id": "dup"}), "image-to-video"),
        ("kling-3.0", t2v(options={"external_task_id": "dup"}), "text-to-video"),
    ):
        status, answer = await new.create(model, body, kind=kind)
        assert (status, answer["code"]) == (400, 1201)
        assert "external_task_id 'dup' already exists" in answer["message"]
    status, _ = await new.create("kling-2.6", i2v(options={"external_task_id": "fresh"}))
    assert status == 200
    status, answer = await api.create(external_task_id="fresh")
    assert (status, answer["code"]) == (400, 1201)
    assert "already exists" in answer["message"]
    assert emu.stats()["creates"] == 2


async def test_parallel_tasks_are_counted_per_model_family(start_emulator: StartEmulator) -> None:
    emu, api = await start_emulator(test_account(concurrency_limit=2), duration=(5.0, 5.0))
    new = New(api)
    assert (await api.create(model_name="kling-v2-6"))[0] == 200
    assert (await api.create("text2video", model_name="kling-v2-6", prompt="x"))[0] == 200
    for status, body in (
        await api.create(model_name="kling-v2-6"),
        await new.create("kling-2.6", i2v()),  # the same family on the new wire
    ):
        assert (status, body["code"]) == (429, 1303)
        assert body["message"].startswith("parallel task over resource pack limit")
    # other families still have their own slots
    assert (await api.create(model_name="kling-v3"))[0] == 200
    assert (await new.create("kling-3.0", i2v()))[0] == 200  # kling-v3 and kling-3.0: one family
    status, body = await new.create("kling-3.0", t2v(), kind="text-to-video")
    assert (status, body["code"]) == (429, 1303)
    assert (await new.create("kling-3.0-turbo", i2v()))[0] == 200
    assert (await api.create(model_name="kling-v2-5-turbo"))[0] == 200
    stats = emu.stats()
    assert stats["in_flight"] == {"test-access-key": 6}
    assert stats["in_flight_by_family"] == {
        "test-access-key": {"2.5-turbo": 1, "2.6": 2, "3.0": 2, "3.0-turbo": 1}
    }
    assert stats["max_in_flight"] == 2
    assert stats["max_in_flight_by_family"] == {"2.5-turbo": 1, "2.6": 2, "3.0": 2, "3.0-turbo": 1}
    assert stats["errors_by_code"] == {"1303": 3}


@pytest.mark.parametrize(
    ("wire", "model", "body", "units"),
    [
        ("legacy", "kling-v2-6", {"mode": "pro", "sound": "on", "duration": "10"}, "10"),
        ("legacy", "kling-v3", {"mode": "4k", "duration": "15"}, "45"),
        ("legacy", "kling-v3", {"mode": "std", "duration": "3"}, "1.8"),
        ("legacy", "kling-v3", {"mode": "pro", "duration": "5", "sound": "on"}, "6"),
        ("legacy", "kling-v2-5-turbo", {"mode": "std"}, "1.5"),
        ("legacy", "kling-v2-master", {"duration": "10"}, "20"),
        ("new", "kling-3.0-turbo", i2v(resolution="1080p", duration=8), "8"),
        (
            "new",
            "kling-2.6",
            i2v(voices=("v",), audio="native", resolution="1080p", duration=5),
            "6",
        ),
        ("new", "kling-2.6", i2v(audio="native", resolution="1080p", duration=10), "10"),
        ("new", "kling-3.0", i2v(resolution="720p", audio="native", duration=10), "9"),
        ("new", "kling-2.5-turbo", i2v(resolution="1080p", duration=10), "5"),
    ],
)
async def test_prices_per_second(
    start_emulator: StartEmulator, wire: str, model: str, body: dict[str, Any], units: str
) -> None:
    emu, api = await start_emulator(test_account(units=1000.0))
    if wire == "legacy":
        status, created = await api.create(model_name=model, **body)
        assert status == 200, created
        task = await api.wait(created["data"]["task_id"])
        assert task["final_unit_deduction"] == units
    else:
        new = New(api)
        status, created = await new.create(model, body)
        assert status == 200, created
        task = await new.wait(created["data"]["id"])
        assert task["billing"][0]["amount"] == units
    assert emu.stats()["units_left"] == {"test-access-key": 1000.0 - float(units)}


def test_default_unit_cost_table() -> None:
    assert default_unit_cost("kling-v2-6", "pro", "10", True, False) == 10
    assert default_unit_cost("kling-v2-6", "pro", "10", True, True) == 12
    assert default_unit_cost("kling-2.6", "std", "5", False, False) == 1.5
    assert default_unit_cost("kling-v3", "4k", "15", True, False) == 45
    assert default_unit_cost("kling-3.0", "pro", "5", False, False) == 4
    assert default_unit_cost("kling-3.0-turbo", "pro", "8", True, False) == 8
    assert default_unit_cost("kling-3.0-turbo", "std", "5", True, False) == 4
    assert default_unit_cost("kling-v2-5-turbo", "pro", "5", False, False) == 2.5
    assert default_unit_cost("kling-v2-master", None, "5", False, False) == 10


async def test_requests_are_counted_by_route(emu_api: tuple[Any, Api]) -> None:
    emu, api = emu_api
    new = New(api)
    _, created = await api.create(external_task_id="r1")
    await api.get(created["data"]["task_id"])
    await api.call("GET", "/v1/videos/image2video")
    await api.create("text2video", prompt="x")
    await new.create("kling-3.0-turbo", i2v())
    await new.create("kling-3.0-turbo", i2v())
    await new.create("kling-2.6", t2v(), kind="text-to-video")
    await new.create("kling-7", t2v(), kind="text-to-video")
    await new.tasks("task_ids=1,2,3")
    await new.page()
    routes = emu.stats()["requests_by_route"]
    assert routes == {
        "GET /tasks": 1,
        "GET /v1/videos/image2video": 1,
        "GET /v1/videos/image2video/{id}": 1,
        "POST /image-to-video/kling-3.0-turbo": 2,
        "POST /tasks": 1,
        "POST /text-to-video/kling-2.6": 1,
        "POST /text-to-video/{model}": 1,
        "POST /v1/videos/image2video": 1,
        "POST /v1/videos/text2video": 1,
    }
    stats = emu.stats()
    assert (stats["single_queries"], stats["list_queries"], stats["batch_queries"]) == (1, 2, 1)
    assert (stats["create_requests"], stats["creates"], stats["batch_query_ids"]) == (6, 5, 3)


async def test_faults_hit_the_new_routes(emu_api: tuple[Any, Api]) -> None:
    emu, api = emu_api
    new = New(api)
    emu.inject("5000", route="create")
    status, answer = await new.create("kling-2.6", i2v(options={"external_task_id": "f1"}))
    assert (status, answer["code"]) == (500, 5000)
    emu.inject("lost_create", route="create")
    with pytest.raises(aiohttp.ServerDisconnectedError):
        await new.create("kling-2.6", i2v(options={"external_task_id": "f1"}))
    _, answer = await new.tasks("external_task_ids=f1")  # the way back after a lost answer
    assert [t["external_id"] for t in answer["data"]] == ["f1"]
    emu.inject("drop", route="query")
    # by hand: aiohttp would quietly send an idempotent GET again after a drop
    assert await _raw_get(emu.url, "/tasks?external_task_ids=f1") == b""
    emu.inject("5002", route="list")
    status, answer = await new.page()
    assert (status, answer["code"]) == (504, 5002)
    emu.inject("1303", route="create")
    status, answer = await new.create("kling-2.6", t2v(), kind="text-to-video")
    assert (status, answer["code"]) == (429, 1303)
    assert answer["message"].startswith("parallel task over resource pack limit")
    stats = emu.stats()
    assert stats["creates"] == 1
    assert stats["faults_injected"] == {
        "1303": 1,
        "5000": 1,
        "5002": 1,
        "drop": 1,
        "lost_create": 1,
    }
