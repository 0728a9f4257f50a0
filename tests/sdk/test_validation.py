"""Client-side validation: field, value and rule named, nothing sent; and the SDK's rules agree
with the emulator's independent ones."""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any

import attrs
import pytest

import kling_async as kling
from kling_async import _catalog, _wire
from kling_async.validation import Plan, check_fields

from .._helpers import StartEmulator, b64, fast_client, png

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
    ("mode", {"mode": "fast"}, "mode", "std, pro"),
    ("mode-4k-v2-6", {"mode": "4k"}, "mode", "std, pro"),
    ("duration", {"duration": 7}, "duration", "5 s or 10 s"),
    ("duration-v3", {"model": "kling-v3", "duration": 16}, "duration", "3..15 s"),
    ("cfg-v2", {"cfg_scale": 0.5}, "cfg_scale", "kling-v2-6"),
    ("retired", {"model": "kling-v1-5"}, "model", "retired on 2026-09-15, use kling-v2-6"),
    ("unknown-model", {"model": "kling-v9"}, "model", "allow_unknown_models"),
    ("unconfirmed-model", {"model": "kling-v2-master"}, "model", "unconfirmed"),
    ("camera-model", {"camera_control": CAM}, "model", "camera_control"),
    (
        "camera-raw-two-axes",
        {"camera_control": kling.CameraControl("simple", kling.CameraConfig(zoom=1, roll=1))},
        "camera_control.config",
        "exactly one",
    ),
    (
        "exclusive",
        {"mode": "pro", "image_tail": png(), "camera_control": CAM},
        "image_tail + camera_control",
        "mutually exclusive",
    ),
    ("brush-v2-6", {"static_mask": MASK}, "model", "motion brush"),
    ("seven-masks", {"dynamic_masks": [STROKE] * 7}, "dynamic_masks", "at most 6"),
    (
        "one-point",
        {"dynamic_masks": [kling.DynamicMask(MASK, [kling.Point(1, 1)])]},
        "dynamic_masks[0].trajectories",
        "2 to 77",
    ),
    ("voices-no-sound", {"mode": "pro", "voices": ["v1"]}, "voices", "sound=True"),
    (
        "three-voices",
        {"mode": "pro", "sound": True, "voices": ["a", "b", "c"]},
        "voices",
        "at most 2",
    ),
    ("sound-std", {"sound": True}, "mode", "pro"),
    ("sound-2-5", {"model": "kling-v2-5-turbo", "sound": True}, "model", "native audio"),
    ("sound-tail", {"mode": "pro", "sound": True, "image_tail": png()}, "sound", "silent"),
    ("tail-std", {"image_tail": png()}, "mode", "pro"),
    ("turbo-silent", {"model": "kling-3.0-turbo", "sound": False}, "sound", "always makes audio"),
    ("turbo-tail", {"model": "kling-3.0-turbo", "image_tail": png()}, "model", "end frame"),
    ("turbo-legacy", {"model": "kling-3.0-turbo", "api": "legacy"}, "api", "only by the new"),
    (
        "new-wire-negative",
        {"model": "kling-3.0", "negative_prompt": "blur"},
        "negative_prompt",
        "new API",
    ),
    (
        "shots-sum",
        {"model": "kling-v3", "duration": 10, "multi_prompt": [("a", 3), ("b", 3)]},
        "multi_prompt",
        "add up to duration (10 s)",
    ),
    (
        "seven-shots",
        {"model": "kling-v3", "duration": 7, "multi_prompt": [("a", 1)] * 7},
        "multi_prompt",
        "1 to 6",
    ),
    (
        "shots-v2-6",
        {"duration": 5, "multi_prompt": [("a", 2), ("b", 3)]},
        "model",
        "multi-shot",
    ),
    ("four-elements", {"model": "kling-v3", "elements": [1, 2, 3, 4]}, "elements", "at most 3"),
    (
        "elements-voices",
        {"model": "kling-v3", "elements": [1], "sound": True, "voices": ["v"]},
        "elements + voices",
        "cannot go with voices",
    ),
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
        ({"prompt": "p", "mode": "pro", "sound": True, "voices": ["a"]}, "model"),
        ({"prompt": "p", "model": "kling-v2-1"}, "model"),
        ({"prompt": "p", "model": "kling-v1-5"}, "model"),
        ({"prompt": "p", "camera_control": kling.CameraControl("forward_up")}, "model"),
        ({"prompt": "p" * 2501, "model": "kling-v3"}, "prompt"),
    ]:
        with pytest.raises(kling.ValidationError) as caught:
            check_fields(kling.TextToVideo(**fields))
        assert caught.value.field == field, caught.value
    check_fields(kling.TextToVideo(prompt="p" * 3000, model="kling-3.0-turbo", duration=12))
    check_fields(kling.TextToVideo(prompt="p", model="kling-v3", mode="4k", duration=3, sound=True))


