"""Client-side validation: field, value and rule named, nothing sent; and the SDK's rules agree
with the emulator's independent ones."""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any

import pytest

import kling_async as kling
from kling_async.validation import CAPABILITIES, check_fields

from ._helpers import StartEmulator, b64, fast_client, png

CAM = kling.CameraControl.simple(zoom=-5)
MASK = png(640, 360, (255, 255, 255))
STROKE = kling.DynamicMask(MASK, [kling.Point(1, 1), kling.Point(5, 5)])


def _corrupt_file(tmp: Path) -> Path:
    path = tmp / "corrupt.png"
    path.write_bytes(png()[:200])  # a PNG cut short
    return path


def _gif_file(tmp: Path) -> Path:
    from PIL import Image

    path = tmp / "a.gif"
    Image.new("RGB", (400, 400)).save(path)
    return path


#: (id, request fields, field named, words of the rule). A callable value is given tmp_path.
BAD_CASES: list[tuple[str, dict[str, Any], str, str]] = [
    ("missing-file", {"image": "nope/cat.png"}, "image", "no such file"),
    ("corrupt", {"image": _corrupt_file}, "image", "not a readable"),
    ("gif", {"image": _gif_file}, "image", "format GIF"),
    ("tiny", {"image": png(200, 500)}, "image", "at least 300"),
    ("wide", {"image": png(2000, 700)}, "image", "aspect ratio"),
    ("huge", {"image": png() + b"\0" * (10 * 1024 * 1024)}, "image", "10 MB"),
    ("bad-base64", {"image": "x" * 100 + "!"}, "image", "base64"),
    ("data-uri-not-b64", {"image": "data:image/png,abc"}, "image", "base64"),
    ("wrong-type", {"image": 12345}, "image", "expected a path"),
    ("no-image", {"image": None}, "image", "required"),
    (
        "tail-alone-v2-6",
        {"image": None, "image_tail": png(), "mode": "pro"},
        "image",
        "start frame",
    ),
    ("long-prompt", {"prompt": "p" * 2501}, "prompt", "2500"),
    ("long-negative", {"negative_prompt": "p" * 2501}, "negative_prompt", "2500"),
    ("mode", {"mode": "fast"}, "mode", "'std' or 'pro'"),
    ("duration", {"duration": 7}, "duration", "5 or 10"),
    ("cfg-v2", {"cfg_scale": 0.5}, "cfg_scale", "kling-v2"),
    ("cfg-range", {"model": "kling-v1-6", "cfg_scale": 2}, "cfg_scale", "0 to 1"),
    ("unknown-model", {"model": "kling-v9"}, "model", "allow_unknown_models"),
    ("camera-model", {"camera_control": CAM}, "model", "camera_control"),
    ("camera-std", {"model": "kling-v1-5", "camera_control": CAM}, "mode/duration", "pro 5 s"),
    (
        "camera-named",
        {"model": "kling-v1-5", "mode": "pro", "camera_control": kling.CameraControl("down_back")},
        "camera_control.type",
        "only 'simple'",
    ),
    (
        "camera-raw-two-axes",
        {
            "model": "kling-v1-5",
            "mode": "pro",
            "camera_control": kling.CameraControl("simple", kling.CameraConfig(zoom=1, roll=1)),
        },
        "camera_control.config",
        "exactly one",
    ),
    (
        "exclusive",
        {"model": "kling-v1-5", "mode": "pro", "image_tail": png(), "camera_control": CAM},
        "image_tail + camera_control",
        "mutually exclusive",
    ),
    ("brush-v2-6", {"static_mask": MASK}, "model", "motion brush"),
    (
        "seven-masks",
        {"model": "kling-v1", "dynamic_masks": [STROKE] * 7},
        "dynamic_masks",
        "at most 6",
    ),
    (
        "one-point",
        {"model": "kling-v1", "dynamic_masks": [kling.DynamicMask(MASK, [kling.Point(1, 1)])]},
        "dynamic_masks[0].trajectories",
        "2 to 77",
    ),
    (
        "negative-point",
        {
            "model": "kling-v1",
            "dynamic_masks": [kling.DynamicMask(MASK, [kling.Point(1, 1), kling.Point(-1, 2)])],
        },
        "dynamic_masks[0].trajectories[1].x",
        "≥ 0",
    ),
    (
        "mask-aspect",
        {"model": "kling-v1", "static_mask": png(400, 400)},
        "static_mask",
        "aspect ratio",
    ),
    (
        "mask-sizes",
        {
            "model": "kling-v1",
            "static_mask": MASK,
            "dynamic_masks": [
                kling.DynamicMask(png(320, 180), [kling.Point(1, 1), kling.Point(2, 2)])
            ],
        },
        "masks",
        "one resolution",
    ),
    ("voices-no-sound", {"mode": "pro", "voices": ["v1"]}, "voices", "sound=True"),
    (
        "three-voices",
        {"mode": "pro", "sound": True, "voices": ["a", "b", "c"]},
        "voices",
        "at most 2",
    ),
    ("sound-std", {"sound": True}, "mode/duration", "pro"),
    ("sound-v2-1", {"model": "kling-v2-1", "sound": True}, "model", "sound"),
    ("sound-tail", {"mode": "pro", "sound": True, "image_tail": png()}, "sound", "silent"),
    ("callback", {"callback_url": "ftp://x"}, "callback_url", "http(s)"),
    ("blank-external", {"external_task_id": " "}, "external_task_id", "non-blank"),
    ("watermark", {"watermark": "yes"}, "watermark", "True, False or None"),
]


