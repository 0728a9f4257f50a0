"""The emulator's request rules over real HTTP: codes, and messages that name the field."""

from __future__ import annotations

from typing import Any

import pytest

from ._helpers import Api, b64, png

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
    ("duration-int", {"duration": 5}, 400, 1201, ("duration", "5")),
    ("duration-7", {"duration": "7"}, 400, 1201, ("duration", "'7'")),
    ("no-image", {"image": None}, 400, 1201, ("image", "required")),
    (
        "tail-alone-v2-1",
        {"model_name": "kling-v2-1", "mode": "pro", "image": None, "image_tail": b64(png())},
        400,
        1201,
        ("image", "kling-v2-1"),
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
    ("camera-on-v2-6", {"camera_control": CAM}, 400, 1201, ("kling-v2-6", "camera_control")),
    (
        "camera-two-axes",
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
        "camera-none-set",
        {
            "model_name": "kling-v1-5",
            "mode": "pro",
            "camera_control": {"type": "simple", "config": {}},
        },
        400,
        1201,
        ("exactly one", "none"),
    ),
    (
        "camera-out-of-range",
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
        "camera-bad-type",
        {"model_name": "kling-v1-5", "mode": "pro", "camera_control": {"type": "spin"}},
        400,
        1201,
        ("camera_control.type", "spin"),
    ),
    (
        "camera-config-on-named",
        {
            "model_name": "kling-v1-5",
            "mode": "pro",
            "camera_control": {"type": "down_back", "config": {"zoom": 1}},
        },
        400,
        1201,
        ("camera_control.config", "down_back"),
    ),
    (
        "camera-named-on-i2v",
        {"model_name": "kling-v1-5", "mode": "pro", "camera_control": {"type": "down_back"}},
        400,
        1201,
        ("camera_control.type", "simple"),
    ),
    (
        "camera-std-v1-5",
        {"model_name": "kling-v1-5", "mode": "std", "camera_control": CAM},
        400,
        1201,
        ("kling-v1-5", "camera_control", "pro 5 s"),
    ),
    (
        "tail-and-camera",
        {
            "model_name": "kling-v1-5",
            "mode": "pro",
            "image_tail": b64(png()),
            "camera_control": CAM,
        },
        400,
        1201,
        ("mutually exclusive", "image_tail"),
    ),
    (
        "tail-and-mask",
        {"model_name": "kling-v1", "mode": "pro", "image_tail": b64(png()), "static_mask": MASK},
        400,
        1201,
        ("mutually exclusive", "static_mask"),
    ),
    (
        "tail-std-v2-1",
        {"model_name": "kling-v2-1", "mode": "std", "image_tail": b64(png())},
        400,
        1201,
        ("kling-v2-1", "image_tail", "pro"),
    ),
    ("brush-on-v2-6", {"static_mask": MASK}, 400, 1201, ("kling-v2-6", "motion brush")),
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
        "sound-on-v2-1",
        {"model_name": "kling-v2-1", "sound": "on"},
        400,
        1201,
        ("kling-v2-1", "sound"),
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


@pytest.mark.parametrize(
    "body",
    [
        {"model_name": "kling-v1-5", "mode": "pro", "camera_control": CAM},
        {
            "model_name": "kling-v1-5",
            "mode": "pro",
            "duration": "10",
            "image": None,
            "image_tail": b64(png()),
        },
        {
            "model_name": "kling-v1",
            "mode": "std",
            "static_mask": MASK,
            "dynamic_masks": [{"mask": MASK, "trajectories": TRAJ}],
        },
        {"model_name": "kling-v2-master", "mode": "pro", "duration": "10"},
        {
            "model_name": "kling-v2-6",
            "mode": "pro",
            "sound": "on",
            "voice_list": [{"voice_id": "a"}, {"voice_id": "b"}],
            "prompt": "<<<voice_1>>> hi",
        },
        {
            "model_name": "kling-v1-6",
            "cfg_scale": 0.3,
            "negative_prompt": "blur",
            "watermark_info": {"enabled": True},
        },
        {"model_name": "kling-v3", "mode": "pro", "image_tail": b64(png())},
        {"image": "https://example.com/cat.png", "unknown_field": 1},
    ],
    ids=[
        "camera",
        "tail-alone",
        "brush",
        "master-mode-ignored",
        "voices",
        "cfg-v1-6",
        "v3-tail",
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
    """No model_name: kling-v1, whose capabilities then apply (it takes cfg_scale)."""
    _, api = emu_api
    status, body, _ = await api.call(
        "POST", "/v1/videos/image2video", json={"image": b64(png()), "cfg_scale": 0.2}
    )
    assert (status, body["code"]) == (200, 0)


@pytest.mark.parametrize(
    ("changes", "code", "words"),
    [
        ({"prompt": None}, 1201, ("prompt", "required")),
        ({"prompt": "   "}, 1201, ("prompt", "blank")),
        ({"aspect_ratio": "4:3"}, 1201, ("aspect_ratio", "4:3")),
        ({"model_name": "kling-x"}, 1203, ("model_name",)),
        (
            {"camera_control": {"type": "simple", "config": {"zoom": 1, "roll": 1}}},
            1201,
            ("exactly one",),
        ),
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


async def test_text2video_accepts_named_camera_moves(emu_api: tuple[Any, Api]) -> None:
    _, api = emu_api
    status, answer = await api.create(
        "text2video", prompt="a forest", aspect_ratio="9:16", camera_control={"type": "forward_up"}
    )
    assert (status, answer["code"]) == (200, 0)