async def test_issue_examples() -> None:
    """The rules the 2026 map is judged by, exactly as a user writes them."""
    img = png()
    await kling.validate(kling.ImageToVideo(image=img, model="kling-v3", mode="4k", duration=15))
    for bad, field, words in [
        ({"duration": 16}, "duration", "3..15"),
        ({"model": "kling-v1-5"}, "model", "retired on"),
    ]:
        fields = {"image": img, "model": "kling-v3", "mode": "4k", "duration": 15, **bad}
        with pytest.raises(kling.ValidationError) as caught:
            await kling.validate(kling.ImageToVideo(**fields))
        assert caught.value.field == field
        assert words in caught.value.rule
    with pytest.raises(kling.ValidationError, match="retired"):
        await kling.validate(kling.TextToVideo(prompt="p", model="kling-v2-1"))
    with pytest.raises(kling.ValidationError, match="camera_control"):
        await kling.validate(kling.TextToVideo(prompt="p", model="kling-v2-6", camera_control=CAM))
    # unknown models with allow_unknown_models go out with whatever mode and duration
    plan = await kling.validate(
        kling.ImageToVideo(image=img, model="kling-v9", mode="8k", duration=40),
        allow_unknown_models=True,
    )
    assert (plan.wire, plan.caps) == ("legacy", None)


def test_wire_choice() -> None:
    from kling_async.validation import plan

    img = png()
    cases = [
        ({"model": "kling-v3"}, "auto", ("legacy", "kling-v3")),
        ({"model": "kling-3.0"}, "auto", ("new", "kling-3.0")),
        ({"model": "kling-3.0-turbo"}, "auto", ("new", "kling-3.0-turbo")),
        ({"model": "kling-v2-6"}, "new", ("new", "kling-2.6")),
        ({"model": "kling-2.6"}, "legacy", ("legacy", "kling-v2-6")),
        ({"model": "kling-v2-6", "api": "new"}, "auto", ("new", "kling-2.6")),
        ({"model": "kling-v2-5-turbo", "api": "legacy"}, "new", ("legacy", "kling-v2-5-turbo")),
    ]
    for fields, api, expected in cases:
        got = plan(kling.ImageToVideo(image=img, **fields), api=api)
        assert (got.wire, got.model) == expected, fields


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


FEATURES: dict[str, dict[str, Any]] = {
    "plain": {},
    "tail": {"image_tail": b64(png())},
    "tail-alone": {"image": None, "image_tail": b64(png())},
    "sound": {"sound": True},
    "silent": {"sound": False},
    "voice": {"sound": True, "voices": ["voice-1"]},
    "voice-tail": {"sound": True, "voices": ["voice-1"], "image_tail": b64(png())},
    "sound-tail": {"sound": True, "image_tail": b64(png())},
    "multi-shot": {"multi_prompt": "split"},
    "multi-intelligence": {"multi_shot": True, "shot_type": "intelligence"},
    "multi-shot-tail": {"multi_prompt": "split", "image_tail": b64(png())},
    "elements": {"elements": [101, 102]},
    "camera": {"camera_control": CAM},
    "brush": {"static_mask": b64(MASK)},
    "negative": {"negative_prompt": "blur"},
}
IMAGE_ONLY = {"tail", "tail-alone", "voice-tail", "sound-tail", "multi-shot-tail", "elements"}
IMAGE_ONLY |= {"brush"}
#: Where a legacy-only field would go if a client sent it on the new wire anyway.
LEGACY_FIELDS_ON_NEW = {
    "camera": {"camera_control": {"type": "simple", "config": {"zoom": -5}}},
    "brush": {"static_mask": b64(MASK)},
    "negative": {"negative_prompt": "blur"},
}


