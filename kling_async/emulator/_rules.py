"""The emulator's own reading of the legacy wire's request rules and the capability map.

Written from /tmp/kling-2026-spec.md and ../shared/API-NOTES.md independently of the SDK's
validation: the two must agree because both follow the decisions, not because one calls the
other. The new wire's rules are in ``_rules_new``; what both share is in ``_shared``.

Retired models (kling-v1 ... kling-v2-1-master) are checked for the shape of their fields only:
the service accepts the create and the task then ends failed, "discontinued".
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from ._errors import Rejection, invalid
from ._images import read_image
from ._models import LEGACY_MODELS, LONG, MAX_PROMPT, NEW_MODELS, Model, discontinued
from ._shared import (
    ASPECT_RATIOS,
    MAX_VOICES,
    TaskSpec,
    Wording,
    check_offer,
    choice_field,
    common_fields,
    integer_value,
    string_field,
)

MAX_DYNAMIC_MASKS = 6
TRAJECTORY_POINTS = (2, 77)
MAX_ELEMENTS = 3
MAX_SHOTS = 6
MAX_SHOT_PROMPT = 512
CAMERA_TYPES = ("simple", "down_back", "forward_up", "right_turn_forward", "left_turn_forward")
CAMERA_AXES = ("horizontal", "vertical", "pan", "tilt", "roll", "zoom")
MODES = ("std", "pro", "4k")
SHOT_TYPES = ("customize", "intelligence")


LEGACY_WORDS = Wording(
    mode="mode",
    duration="duration",
    sound="sound",
    sound_off="off",
    fields={
        "tail": "image_tail",
        "sound": "sound",
        "voice": "voice_list",
        "multi_shot": "multi_shot",
        "elements": "element_list",
    },
    show_mode=lambda mode: repr(mode) if mode is not None else "no mode",
)


# -- legacy-only fields ---------------------------------------------------------------------
def _model(body: Mapping[str, Any], default: str) -> Model:
    name = string_field(body, "model_name") or default
    model = LEGACY_MODELS.get(name)
    if model is None:
        hint = ""
        if name in NEW_MODELS:
            hint = f" on /v1/videos; it is a name of the new API (POST /image-to-video/{name})"
        raise Rejection(404, 1203, f"model_name: model {name!r} not found{hint}")
    return model


def _cfg_scale(body: Mapping[str, Any], model: Model) -> None:
    value = body.get("cfg_scale")
    if value is None:
        return
    if not model.retired:
        raise invalid(
            f"cfg_scale: not supported on {model.name} (no kling-v2.x or kling-v3 model takes it)"
        )
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


def _masks(body: Mapping[str, Any]) -> None:
    """Check the shape of the motion brush fields (only retired models get this far)."""
    static, dynamic = body.get("static_mask"), body.get("dynamic_masks")
    if static is not None:
        read_image("static_mask", static, check_dimensions=False)
    if dynamic is None:
        return
    if not isinstance(dynamic, list) or not 1 <= len(dynamic) <= MAX_DYNAMIC_MASKS:
        raise invalid(
            f"dynamic_masks: expected a list of 1 to {MAX_DYNAMIC_MASKS} items, "
            f"got {len(dynamic) if isinstance(dynamic, list) else dynamic!r}"
        )
    for i, item in enumerate(dynamic):
        if not isinstance(item, dict):
            raise invalid(f"dynamic_masks[{i}]: expected an object {{mask, trajectories}}")
        read_image(f"dynamic_masks[{i}].mask", item.get("mask"), check_dimensions=False)
        _trajectories(i, item.get("trajectories"))


def _no_camera_or_brush(body: Mapping[str, Any], model: str) -> None:
    for field, name in (
        ("camera_control", "camera control"),
        ("static_mask", "the motion brush"),
        ("dynamic_masks", "the motion brush"),
    ):
        if body.get(field) is not None:
            raise invalid(f"{field}: {model} does not offer {name} (no live model does)")


def _sound(body: Mapping[str, Any]) -> tuple[bool, bool]:
    """(sound on, voices given)."""
    sound = choice_field(body, "sound", ("on", "off"))
    voices = body.get("voice_list")
    if voices is None:
        return sound == "on", False
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
    return True, True


def _shot(i: int, shot: object, count: int) -> int:
    """Check one ``multi_prompt`` item; return its duration in seconds."""
    if not isinstance(shot, dict):
        raise invalid(f"multi_prompt[{i}]: expected an object {{index, prompt, duration}}")
    index = shot.get("index")
    if isinstance(index, bool) or not isinstance(index, int) or not 1 <= index <= count:
        raise invalid(f"multi_prompt[{i}].index: {index!r} must be an integer from 1 to {count}")
    prompt = shot.get("prompt")
    if not isinstance(prompt, str) or not prompt.strip():
        raise invalid(f"multi_prompt[{i}].prompt: required, a non-blank string")
    if len(prompt) > MAX_SHOT_PROMPT:
        raise invalid(
            f"multi_prompt[{i}].prompt: {len(prompt)} characters exceeds the limit of "
            f"{MAX_SHOT_PROMPT}"
        )
    seconds = integer_value(shot.get("duration"))
    if seconds is None or seconds < 1:
        raise invalid(
            f"multi_prompt[{i}].duration: {shot.get('duration')!r} must be whole seconds, "
            "at least 1"
        )
    return seconds


def _multi_shot(body: Mapping[str, Any], duration: str) -> str | None:
    """Check multi_shot / shot_type / multi_prompt; return the shot type when multi-shot."""
    flag = body.get("multi_shot")
    if flag is not None and not isinstance(flag, bool):
        raise invalid(f"multi_shot: expected true or false, got {flag!r:.40}")
    shot_type = choice_field(body, "shot_type", SHOT_TYPES)
    shots = body.get("multi_prompt")
    if not flag:
        if shot_type is not None:
            raise invalid("shot_type: only with multi_shot true")
        if shots is not None:
            raise invalid("multi_prompt: only with multi_shot true and shot_type 'customize'")
        return None
    if shot_type is None:
        raise invalid("shot_type: required with multi_shot true ('customize' or 'intelligence')")
    if shot_type == "intelligence":
        if shots is not None:
            raise invalid("multi_prompt: shot_type 'intelligence' takes no multi_prompt")
        return shot_type
    if not isinstance(shots, list) or not 1 <= len(shots) <= MAX_SHOTS:
        count = len(shots) if isinstance(shots, list) else shots
        raise invalid(
            f"multi_prompt: shot_type 'customize' needs 1 to {MAX_SHOTS} shots, got {count!r:.40}"
        )
    total = sum(_shot(i, shot, len(shots)) for i, shot in enumerate(shots))
    indexes = sorted(shot["index"] for shot in shots)
    if indexes != list(range(1, len(shots) + 1)):
        raise invalid(f"multi_prompt: indexes {indexes} must be 1 to {len(shots)}, each once")
    if total != int(duration):
        raise invalid(
            f"multi_prompt: shot durations sum to {total} s, not the task's duration {duration!r}"
        )
    return shot_type


def _elements(body: Mapping[str, Any]) -> bool:
    items = body.get("element_list")
    if items is None:
        return False
    if not isinstance(items, list) or not 1 <= len(items) <= MAX_ELEMENTS:
        count = len(items) if isinstance(items, list) else items
        raise invalid(f"element_list: expected 1 to {MAX_ELEMENTS} elements, got {count!r:.40}")
    for i, item in enumerate(items):
        ident = item.get("element_id") if isinstance(item, dict) else None
        if integer_value(ident) is None:
            raise invalid(
                f"element_list[{i}].element_id: {ident!r:.40} must be an integer or a numeric "
                "string"
            )
    if body.get("voice_list") is not None:
        raise invalid("element_list and voice_list: not together")
    return True


def _mode_and_duration(body: Mapping[str, Any], model: Model, kind: str) -> tuple[str | None, str]:
    given = choice_field(body, "mode", MODES) or "std"
    offer = model.offers.get(kind)
    # the masters take no mode; a given one is ignored, as the service does
    mode = None if offer is not None and offer.modes == (None,) else given
    duration = body.get("duration", "5")
    if not isinstance(duration, str) or duration not in LONG:
        raise invalid(f"duration: {duration!r} must be a string of whole seconds, '3' to '15'")
    return mode, duration


def _check(body: Mapping[str, Any], default_model: str, kind: str) -> TaskSpec:
    model = _model(body, default_model)
    offer = model.offers.get(kind)
    prompt = string_field(body, "prompt", limit=MAX_PROMPT)
    string_field(body, "negative_prompt", limit=MAX_PROMPT)
    _cfg_scale(body, model)
    mode, duration = _mode_and_duration(body, model, kind)
    image = tail = None
    if kind == "image2video":
        if body.get("image") is None:
            raise invalid("image: required; no model takes an end frame (image_tail) alone")
        image = read_image("image", body["image"])
        if body.get("image_tail") is not None:
            tail = read_image("image_tail", body["image_tail"])
    aspect = "16:9"
    if kind == "text2video":
        aspect = choice_field(body, "aspect_ratio", ASPECT_RATIOS) or "16:9"
    if offer is None:  # retired: fields checked for shape, then the task fails
        _masks(body)
        camera = _camera(body)
    else:
        _no_camera_or_brush(body, model.name)
        camera = None
    sound, voice = _sound(body)
    shot_type = _multi_shot(body, duration)
    if kind == "text2video" and shot_type != "customize" and not (prompt or "").strip():
        raise invalid("prompt: required for text to video and must not be blank")
    elements = _elements(body)
    present = {
        "tail": tail is not None or body.get("image_tail") is not None,
        "sound": sound,
        "voice": voice,
        "multi_shot": shot_type is not None,
        "elements": elements,
    }
    features = {name for name, on in present.items() if on}
    if offer is not None:
        check_offer(model.name, kind, offer, mode, duration, features, LEGACY_WORDS)
    common = common_fields(body)
    return TaskSpec(
        kind=kind,
        model=model.name,
        mode=mode,
        duration=duration,
        prompt=prompt or "",
        features=frozenset(features),
        camera=camera,
        image=image,
        aspect_ratio=aspect,
        late_failure=discontinued(model.name) if model.retired else None,
        wire="legacy",
        family=model.family,
        sound=sound,
        audio=sound,
        **common,
    )


def check_image2video(body: Mapping[str, Any], default_model: str) -> TaskSpec:
    """Validate a legacy image-to-video create; raise ``Rejection`` naming field and rule."""
    return _check(body, default_model, "image2video")


def check_text2video(body: Mapping[str, Any], default_model: str) -> TaskSpec:
    """Validate a legacy text-to-video create; raise ``Rejection`` naming field and rule."""
    return _check(body, default_model, "text2video")


CHECKERS: dict[str, Callable[[Mapping[str, Any], str], TaskSpec]] = {
    "image2video": check_image2video,
    "text2video": check_text2video,
}