@pytest.mark.parametrize(
    ("fields", "field", "words"), [c[1:] for c in BAD_CASES], ids=[c[0] for c in BAD_CASES]
)
async def test_bad_requests_name_field_value_and_rule(
    start_emulator: StartEmulator, tmp_path: Path, fields: dict[str, Any], field: str, words: str
) -> None:
    emu, _ = await start_emulator()
    fields = {"prompt": "p", "image": png(), **fields}
    fields = {k: v(tmp_path) if callable(v) else v for k, v in fields.items()}
    async with fast_client(emu) as client:
        with pytest.raises(kling.ValidationError) as caught:
            await client.image_to_video.create(**fields)
    error = caught.value
    assert error.field == field, str(error)
    assert words in error.rule, str(error)
    assert str(error).startswith(f"{field}: ")
    assert emu.stats()["requests"] == 0, "nothing may be sent for an invalid request"


def test_text_to_video_rules() -> None:
    for fields, field in [
        ({"prompt": ""}, "prompt"),
        ({"prompt": "p", "aspect_ratio": "4:3"}, "aspect_ratio"),
        ({"prompt": "p", "mode": "pro", "voices": ["a"]}, "voices"),
    ]:
        with pytest.raises(kling.ValidationError) as caught:
            check_fields(kling.TextToVideo(**fields))
        assert caught.value.field == field
    check_fields(kling.TextToVideo(prompt="p", camera_control=kling.CameraControl("forward_up")))


def test_camera_helpers() -> None:
    assert kling.CameraControl.preset("zoom_in").config == kling.CameraConfig(zoom=-5)
    assert kling.CameraControl.preset("pan_left", 3).config == kling.CameraConfig(tilt=-3)
    assert kling.CameraControl.preset("tilt_up").config == kling.CameraConfig(pan=5)
    assert kling.CameraControl.preset("down_back") == kling.CameraControl("down_back")
    with pytest.raises(kling.ValidationError, match="unknown preset"):
        kling.CameraControl.preset("spin")
    with pytest.raises(kling.ValidationError, match="exactly one"):
        kling.CameraControl.simple(zoom=1, pan=1)
    with pytest.raises(kling.ValidationError) as caught:
        kling.CameraControl.simple(roll=11)
    assert caught.value.field == "camera_control.config.roll"
    assert caught.value.value == 11


def test_top_left_coordinates_become_bottom_left() -> None:
    assert kling.from_top_left([(0, 0), (10, 99)], image_height=100) == (
        kling.Point(0, 99),
        kling.Point(10, 0),
    )
    stroke = kling.DynamicMask.from_top_left(MASK, [(5, 10), (6, 20)], image_height=360)
    assert stroke.trajectories == (kling.Point(5, 349), kling.Point(6, 339))


def _variants() -> list[dict[str, Any]]:
    """Every model x mode x duration x feature combination."""
    features: dict[str, dict[str, Any]] = {
        "plain": {},
        "tail": {"image_tail": b64(png())},
        "tail-alone": {"image": None, "image_tail": b64(png())},
        "brush": {"static_mask": b64(MASK)},
        "camera": {"camera_control": CAM},
        "sound": {"sound": True},
    }
    models = [*CAPABILITIES]
    return [
        {"model": m, "mode": mode, "duration": d, **extra}
        for m, mode, d, extra in itertools.product(
            models, ["std", "pro"], [5, 10], features.values()
        )
    ]


async def test_sdk_and_emulator_agree_on_the_capability_map(start_emulator: StartEmulator) -> None:
    """Two independent readings of the notes: for every combination, both accept or both refuse."""
    emu, _ = await start_emulator()
    disagreements = []
    async with fast_client(emu) as client:
        resource = client.image_to_video
        for fields in _variants():
            request = kling.ImageToVideo(prompt="p", **{"image": b64(png()), **fields})
            try:
                check_fields(request)
                sdk_ok = True
            except kling.ValidationError:
                sdk_ok = False
            body = await resource.wire_body(request)
            body["external_task_id"] = f"x{len(disagreements)}-{id(fields)}"
            try:
                await resource.submit(body)
                emu_ok = True
            except kling.InvalidRequestError:
                emu_ok = False
            if sdk_ok != emu_ok:
                disagreements.append(
                    (
                        fields.get("model"),
                        fields.get("mode"),
                        fields.get("duration"),
                        sorted(fields),
                        sdk_ok,
                        emu_ok,
                    )
                )
    assert disagreements == []
    assert emu.stats()["creates"] > 20  # a real share of combinations is valid
