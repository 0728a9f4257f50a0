"""Golden: every create-task example of the vendor's pages, sent exactly as documented (its
method, path and body), is accepted (code 0) and ends succeeded with results of the right type:
videos with a sound track when the example asks for sound, as long as asked on omni video and
motion control; images decodable, ``n`` of them, at the asked aspect ratio. The example URLs
(example.com-like hosts) are taken as references, never fetched."""

from __future__ import annotations

from typing import Any

from .._helpers import StartEmulator
from ._client import call, fetch, image_size, video_facts, wait_image, wait_new
from ._vendor import create_examples

EXPECTED_CREATES = 24


def _wants_audio(example: dict[str, Any]) -> bool:
    body, path = example["body"], example["path"]
    settings = body.get("settings") or {}
    if "kling-3.0-turbo" in path:  # the model always generates sound
        return True
    default = "original" if path.startswith("/motion-control/") else "off"
    voices = any(item.get("type") == "voice" for item in body.get("contents") or [])
    return settings.get("audio", default) != "off" or voices


def _seconds(example: dict[str, Any]) -> int | None:
    """The length the result must have (omni video, motion control), else None."""
    path = example["path"]
    if path.startswith("/motion-control/"):
        return 5  # no duration setting: the emulator's stand-in for the motion video's length
    if path.startswith("/omni-video/"):
        return int((example["body"].get("settings") or {}).get("duration", 5))
    return None


async def _check_video(api: Any, name: str, example: dict[str, Any], task_id: str) -> None:
    task = await wait_new(api, task_id)
    assert task["status"] == "succeeded", (name, task)
    (output,) = task["outputs"]
    assert output["type"] == "video", (name, output)
    seconds, audio, _ = video_facts(await fetch(api, output["url"]))
    assert audio == _wants_audio(example), (name, audio)
    wanted = _seconds(example)
    if wanted is not None:
        assert abs(seconds - wanted) < 0.2, (name, seconds, wanted)


async def _check_images(api: Any, name: str, example: dict[str, Any], task_id: str) -> None:
    task = await wait_image(api, task_id)
    assert task["task_status"] == "succeed", (name, task)
    images = task["task_result"]["images"]
    assert [image["index"] for image in images] == list(range(example["body"].get("n", 1)))
    width, height = (int(x) for x in example["body"].get("aspect_ratio", "16:9").split(":"))
    for image in images:
        w, h = image_size(await fetch(api, image["url"]))
        assert abs(w / h - width / height) < 0.01, (name, w, h)


async def test_every_vendor_create_example_is_served(start_emulator: StartEmulator) -> None:
    examples = create_examples()
    assert len(examples) >= EXPECTED_CREATES, [name for name, _ in examples]
    _emu, api = await start_emulator(duration=(0.05, 0.1))
    refused = []
    created = []
    for name, example in examples:
        status, answer = await call(api, example["method"], example["path"], example["body"])
        if (status, answer["code"]) != (200, 0):
            refused.append((name, answer.get("message")))
        else:
            created.append((name, example, answer["data"]))
    assert refused == [], refused
    for name, example, data in created:
        if example["path"].startswith("/v1/images/"):
            await _check_images(api, name, example, data["task_id"])
        else:
            await _check_video(api, name, example, data["id"])