NEW_NAMES = {name for name, n in _catalog.MODEL_NAMES.items() if n.wire == "new"}


def _variants() -> list[tuple[str, str, dict[str, Any]]]:
    """Every endpoint x live model name x mode x duration x feature combination."""
    out = []
    for endpoint, model, mode, duration, feature in itertools.product(
        ["image2video", "text2video"],
        list(_catalog.MODEL_NAMES),
        ["std", "pro", "4k"],
        [2, 3, 5, 7, 10, 15, 16],
        list(FEATURES),
    ):
        if endpoint == "text2video" and feature in IMAGE_ONLY:
            continue
        fields = {"model": model, "mode": mode, "duration": duration, **FEATURES[feature]}
        if fields.get("multi_prompt") == "split":
            fields["multi_prompt"] = [("first shot", duration - 1), ("second shot", 1)]
        out.append((endpoint, feature, fields))
    return out


def _unchecked_plan(request: Any, endpoint: str) -> Plan:
    """How the request would go out, without the SDK's rules (so that it can be sent)."""
    wire, name = _catalog.choose_wire(request.model, "auto")
    family = _catalog.family_of(request.model)
    features = {"multi_shot"} if request.multi_prompt or request.multi_shot else set()
    if getattr(request, "elements", ()):
        features.add("elements")
    return Plan(endpoint, wire, name, family, frozenset(features),  # type: ignore[arg-type]
                _catalog.CAPABILITIES[endpoint][family])  # type: ignore[index]  # fmt: skip


async def test_sdk_and_emulator_agree_on_the_capability_map(start_emulator: StartEmulator) -> None:
    """Two independent readings of the vendor map: for every (endpoint, model, mode/resolution,
    duration, feature) combination on the model's own wire, both accept or both refuse."""
    emu, _ = await start_emulator()
    disagreements = []
    checked = 0
    image = b64(png())  # one image for every combination: the rules under test are elsewhere
    async with fast_client(emu) as client:
        for n, (endpoint, feature, fields) in enumerate(_variants()):
            # on the new API the shots are the whole prompt: no prompt beside them
            shots_alone = "multi_prompt" in fields and fields["model"] in NEW_NAMES
            prompt = None if shots_alone else "p"
            if endpoint == "image2video":
                request: Any = kling.ImageToVideo(prompt=prompt, **{"image": image, **fields})
            else:
                request = kling.TextToVideo(prompt=prompt, **fields)
            try:
                check_fields(request)
                sdk_ok = True
            except kling.ValidationError:
                sdk_ok = False
            plan = _unchecked_plan(request, endpoint)
            request = attrs.evolve(request, external_task_id=f"agree-{n}")
            call = await _wire.build(request, plan)
            if plan.wire == "new":
                call.body.update(LEGACY_FIELDS_ON_NEW.get(feature, {}))
                if feature == "multi-intelligence":  # only a setting can ask Kling to cut
                    call.body["settings"].setdefault("multi_shot", True)
                if endpoint == "text2video" and request.voices:  # no place for voices there
                    call.body["voice_list"] = [{"voice_id": v} for v in request.voices]
            try:
                await client.request(
                    "POST", call.path, kind="create", json_body=call.body, retry=False,
                    wire=plan.wire,
                )  # fmt: skip
                emu_ok = True
            except (kling.InvalidRequestError, kling.NotFoundError):
                emu_ok = False
            checked += 1
            if sdk_ok != emu_ok:
                disagreements.append((endpoint, fields["model"], fields["mode"],
                                      fields["duration"], feature, sdk_ok, emu_ok))  # fmt: skip
    assert disagreements == [], f"{len(disagreements)} of {checked}: {disagreements[:20]}"
    stats = emu.stats()
    assert checked > 2000
    assert stats["creates"] > 200  # a real share of combinations is valid
