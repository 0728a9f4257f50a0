"""What the new surface accepts and makes: elements, voices and shots; omni video and motion
control; image generation with its queries; unknown models served with --allow-model; results
with a sound track when sound was asked, of the asked length, images at the asked ratio."""

from __future__ import annotations

import sys
from typing import Any

import pytest

from .._helpers import Api, StartEmulator, b64, png, test_account
from ._client import (
    IMG,
    VID,
    body,
    call,
    fetch,
    image_size,
    items,
    video_facts,
    wait_image,
    wait_new,
)

SHOTS = "shot 1, 2, a door opens @element_1; shot 2, 3, a hall;"
ACCEPTED: list[tuple[str, str, dict[str, Any]]] = [
    (
        "3.0-three-elements-and-shots",
        "/image-to-video/kling-3.0",
        body(items(("first_frame", IMG), *[("element", str(i)) for i in (1, 2, 3)], prompt=SHOTS)),
    ),
    (
        "3.0-multi-shot-off-ignores-shots",
        "/text-to-video/kling-3.0",
        {"prompt": "shot 1, 9, anything;", "settings": {"multi_shot": False}},
    ),
    ("turbo-shots", "/text-to-video/kling-3.0-turbo", {"prompt": SHOTS}),
    (
        "2.6-two-voices",
        "/image-to-video/kling-2.6",
        body(
            items(("first_frame", IMG), ("voice", "a"), ("voice", "b"), prompt="@v2 and @v3 talk"),
            audio="native",
            resolution="1080p",
        ),
    ),
    ("omni-prompt-only-9:16", "/omni-video/kling-3.0-omni", body(items(), aspect_ratio="9:16")),
    (
        "omni-seven-references",
        "/omni-video/kling-3.0-omni",
        body(items(*[("refer_image", IMG)] * 4, *[("element", str(i)) for i in (1, 2, 3)])),
    ),
    (
        "omni-base-video-original-sound",
        "/omni-video/kling-3.0-omni",
        body(items(("base_video", VID), ("refer_image", IMG)), audio="original"),
    ),
    ("o1-first-frame-10s", "/omni-video/kling-o1", body(items(("first_frame", IMG)), duration=10)),
    (
        "motion-3.0-element-no-sound",
        "/motion-control/kling-3.0",
        body(
            items(("image", IMG), ("video", VID), ("element", "9")),
            character_orientation="image",
            audio="off",
        ),
    ),
]


@pytest.mark.parametrize(
    ("path", "payload"), [c[1:] for c in ACCEPTED], ids=[c[0] for c in ACCEPTED]
)
async def test_documented_combinations_are_accepted(
    emu_api: tuple[Any, Api], path: str, payload: dict[str, Any]
) -> None:
    _, api = emu_api
    status, answer = await call(api, "POST", path, payload)
    assert (status, answer["code"]) == (200, 0), answer


FUTURE = "kling-4.0"
FUTURE_BODIES: list[tuple[str, dict[str, Any]]] = [
    (
        "/text-to-video/{}",
        {"prompt": "p" * 10_000, "settings": {"duration": 30, "aspect_ratio": "21:9"}},
    ),
    ("/image-to-video/{}", body(items(("first_frame", IMG), prompt="q" * 5000), duration=25)),
    ("/omni-video/{}", body(items(), duration=3, aspect_ratio="21:9", resolution="4k")),
    (
        "/motion-control/{}",
        body(items(("image", IMG), ("video", VID)), character_orientation="video"),
    ),
]


async def test_an_allowed_unknown_model_gets_only_the_shared_checks(
    start_emulator: StartEmulator,
) -> None:
    _emu, api = await start_emulator()
    for path, payload in FUTURE_BODIES:  # not allowed: model not found
        status, answer = await call(api, "POST", path.format(FUTURE), payload)
        assert (status, answer["code"]) == (404, 1203), answer
        assert FUTURE in answer["message"]
    emu, api = await start_emulator(allow_models=(FUTURE,), duration=(0.05, 0.05))
    for path, payload in FUTURE_BODIES:
        status, answer = await call(api, "POST", path.format(FUTURE), payload)
        assert (status, answer["code"]) == (200, 0), (path, answer)
    task = await wait_new(api, answer["data"]["id"])
    assert task["status"] == "succeeded"
    # what every model shares is still checked
    status, answer = await call(api, "POST", f"/text-to-video/{FUTURE}", {"prompt": " "})
    assert (status, answer["code"]) == (400, 1201)
    status, answer = await call(
        api, "POST", f"/text-to-video/{FUTURE}", {"prompt": "x", "settings": {"duration": "5"}}
    )
    assert (status, answer["code"]) == (400, 1201)
    assert "settings.duration" in answer["message"]
    for seconds in (2, 31):  # no model is shorter than 3 s; 30 s is the allowed longest
        status, answer = await call(
            api,
            "POST",
            f"/text-to-video/{FUTURE}",
            {"prompt": "x", "settings": {"duration": seconds}},
        )
        assert (status, answer["code"]) == (400, 1201)
        assert f"got '{seconds}'" in answer["message"]
    assert emu.stats()["requests_by_route"]["POST /text-to-video/{model}"] == 5


