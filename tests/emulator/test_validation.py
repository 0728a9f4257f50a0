"""The emulator's request rules over real HTTP: codes, and messages that name the field."""

from __future__ import annotations

from typing import Any

import pytest

from .._helpers import Api, b64, png

CAM = {"type": "simple", "config": {"zoom": 5}}
MASK = b64(png(640, 360, (255, 255, 255)))
TRAJ = [{"x": 10, "y": 10}, {"x": 50, "y": 60}]
BIG_PNG = b64(png(300, 300) + b"\0" * (10 * 1024 * 1024))

# (id, body changes, expected HTTP status, code, words the message must contain)
CASES: list[tuple[str, dict[str, Any], int, int, tuple[str, ...]]] = [
    ("unknown-model", {"model_name": "kling-v9"}, 404, 1203, ("model_name", "kling-v9")),
    ("prompt-too-long", {"prompt": "x" * 2501}, 400, 1201, ("prompt", "2501", "2500")),
    ("negative-too-long", {"negative_prompt": "x" * 2501}, 400, 1201, ("negative_prompt",)),
    ("prompt-not-string", {"prompt": 5}, 400, 1201, ("prompt", "string")),
    ("cfg-on-v2", {"cfg_scale": 0.5}, 400, 1201, ("cfg_scale", "kling-v2-6")),
    (
        "cfg-out-of-range",
        {"model_name": "kling-v1-6", "cfg_scale": 1.5},
        400,
        1201,
        ("cfg_scale", "1.5", "0 to 1"),
    ),
    ("bad-mode", {"mode": "ultra"}, 400, 1201, ("mode", "ultra")),
    ("duration-int", {"duration": 5}, 400, 1201, ("duration", "5", "string")),
    ("duration-7", {"duration": "7"}, 400, 1201, ("duration", "'7'")),
    ("no-image", {"image": None}, 400, 1201, ("image", "required")),
    (
        "tail-alone",
        {"mode": "pro", "image": None, "image_tail": b64(png())},
        400,
        1201,
        ("image", "required", "alone"),
    ),
    (
        "data-prefix",
        {"image": "data:image/png;base64," + b64(png())},
        400,
        1201,
        ("image", "data:"),
    ),
    ("not-base64", {"image": "@@@not base64@@@"}, 400, 1201, ("image", "base64")),
    ("not-an-image", {"image": b64(b"GIF89a not really")}, 400, 1201, ("image", "image")),
    ("webp", {"image": b64(png(fmt="WEBP"))}, 400, 1201, ("image", "WEBP")),
    ("too-small", {"image": b64(png(200, 400))}, 400, 1201, ("image", "200x400", "300")),
    ("too-wide", {"image": b64(png(1600, 600))}, 400, 1201, ("image", "aspect", "2.5")),
    ("too-big", {"image": BIG_PNG}, 400, 1201, ("image", "10 MB")),
    (
        "camera-on-v2-6",
        {"camera_control": CAM},
        400,
        1201,
        ("camera_control", "kling-v2-6", "no live model"),
    ),
    (
        "camera-on-v3",
        {"model_name": "kling-v3", "mode": "pro", "camera_control": CAM},
        400,
        1201,
        ("camera_control", "kling-v3", "no live model"),
    ),
    (
        "dynamic-masks-on-v2-5-turbo",
        {"model_name": "kling-v2-5-turbo", "dynamic_masks": [{"mask": MASK, "trajectories": TRAJ}]},
        400,
        1201,
        ("dynamic_masks", "kling-v2-5-turbo", "motion brush"),
    ),
    (
        "camera-two-axes-retired",
        {
            "model_name": "kling-v1-5",
            "mode": "pro",
            "camera_control": {"type": "simple", "config": {"zoom": 5, "pan": 2}},
        },
        400,
        1201,
        ("camera_control.config", "exactly one", "pan, zoom"),
    ),
    (
        "camera-out-of-range-retired",
        {
            "model_name": "kling-v1-5",
            "mode": "pro",
            "camera_control": {"type": "simple", "config": {"zoom": 11}},
        },
        400,
        1201,
        ("camera_control.config.zoom", "11", "-10 to 10"),
    ),
    (
        "tail-std-v2-5-turbo",
        {"model_name": "kling-v2-5-turbo", "mode": "std", "image_tail": b64(png())},
        400,
        1201,
        ("kling-v2-5-turbo", "image_tail", "'pro'"),
    ),
    (
        "tail-std-v2-6",
        {"mode": "std", "image_tail": b64(png())},
        400,
        1201,
        ("kling-v2-6", "image_tail", "'pro'"),
    ),
    ("brush-on-v2-6", {"static_mask": MASK}, 400, 1201, ("static_mask", "kling-v2-6", "brush")),
    (
        "too-many-masks",
        {"model_name": "kling-v1", "dynamic_masks": [{"mask": MASK, "trajectories": TRAJ}] * 7},
        400,
        1201,
        ("dynamic_masks", "1 to 6"),
    ),
    (
        "short-trajectory",
        {"model_name": "kling-v1", "dynamic_masks": [{"mask": MASK, "trajectories": TRAJ[:1]}]},
        400,
        1201,
        ("dynamic_masks[0].trajectories", "2 to 77"),
    ),
    (
        "float-point",
        {
            "model_name": "kling-v1",
            "dynamic_masks": [
                {"mask": MASK, "trajectories": [{"x": 1.5, "y": 2}, {"x": 3, "y": 4}]}
            ],
        },
        400,
        1201,
        ("dynamic_masks[0].trajectories[0].x", "1.5"),
    ),
    (
        "voice-without-sound",
        {"mode": "pro", "voice_list": [{"voice_id": "v1"}]},
        400,
        1201,
        ("voice_list", "sound"),
    ),
    (
        "three-voices",
        {"mode": "pro", "sound": "on", "voice_list": [{"voice_id": "v"}] * 3},
        400,
        1201,
        ("voice_list", "1 to 2"),
    ),
    ("sound-on-std", {"mode": "std", "sound": "on"}, 400, 1201, ("kling-v2-6", "sound", "pro")),
    (
        "sound-on-v2-5-turbo",
        {"model_name": "kling-v2-5-turbo", "mode": "pro", "sound": "on"},
        400,
        1201,
        ("sound", "kling-v2-5-turbo", "native audio"),
    ),
    (
        "voices-on-std",
        {"mode": "std", "sound": "on", "voice_list": [{"voice_id": "v"}]},
        400,
        1201,
        ("kling-v2-6", "'pro'"),
    ),
    (
        "voices-with-tail",
        {
            "mode": "pro",
            "sound": "on",
            "voice_list": [{"voice_id": "v"}],
            "image_tail": b64(png()),
        },
        400,
        1201,
        ("image_tail", "voice_list"),
    ),
    ("4k-on-v2-6", {"mode": "4k"}, 400, 1201, ("mode", "kling-v2-6", "'4k'")),
    ("duration-3-on-v2-6", {"duration": "3"}, 400, 1201, ("duration", "kling-v2-6", "'3'")),
    (
        "new-name-on-legacy",
        {"model_name": "kling-3.0"},
        404,
        1203,
        ("model_name", "kling-3.0", "new API"),
    ),
    (
        "turbo-on-legacy",
        {"model_name": "kling-3.0-turbo"},
        404,
        1203,
        ("model_name", "kling-3.0-turbo"),
    ),
    (
        "sound-with-tail",
        {"mode": "pro", "sound": "on", "image_tail": b64(png())},
        400,
        1201,
        ("kling-v2-6", "image_tail"),
    ),
    ("bad-sound", {"sound": "loud"}, 400, 1201, ("sound", "loud")),
    ("bad-watermark", {"watermark_info": {"enabled": "yes"}}, 400, 1201, ("watermark_info",)),
    ("bad-callback", {"callback_url": "ftp://x"}, 400, 1201, ("callback_url", "ftp://x")),
    ("blank-external-id", {"external_task_id": "  "}, 400, 1201, ("external_task_id", "blank")),
]


