"""The emulator's custom elements and voices (``/v1/general/...``), as a client written from
the vendor's Element and Voice Management pages sends them: creates are tasks that become
ready, lists page, presets list, deletes mark them deleted; video creates naming a deleted
element are refused (one the emulator never made only when ``strict_elements``)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from .._helpers import IMAGE, Api, StartEmulator
from ._client import IMG, body, call, items

ELEMENTS = "/v1/general/advanced-custom-elements"
VOICES = "/v1/general/custom-voices"


def element_body(**changes: Any) -> dict[str, Any]:
    out: dict[str, Any] = {
        "element_name": "Corgi",
        "element_description": "A corgi",
        "reference_type": "image_refer",
        "element_image_list": {
            "frontal_image": IMAGE,
            "refer_images": [{"image_url": IMG}, {"image_url": IMAGE}],
        },
        "tag_list": [{"tag_id": "o_103"}],
    }
    out.update(changes)
    return out


async def ready(api: Api, path: str, task_id: str) -> dict[str, Any]:
    for _ in range(200):  # bounded: 200 looks, 10 s at most
        _, answer = await call(api, "GET", f"{path}/{task_id}")
        if answer["data"]["task_status"] == "succeed":
            return answer["data"]  # type: ignore[no-any-return]
        await asyncio.sleep(0.05)
    raise AssertionError(f"{task_id} never became ready")


async def test_an_element_is_made_listed_used_and_deleted(start_emulator: StartEmulator) -> None:
    _, api = await start_emulator(asset_seconds=0.1)
    status, answer = await call(api, "POST", ELEMENTS, element_body(external_task_id="e-1"))
    assert status == 200, answer
    created = answer["data"]
    assert created["task_status"] == "submitted"
    assert created["task_info"] == {"external_task_id": "e-1"}
    task = await ready(api, ELEMENTS, "e-1")  # by the external id too
    (element,) = task["task_result"]["elements"]
    assert element["status"] == "succeed"
    assert isinstance(element["element_id"], int)
    assert element["element_image_list"]["refer_images"][0] == {"image_url": IMG}
    _, listed = await call(api, "GET", f"{ELEMENTS}?pageNum=1&pageSize=10")
    assert [t["task_id"] for t in listed["data"]] == [created["task_id"]]
    ident = str(element["element_id"])

    video = body(items(("first_frame", IMG), ("element", ident), prompt="@element_1 runs"))
    status, answer = await call(api, "POST", "/image-to-video/kling-3.0", video)
    assert status == 200, answer

    status, answer = await call(
        api, "POST", "/v1/general/delete-advanced-elements", {"element_id": ident}
    )
    assert status == 200
    assert answer["data"]["task_status"] == "succeed"
    task = await ready(api, ELEMENTS, created["task_id"])
    assert task["task_result"]["elements"][0]["status"] == "deleted"
    status, answer = await call(api, "POST", "/image-to-video/kling-3.0", video)
    assert (status, answer["code"]) == (400, 1201)
    assert f"element {ident} has been deleted" in answer["message"]


@pytest.mark.parametrize(
    ("changes", "words"),
    [
        ({"element_name": "x" * 21}, "element_name: 21 characters"),
        ({"element_description": None}, "element_description: is required"),
        ({"reference_type": "audio_refer"}, "reference_type"),
        (
            {"element_image_list": {"frontal_image": IMG, "refer_images": []}},
            "refer_images: expected 1 to 3",
        ),
        (
            {
                "element_image_list": {
                    "frontal_image": IMG,
                    "refer_images": [{"image_url": IMG}] * 4,
                }
            },
            "refer_images: expected 1 to 3",
        ),
        ({"reference_type": "video_refer"}, "refer_videos: exactly 1 video"),
        ({"tag_list": [{"tag_id": "o_1"}]}, "tag_list[0].tag_id"),
    ],
)
async def test_bad_element_creates_are_refused(
    start_emulator: StartEmulator, changes: dict[str, Any], words: str
) -> None:
    _, api = await start_emulator()
    status, answer = await call(api, "POST", ELEMENTS, element_body(**changes))
    assert (status, answer["code"]) == (400, 1201)
    assert words in answer["message"]


async def test_unknown_element_ids_pass_unless_strict(start_emulator: StartEmulator) -> None:
    video = body(items(("first_frame", IMG), ("element", "123456"), prompt="@element_1 runs"))
    _, lenient = await start_emulator()
    status, _ = await call(lenient, "POST", "/image-to-video/kling-3.0", video)
    assert status == 200
    _, strict = await start_emulator(strict_elements=True)
    status, answer = await call(strict, "POST", "/image-to-video/kling-3.0", video)
    assert status == 400
    assert "element 123456 does not exist" in answer["message"]


async def test_voices_and_presets(start_emulator: StartEmulator) -> None:
    _, api = await start_emulator(asset_seconds=0.1)
    example = {  # the vendor page's own request: empty strings stand for absent fields
        "video_id": "",
        "voice_url": "https://p2-kling.klingai.com/kcdn/out.mp3",
        "voice_name": "Custom Voice",
        "callback_url": "",
    }
    status, answer = await call(api, "POST", VOICES, example)
    assert status == 200, answer
    task = await ready(api, VOICES, answer["data"]["task_id"])
    (voice,) = task["task_result"]["voices"]
    assert voice["voice_name"] == "Custom Voice"
    status, answer = await call(api, "POST", VOICES, {"voice_name": "v"})
    assert status == 400
    assert "voice_url or video_id" in answer["message"]
    _, answer = await call(api, "GET", f"{VOICES}?pageSize=1001")
    assert answer["code"] == 1201
    assert "pageSize" in answer["message"]
    _, answer = await call(api, "GET", "/v1/general/presets-voices?pageSize=1000")
    assert answer["data"]
    assert all(v["owned_by"] == "kling" for t in answer["data"] for v in t["task_result"]["voices"])
    _, answer = await call(api, "GET", "/v1/general/advanced-presets-elements")
    preset = answer["data"][0]["task_result"]["elements"][0]["element_id"]
    status, answer = await call(
        api, "POST", "/v1/general/delete-advanced-elements", {"element_id": str(preset)}
    )
    assert status == 400
    assert "only custom elements" in answer["message"]
    status, answer = await call(
        api, "POST", "/v1/general/delete-voices", {"voice_id": voice["voice_id"]}
    )
    assert status == 200