async def test_image_generation_queries_and_files(start_emulator: StartEmulator) -> None:
    emu, api = await start_emulator(test_account(concurrency_limit=5), duration=(0.1, 0.1))
    payload = {
        "model_name": "kling-v3",
        "prompt": "a puppy",
        "n": 3,
        "aspect_ratio": "21:9",
        "resolution": "2k",
        "external_task_id": "img-1",
        "watermark_info": {"enabled": True},
    }
    status, created = await call(api, "POST", "/v1/images/generations", payload)
    assert (status, created["code"]) == (200, 0), created
    assert set(created["data"]) == {
        "task_id",
        "task_status",
        "task_info",
        "created_at",
        "updated_at",
    }
    # an image task holds n slots of its model: 3 + 3 > 5
    status, answer = await call(
        api, "POST", "/v1/images/generations", {**payload, "external_task_id": "img-2"}
    )
    assert (status, answer["code"]) == (429, 1303), answer
    task_id = created["data"]["task_id"]
    done = await wait_image(api, task_id)
    assert done["task_status"] == "succeed"
    assert done["watermark_info"] == {"enabled": True}
    assert done["final_unit_deduction"] == "24"  # 8 units an image
    images = done["task_result"]["images"]
    assert [image["index"] for image in images] == [0, 1, 2]
    sizes = {image_size(await fetch(api, image["url"])) for image in images}
    assert sizes == {(2048, 878)}  # 21:9 at 2k
    by_external = await call(api, "GET", "/v1/images/generations/img-1")
    assert by_external[1]["data"]["task_id"] == task_id
    status, listed = await call(api, "GET", "/v1/images/generations?pageNum=1&pageSize=30")
    assert [t["task_id"] for t in listed["data"]] == [task_id]
    status, listed = await call(api, "GET", "/v1/images/generations?pageNum=1&pageSize=501")
    assert (status, listed["code"]) == (400, 1201)
    # the account-wide queries show it in the new shape, as an image task
    _, batch = await call(api, "GET", "/tasks?external_task_ids=img-1")
    (new,) = batch["data"]
    assert new["status"] == "succeeded"
    assert [o["type"] for o in new["outputs"]] == ["image"] * 3
    assert new["billing"] == [{"charge_type": "unit", "amount": "24", "package_type": "image"}]
    for product, count in (("image", 1), ("video", 0)):
        _, page = await call(
            api, "POST", "/tasks", {"filters": [{"key": "product_type", "values": [product]}]}
        )
        assert page["data"]["count"] == count
    # a video of another task's id is not an image, nor an index past n
    async with api.session.get(images[0]["url"].replace("-0.png", "-3.png")) as r:
        assert r.status == 404
    assert emu.stats()["errors_by_code"] == {"1201": 1, "1303": 1}


# (path, body, sound track expected, seconds expected)
SOUND: list[tuple[str, dict[str, Any], bool, int | None]] = [
    ("/omni-video/kling-3.0-omni", body(items(), audio="native", duration=3), True, 3),
    ("/omni-video/kling-3.0-omni", body(items(), duration=15), False, 15),
    (
        "/omni-video/kling-o1",
        body(items(("base_video", VID)), audio="original", duration=7),
        True,
        7,
    ),
    (
        "/motion-control/kling-2.6",
        body(items(("image", IMG), ("video", VID)), character_orientation="video"),
        True,
        5,
    ),
    (
        "/motion-control/kling-2.6",
        body(items(("image", IMG), ("video", VID)), character_orientation="video", audio="off"),
        False,
        5,
    ),
    (
        "/text-to-video/kling-2.6",
        {"prompt": "x", "settings": {"audio": "native", "resolution": "1080p"}},
        True,
        None,
    ),
    ("/text-to-video/kling-2.6", {"prompt": "x"}, False, None),
]