@pytest.mark.parametrize(
    ("changes", "status", "code", "words"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
async def test_image2video_rule(
    emu_api: tuple[Any, Api],
    changes: dict[str, Any],
    status: int,
    code: int,
    words: tuple[str, ...],
) -> None:
    emu, api = emu_api
    body = {"prompt": "a cat", **changes}
    body = {k: v for k, v in body.items() if v is not None}
    if "image" in changes and changes["image"] is None:
        body["image"] = None  # explicit null: no start frame
    answer_status, answer = await api.create(**body)
    assert (answer_status, answer["code"]) == (status, code), answer
    for word in words:
        assert word in answer["message"], (word, answer["message"])
    assert emu.stats()["creates"] == 0, "a rejected create must not create a task"


SHOTS = [
    {"index": 1, "prompt": "a door opens", "duration": "4"},
    {"index": 2, "prompt": "a cat walks in", "duration": 6},
]
ELEMENTS = [{"element_id": 101}, {"element_id": "202"}, {"element_id": 303}]

# kling-v3 on the legacy wire: 3..15 s, std/pro/4k, end frame and sound in every mode,
# multi-shot (multi_shot + shot_type + multi_prompt), elements <= 3 (not with voices).
V3_CASES: list[tuple[str, dict[str, Any], tuple[str, ...]]] = [
    ("duration-16", {"duration": "16"}, ("duration", "'16'", "'3' to '15'")),
    ("duration-2", {"duration": "2"}, ("duration", "'2'")),
    ("voices", {"sound": "on", "voice_list": [{"voice_id": "v"}]}, ("voice_list", "kling-v3")),
    ("cfg-scale", {"cfg_scale": 0.5}, ("cfg_scale", "kling-v3")),
    (
        "shots-sum",
        {"multi_shot": True, "shot_type": "customize", "multi_prompt": SHOTS, "duration": "5"},
        ("multi_prompt", "sum to 10", "'5'"),
    ),
    (
        "seven-shots",
        {
            "multi_shot": True,
            "shot_type": "customize",
            "duration": "7",
            "multi_prompt": [
                {"index": i, "prompt": f"shot {i}", "duration": 1} for i in range(1, 8)
            ],
        },
        ("multi_prompt", "1 to 6", "7"),
    ),
    (
        "shot-too-short",
        {
            "multi_shot": True,
            "shot_type": "customize",
            "multi_prompt": [{"index": 1, "prompt": "x", "duration": 0}],
        },
        ("multi_prompt[0].duration", "at least 1"),
    ),
    (
        "shot-prompt-long",
        {
            "multi_shot": True,
            "shot_type": "customize",
            "multi_prompt": [{"index": 1, "prompt": "x" * 513, "duration": 5}],
        },
        ("multi_prompt[0].prompt", "513", "512"),
    ),
    (
        "shot-blank-prompt",
        {
            "multi_shot": True,
            "shot_type": "customize",
            "multi_prompt": [{"index": 1, "prompt": " ", "duration": 5}],
        },
        ("multi_prompt[0].prompt", "non-blank"),
    ),
    (
        "shot-index-twice",
        {
            "multi_shot": True,
            "shot_type": "customize",
            "multi_prompt": [
                {"index": 1, "prompt": "a", "duration": 2},
                {"index": 1, "prompt": "b", "duration": 3},
            ],
        },
        ("multi_prompt", "indexes", "each once"),
    ),
    ("prompts-without-multi-shot", {"multi_prompt": SHOTS}, ("multi_prompt", "multi_shot")),
    ("multi-shot-without-type", {"multi_shot": True}, ("shot_type", "required")),
    (
        "intelligence-with-prompts",
        {"multi_shot": True, "shot_type": "intelligence", "multi_prompt": SHOTS},
        ("multi_prompt", "intelligence"),
    ),
    ("bad-shot-type", {"multi_shot": True, "shot_type": "auto"}, ("shot_type", "'auto'")),
    ("four-elements", {"element_list": [*ELEMENTS, {"element_id": 4}]}, ("element_list", "1 to 3")),
    (
        "element-not-numeric",
        {"element_list": [{"element_id": "abc"}]},
        ("element_list[0].element_id", "numeric"),
    ),
    (
        "elements-with-voices",
        {"element_list": ELEMENTS[:1], "sound": "on", "voice_list": [{"voice_id": "v"}]},
        ("element_list and voice_list", "not together"),
    ),
]


@pytest.mark.parametrize(
    ("changes", "words"), [c[1:] for c in V3_CASES], ids=[c[0] for c in V3_CASES]
)
async def test_kling_v3_rules(
    emu_api: tuple[Any, Api], changes: dict[str, Any], words: tuple[str, ...]
) -> None:
    emu, api = emu_api
    status, answer = await api.create(model_name="kling-v3", prompt="a cat", **changes)
    assert (status, answer["code"]) == (400, 1201), answer
    for word in words:
        assert word in answer["message"], (word, answer["message"])
    assert emu.stats()["creates"] == 0


@pytest.mark.parametrize(
    "body",
    [
        {"model_name": "kling-v3", "duration": "3"},
        {"model_name": "kling-v3", "duration": "15", "mode": "4k", "sound": "on"},
        {"model_name": "kling-v3", "mode": "std", "image_tail": b64(png()), "sound": "on"},
        {
            "model_name": "kling-v3",
            "mode": "4k",
            "duration": "10",
            "multi_shot": True,
            "shot_type": "customize",
            "multi_prompt": SHOTS,
            "image_tail": b64(png()),
        },
        {"model_name": "kling-v3", "multi_shot": True, "shot_type": "intelligence"},
        {"model_name": "kling-v3", "element_list": ELEMENTS},
        {"model_name": "kling-v3", "multi_shot": False},
        {"model_name": "kling-v2-master", "mode": "pro", "duration": "10"},
        {
            "model_name": "kling-v2-6",
            "mode": "pro",
            "sound": "on",
            "voice_list": [{"voice_id": "a"}, {"voice_id": "b"}],
            "prompt": "<<<voice_1>>> hi",
        },
        {"model_name": "kling-v2-6", "mode": "pro", "image_tail": b64(png()), "sound": "off"},
        {"model_name": "kling-v2-5-turbo", "mode": "pro", "image_tail": b64(png())},
        {
            "model_name": "kling-v2-6",
            "negative_prompt": "blur",
            "watermark_info": {"enabled": True},
        },
        {"image": "https://example.com/cat.png", "unknown_field": 1},
    ],
    ids=[
        "v3-3s",
        "v3-4k-15s-sound",
        "v3-tail-std-sound",
        "v3-multi-shot-with-tail",
        "v3-intelligence",
        "v3-three-elements",
        "v3-multi-shot-false",
        "master-mode-ignored",
        "v2-6-voices",
        "v2-6-tail-silent",
        "v2-5-turbo-tail",
        "negative-and-watermark",
        "url-and-unknown-field",
    ],
)
async def test_valid_bodies_are_accepted(emu_api: tuple[Any, Api], body: dict[str, Any]) -> None:
    emu, api = emu_api
    status, answer = await api.create(**body)
    assert (status, answer["code"]) == (200, 0), answer
    assert answer["data"]["task_status"] == "submitted"
    assert emu.stats()["creates"] == 1


async def test_body_must_be_a_json_object(emu_api: tuple[Any, Api]) -> None:
    _, api = emu_api
    status, body, _ = await api.call("POST", "/v1/videos/image2video", data=b"{not json")
    assert (status, body["code"]) == (400, 1200)
    status, body, _ = await api.call("POST", "/v1/videos/image2video", json=[1, 2])
    assert (status, body["code"]) == (400, 1200)


async def test_default_model_is_the_legacy_default(emu_api: tuple[Any, Api]) -> None:
    """No model_name: kling-v1, the legacy default, now retired: accepted, then it fails."""
    emu, api = emu_api
    assert emu.config.default_model == "kling-v1"
    status, body, _ = await api.call(
        "POST", "/v1/videos/image2video", json={"image": b64(png()), "cfg_scale": 0.2}
    )
    assert (status, body["code"]) == (200, 0)
    task = await api.wait(body["data"]["task_id"])
    assert task["task_status"] == "failed"
    assert task["task_status_msg"] == (
        "The model 'kling-v1' has been discontinued and is no longer available."
    )


@pytest.mark.parametrize(
    ("changes", "code", "words"),
    [
        ({"prompt": None}, 1201, ("prompt", "required")),
        ({"prompt": "   "}, 1201, ("prompt", "blank")),
        ({"aspect_ratio": "4:3"}, 1201, ("aspect_ratio", "4:3")),
        ({"model_name": "kling-x"}, 1203, ("model_name",)),
        ({"camera_control": {"type": "forward_up"}}, 1201, ("camera_control", "kling-v2-6")),
        ({"model_name": "kling-v3", "image_tail": b64(png())}, 1201, ("image_tail", "text to")),
        (
            {"model_name": "kling-v3", "element_list": [{"element_id": 1}]},
            1201,
            ("element_list", "text to video"),
        ),
        (
            {"mode": "pro", "sound": "on", "voice_list": [{"voice_id": "v"}]},
            1201,
            ("voice_list", "kling-v2-6", "text to video"),
        ),
        ({"model_name": "kling-v2-5-turbo", "mode": "pro", "sound": "on"}, 1201, ("sound",)),
    ],
    ids=[
        "no-prompt",
        "blank-prompt",
        "aspect",
        "unknown-model",
        "camera",
        "tail",
        "elements",
        "voices",
        "sound-2-5-turbo",
    ],
)
async def test_text2video_rules(
    emu_api: tuple[Any, Api], changes: dict[str, Any], code: int, words: tuple[str, ...]
) -> None:
    _, api = emu_api
    body = {k: v for k, v in {"prompt": "a city at night", **changes}.items() if v is not None}
    _status, answer = await api.create("text2video", **body)
    assert answer["code"] == code, answer
    for word in words:
        assert word in answer["message"]


@pytest.mark.parametrize(
    "body",
    [
        {"model_name": "kling-v3", "mode": "4k", "duration": "15", "sound": "on"},
        {
            "model_name": "kling-v3",
            "multi_shot": True,
            "shot_type": "customize",
            "multi_prompt": SHOTS,
            "duration": "10",
            "prompt": None,
        },
        {"model_name": "kling-v2-6", "mode": "pro", "sound": "on", "aspect_ratio": "9:16"},
        {"model_name": "kling-v2-5-turbo", "mode": "pro", "duration": "10"},
    ],
    ids=["v3-4k-sound", "v3-shots-without-prompt", "v2-6-sound", "v2-5-turbo"],
)
async def test_text2video_valid_bodies(emu_api: tuple[Any, Api], body: dict[str, Any]) -> None:
    _, api = emu_api
    body = {k: v for k, v in {"prompt": "a forest", **body}.items() if v is not None}
    status, answer = await api.create("text2video", **body)
    assert (status, answer["code"]) == (200, 0), answer
