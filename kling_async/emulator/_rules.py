"""The emulator's own reading of the API's request rules and capability map.

Written from ../shared/API-NOTES.md independently of the SDK's validation: the two must agree
because both follow the notes, not because one calls the other.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import attrs

from ._errors import Rejection, invalid
from ._images import ImageInfo, read_image

MAX_PROMPT = 2500
MAX_DYNAMIC_MASKS = 6
TRAJECTORY_POINTS = (2, 77)
MAX_VOICES = 2
CAMERA_TYPES = ("simple", "down_back", "forward_up", "right_turn_forward", "left_turn_forward")
CAMERA_AXES = ("horizontal", "vertical", "pan", "tilt", "roll", "zoom")
ASPECT_RATIOS = ("16:9", "9:16", "1:1")
MODES = ("std", "pro")
DURATIONS = ("5", "10")

_ALL = frozenset({("std", "5"), ("std", "10"), ("pro", "5"), ("pro", "10")})
_PRO = frozenset({("pro", "5"), ("pro", "10")})
_PRO5 = frozenset({("pro", "5")})
_NO_MODE = frozenset({(None, "5"), (None, "10")})

#: model -> feature -> allowed (mode, duration) pairs, exactly the table in API-NOTES.
#: Features: plain, tail (end frame), brush (masks), camera, sound (sound on / voices).
CAPABILITIES: dict[str, dict[str, frozenset[tuple[str | None, str]]]] = {
    "kling-v1": {
        "plain": _ALL,
        "tail": frozenset({("std", "5"), ("pro", "5")}),
        "brush": frozenset({("std", "5"), ("pro", "5")}),
    },
    "kling-v1-5": {"plain": _ALL, "tail": _PRO, "brush": _PRO5, "camera": _PRO5},
    "kling-v1-6": {"plain": _ALL, "tail": _PRO},
    "kling-v2-master": {"plain": _NO_MODE},
    "kling-v2-1": {"plain": _ALL, "tail": _PRO},
    "kling-v2-1-master": {"plain": _NO_MODE},
    "kling-v2-5-turbo": {"plain": _ALL, "tail": _PRO},
    "kling-v2-6": {"plain": _ALL, "tail": _PRO, "sound": _PRO},
    # Not in the notes' table (it "exists with extra multi-shot fields"): the emulator's
    # assumption, so that clients can be tested against a model newer than their own map.
    "kling-v3": {"plain": _ALL, "tail": _PRO, "sound": _PRO},
}
#: Features a model offers only silent (the notes: kling-v2-6 end frames are "pro, silent").
SILENT_ONLY: dict[str, frozenset[str]] = {"kling-v2-6": frozenset({"tail"})}
#: Models whose end frame may be given without a start frame.
TAIL_ALONE = frozenset({"kling-v1-5", "kling-v1-6"})
#: Models that take no mode.
NO_MODE = frozenset(m for m, caps in CAPABILITIES.items() if caps["plain"] == _NO_MODE)
FEATURE_NAMES = {
    "plain": "plain generation",
    "tail": "an end frame (image_tail)",
    "brush": "motion brush (static_mask / dynamic_masks)",
    "camera": "camera_control",
    "sound": "sound / voice_list",
}


@attrs.define
class TaskSpec:
    """What a valid create asked for, as the emulator needs it to run the task."""

    kind: str
    model: str
    mode: str | None
    duration: str
    prompt: str
    features: frozenset[str]
    camera: dict[str, Any] | None = None
    image: ImageInfo | None = None
    aspect_ratio: str = "16:9"
    external_task_id: str | None = None
    callback_url: str | None = None
    #: Set when masks do not fit the image: the task is accepted, then ends failed with this.
    late_failure: str | None = None


def _string(body: Mapping[str, Any], field: str, *, limit: int | None = None) -> str | None:
    value = body.get(field)
    if value is None:
        return None
    if not isinstance(value, str):
        raise invalid(f"{field}: expected a string, got {type(value).__name__} {value!r:.40}")
    if limit is not None and len(value) > limit:
        raise invalid(f"{field}: {len(value)} characters exceeds the limit of {limit}")
    return value


def _choice(body: Mapping[str, Any], field: str, allowed: tuple[str, ...]) -> str | None:
    value = body.get(field)
    if value is None:
        return None
    if value not in allowed:
        raise invalid(f"{field}: {value!r} is not one of {', '.join(map(repr, allowed))}")
    return str(value)


def _model(body: Mapping[str, Any], default: str) -> str:
    model = _string(body, "model_name") or default
    if model not in CAPABILITIES:
        raise Rejection(404, 1203, f"model_name: model {model!r} not found")
    return model


def _cfg_scale(body: Mapping[str, Any], model: str) -> None:
    value = body.get("cfg_scale")
    if value is None:
        return
    if model.startswith("kling-v2") or model.startswith("kling-v3"):
        raise invalid(f"cfg_scale: not supported on {model} (no kling-v2.x model takes it)")
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 1:
        raise invalid(f"cfg_scale: {value!r} must be a number from 0 to 1")


def _camera(body: Mapping[str, Any]) -> dict[str, Any] | None:
    camera = body.get("camera_control")
    if camera is None:
        return None
    if not isinstance(camera, dict):
        raise invalid(f"camera_control: expected an object, got {camera!r:.40}")
    kind = camera.get("type")
    if kind not in CAMERA_TYPES:
        raise invalid(f"camera_control.type: {kind!r} is not one of {', '.join(CAMERA_TYPES)}")
    config = camera.get("config")
    if kind != "simple":
        if config is not None:
            raise invalid(f"camera_control.config: only type 'simple' takes a config, not {kind!r}")
        return {"type": kind}
    if not isinstance(config, dict):
        raise invalid("camera_control.config: type 'simple' requires a config object")
    unknown = sorted(set(config) - set(CAMERA_AXES))
    if unknown:
        raise invalid(f"camera_control.config: unknown key(s) {unknown}")
    nonzero = []
    for axis in CAMERA_AXES:
        value = config.get(axis, 0)
        if isinstance(value, bool) or not isinstance(value, int | float) or not -10 <= value <= 10:
            raise invalid(
                f"camera_control.config.{axis}: {value!r} must be a number from -10 to 10"
            )
        if value != 0:
            nonzero.append(axis)
    if len(nonzero) != 1:
        raise invalid(
            f"camera_control.config: exactly one of {', '.join(CAMERA_AXES)} must be non-zero, "
            f"got {len(nonzero)} ({', '.join(nonzero) or 'none'})"
        )
    return {"type": "simple", "config": {a: config.get(a, 0) for a in CAMERA_AXES}}


def _trajectories(index: int, value: object) -> None:
    field = f"dynamic_masks[{index}].trajectories"
    low, high = TRAJECTORY_POINTS
    if not isinstance(value, list) or not low <= len(value) <= high:
        count = len(value) if isinstance(value, list) else value
        raise invalid(f"{field}: {count!r} points; a trajectory has {low} to {high} points")
    for j, point in enumerate(value):
        if not isinstance(point, dict):
            raise invalid(f"{field}[{j}]: expected an object {{x, y}}, got {point!r:.40}")
        for axis in ("x", "y"):
            coord = point.get(axis)
            if isinstance(coord, bool) or not isinstance(coord, int) or coord < 0:
                raise invalid(f"{field}[{j}].{axis}: {coord!r} must be a non-negative integer")


def _masks(body: Mapping[str, Any], image: ImageInfo | None) -> tuple[bool, str | None]:
    """Check the motion brush fields; return (present, late failure message)."""
    static, dynamic = body.get("static_mask"), body.get("dynamic_masks")
    if static is None and dynamic is None:
        return False, None
    masks: list[ImageInfo] = []
    if static is not None:
        masks.append(read_image("static_mask", static, check_dimensions=False))
    if dynamic is not None:
        if not isinstance(dynamic, list) or not 1 <= len(dynamic) <= MAX_DYNAMIC_MASKS:
            raise invalid(
                f"dynamic_masks: expected a list of 1 to {MAX_DYNAMIC_MASKS} items, "
                f"got {len(dynamic) if isinstance(dynamic, list) else dynamic!r}"
            )
        for i, item in enumerate(dynamic):
            if not isinstance(item, dict):
                raise invalid(f"dynamic_masks[{i}]: expected an object {{mask, trajectories}}")
            masks.append(
                read_image(f"dynamic_masks[{i}].mask", item.get("mask"), check_dimensions=False)
            )
            _trajectories(i, item.get("trajectories"))
    known = [m for m in masks if m.known]
    sizes = {(m.width, m.height) for m in known}
    if len(sizes) > 1:
        return True, "Mask resolutions are inconsistent: all masks must share one resolution"
    if sizes and image is not None and image.known:
        (w, h) = sizes.pop()
        if abs(w / h - image.width / image.height) > 0.01:
            return True, (
                f"Mask aspect ratio {w}x{h} does not match the image's {image.width}x{image.height}"
            )
    return True, None


def _sound(body: Mapping[str, Any]) -> bool:
    sound = _choice(body, "sound", ("on", "off"))
    voices = body.get("voice_list")
    if voices is None:
        return sound == "on"
    if not isinstance(voices, list) or not 1 <= len(voices) <= MAX_VOICES:
        raise invalid(f"voice_list: expected 1 to {MAX_VOICES} voices, got {voices!r:.60}")
    for i, voice in enumerate(voices):
        if (
            not isinstance(voice, dict)
            or not isinstance(voice.get("voice_id"), str)
            or not voice["voice_id"]
        ):
            raise invalid(f"voice_list[{i}]: expected an object with a non-empty string 'voice_id'")
    if sound != "on":
        raise invalid(f"voice_list: requires sound 'on', got sound {sound!r}")
    return True


def _common(body: Mapping[str, Any]) -> tuple[str | None, str | None]:
    watermark = body.get("watermark_info")
    if watermark is not None and (
        not isinstance(watermark, dict) or not isinstance(watermark.get("enabled"), bool)
    ):
        raise invalid(f"watermark_info: expected {{'enabled': true|false}}, got {watermark!r:.40}")
    callback = _string(body, "callback_url")
    if callback is not None and not callback.startswith(("http://", "https://")):
        raise invalid(f"callback_url: {callback!r:.60} is not an http(s) URL")
    external = _string(body, "external_task_id", limit=256)
    if external is not None and not external.strip():
        raise invalid("external_task_id: must not be blank")
    return external, callback


def _check_capability(model: str, mode: str | None, duration: str, features: set[str]) -> None:
    caps = CAPABILITIES[model]
    if "sound" in features:
        for feature in sorted(features & SILENT_ONLY.get(model, frozenset())):
            raise invalid(f"{model} supports {FEATURE_NAMES[feature]} only silent (sound 'off')")
    for feature in sorted(features) or ["plain"]:
        allowed = caps.get(feature)
        if not allowed:
            raise invalid(f"{model} does not support {FEATURE_NAMES[feature]}")
        if (mode, duration) not in allowed:
            options = ", ".join(f"{m or 'no mode'} {d} s" for m, d in sorted(allowed, key=str))
            raise invalid(
                f"{model} supports {FEATURE_NAMES[feature]} only with {options}; "
                f"got mode {mode!r}, duration {duration!r}"
            )


def _mode_and_duration(body: Mapping[str, Any], model: str) -> tuple[str | None, str]:
    given = _choice(body, "mode", MODES) or "std"
    # the masters take no mode; a given one is ignored, as the service does
    mode = None if model in NO_MODE else given
    duration = body.get("duration", "5")
    if duration not in DURATIONS:
        raise invalid(f"duration: {duration!r} must be the string '5' or '10'")
    return mode, str(duration)


def check_image2video(body: Mapping[str, Any], default_model: str) -> TaskSpec:
    """Validate an image-to-video create body; raise ``Rejection`` naming field, value and rule."""
    model = _model(body, default_model)
    prompt = _string(body, "prompt", limit=MAX_PROMPT) or ""
    _string(body, "negative_prompt", limit=MAX_PROMPT)
    _cfg_scale(body, model)
    mode, duration = _mode_and_duration(body, model)
    image = read_image("image", body["image"]) if body.get("image") is not None else None
    tail = (
        read_image("image_tail", body["image_tail"]) if body.get("image_tail") is not None else None
    )
    if image is None and tail is None:
        raise invalid("image: required (give image, or image_tail where the model allows it alone)")
    if image is None and model not in TAIL_ALONE:
        raise invalid(
            f"image: required on {model}; only kling-v1-5 and kling-v1-6 take an end frame alone"
        )
    brush, late_failure = _masks(body, image)
    camera = _camera(body)
    sound = _sound(body)
    groups = [
        name
        for name, on in (
            ("image_tail", tail),
            ("static_mask/dynamic_masks", brush),
            ("camera_control", camera),
        )
        if on
    ]
    if len(groups) > 1:
        raise invalid(f"{' and '.join(groups)}: mutually exclusive, give only one of them")
    features = {
        name
        for name, on in (("tail", tail), ("brush", brush), ("camera", camera), ("sound", sound))
        if on
    }
    if camera is not None and camera["type"] != "simple":
        raise invalid(f"camera_control.type: {model} supports only 'simple' for image to video")
    _check_capability(model, mode, duration, features)
    external, callback = _common(body)
    return TaskSpec(
        kind="image2video",
        model=model,
        mode=mode,
        duration=duration,
        prompt=prompt,
        features=frozenset(features),
        camera=camera,
        image=image or tail,
        external_task_id=external,
        callback_url=callback,
        late_failure=late_failure,
    )


def check_text2video(body: Mapping[str, Any], default_model: str) -> TaskSpec:
    """Validate a text-to-video create body. Camera moves are checked for shape only."""
    model = _model(body, default_model)
    prompt = _string(body, "prompt", limit=MAX_PROMPT)
    if not prompt or not prompt.strip():
        raise invalid("prompt: required for text to video and must not be blank")
    _string(body, "negative_prompt", limit=MAX_PROMPT)
    _cfg_scale(body, model)
    mode, duration = _mode_and_duration(body, model)
    aspect = _choice(body, "aspect_ratio", ASPECT_RATIOS) or "16:9"
    camera = _camera(body)
    sound = _sound(body)
    features = {"sound"} if sound else set()
    _check_capability(model, mode, duration, features)
    external, callback = _common(body)
    return TaskSpec(
        kind="text2video",
        model=model,
        mode=mode,
        duration=duration,
        prompt=prompt,
        features=frozenset(features | ({"camera"} if camera else set())),
        camera=camera,
        aspect_ratio=aspect,
        external_task_id=external,
        callback_url=callback,
    )


CHECKERS: dict[str, Callable[[Mapping[str, Any], str], TaskSpec]] = {
    "image2video": check_image2video,
    "text2video": check_text2video,
}