async def test_results_have_sound_and_length_as_asked(start_emulator: StartEmulator) -> None:
    _emu, api = await start_emulator(duration=(0.05, 0.05))
    ids = []
    for path, payload, _, _ in SOUND:
        status, answer = await call(api, "POST", path, payload)
        assert status == 200, answer
        ids.append(answer["data"]["id"])
    for (path, _, sound, seconds), task_id in zip(SOUND, ids, strict=True):
        task = await wait_new(api, task_id)
        got_seconds, got_sound, _ = video_facts(await fetch(api, task["outputs"][0]["url"]))
        assert got_sound == sound, path
        if seconds is not None:
            assert abs(got_seconds - seconds) < 0.2, (path, got_seconds)


async def test_rendered_videos_carry_the_sound_track(start_emulator: StartEmulator) -> None:
    _emu, api = await start_emulator(render=True, fps=6, render_max_side=96, duration=(0.05, 0.05))
    image = b64(png(400, 300))
    made = []
    for audio in ("native", "off"):
        payload = body(items(("first_frame", image)), audio=audio, duration=3)
        status, answer = await call(api, "POST", "/omni-video/kling-3.0-omni", payload)
        assert status == 200, answer
        made.append(answer["data"]["id"])
    for task_id, sound in zip(made, (True, False), strict=True):
        task = await wait_new(api, task_id)
        seconds, got_sound, size = video_facts(await fetch(api, task["outputs"][0]["url"]))
        assert (got_sound, size) == (sound, (96, 72))
        assert abs(seconds - 3.3) < 0.4  # 3 s and the two extra frames at 6 fps


def _padded_png(megabytes: int) -> str:
    """A readable 400x300 PNG padded past ``megabytes`` MB, as bare base64."""
    return b64(png(400, 300) + b"\0" * (megabytes * 1024 * 1024))


async def test_images_up_to_50_mb_on_the_new_api(start_emulator: StartEmulator) -> None:
    _emu, api = await start_emulator()
    twelve = _padded_png(12)  # over the legacy wire's 10 MB, within the new wire's 50 MB
    status, answer = await call(
        api, "POST", "/image-to-video/kling-3.0", body(items(("first_frame", twelve)))
    )
    assert (status, answer["code"]) == (200, 0), answer
    status, legacy = await api.create(model_name="kling-v2-6", image=twelve)
    assert (status, legacy["code"]) == (400, 1201)
    assert "10 MB" in legacy["message"]


def test_an_image_over_50_mb_is_refused_naming_the_item() -> None:
    """At the rules' level (no HTTP): 51 MB of zero bytes as base64 ("AAAA...")."""
    from kling_async.emulator._contents import read_contents
    from kling_async.emulator._errors import Rejection

    big = "A" * (68 * 1024 * 1024)  # decodes to 51 MB
    with pytest.raises(Rejection) as caught:
        read_contents([{"type": "prompt", "text": "p"}, {"type": "refer_image", "url": big}],
                      ("prompt", "refer_image"), 2500)  # fmt: skip
    assert caught.value.code == 1201
    assert "contents[1].url (refer_image)" in caught.value.message
    assert f"{51 * 1024 * 1024} bytes exceeds the 50 MB limit" in caught.value.message


async def test_without_pyav_sound_comes_from_the_bundled_clip(
    start_emulator: StartEmulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No PyAV (a plain install): a result with audio is the bundled clip with a sound track;
    an omni video asked for 7 s is the 5 s clip (it cannot be looped without PyAV)."""
    from kling_async.emulator._render import have_pyav

    _emu, api = await start_emulator(duration=(0.05, 0.05))
    payload = body(items(), audio="native", duration=7)
    status, answer = await call(api, "POST", "/omni-video/kling-3.0-omni", payload)
    assert status == 200, answer
    task = await wait_new(api, answer["data"]["id"])
    monkeypatch.setitem(sys.modules, "av", None)
    have_pyav.cache_clear()
    try:
        data = await fetch(api, task["outputs"][0]["url"])
    finally:
        monkeypatch.undo()
        have_pyav.cache_clear()
    seconds, sound, size = video_facts(data)
    assert (sound, size) == (True, (480, 270))
    assert abs(seconds - 5) < 0.2
