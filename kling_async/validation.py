"""Client-side validation: every documented rule checked before anything is sent.

``check_fields(request)`` needs no I/O; ``await validate(request)`` also reads image headers
(in a worker thread, never decoding whole images on the event loop). Every failure is a
``ValidationError`` naming the field, the value and the rule.

The capability map below is the SDK's own reading of the API notes — the emulator has an
independent one, so a wrong rule cannot hide on both sides. Models newer than the map are
refused unless ``allow_unknown_models=True``, which skips the map for them only.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from typing import Any

from . import _images
from .errors import ValidationError
from .models import (
    CAMERA_TYPES,
    CameraControl,
    ImageToVideo,
    Request,
    TextToVideo,
    check_camera_config,
)

MAX_PROMPT_CHARS = 2500
MAX_DYNAMIC_MASKS = 6
TRAJECTORY_POINTS = (2, 77)
MAX_VOICES = 2
MODES = ("std", "pro")
DURATIONS = (5, 10)
ASPECT_RATIOS = ("16:9", "9:16", "1:1")

# Capability map: model -> feature -> the (mode, duration) pairs it is offered with.
# Features: plain, tail (end frame), brush (motion brush), camera, sound (sound/voices).
# A mode of None means the model takes no mode (the masters).
Offer = frozenset[tuple[str | None, int]]
_STD_PRO: Offer = frozenset({("std", 5), ("std", 10), ("pro", 5), ("pro", 10)})
_PRO: Offer = frozenset({("pro", 5), ("pro", 10)})
_PRO_5: Offer = frozenset({("pro", 5)})
_MASTER: Offer = frozenset({(None, 5), (None, 10)})
CAPABILITIES: dict[str, dict[str, Offer]] = {
    "kling-v1": {
        "plain": _STD_PRO,
        "tail": frozenset({("std", 5), ("pro", 5)}),
        "brush": frozenset({("std", 5), ("pro", 5)}),
    },
    "kling-v1-5": {"plain": _STD_PRO, "tail": _PRO, "brush": _PRO_5, "camera": _PRO_5},
    "kling-v1-6": {"plain": _STD_PRO, "tail": _PRO},
    "kling-v2-master": {"plain": _MASTER},
    "kling-v2-1": {"plain": _STD_PRO, "tail": _PRO},
    "kling-v2-1-master": {"plain": _MASTER},
    "kling-v2-5-turbo": {"plain": _STD_PRO, "tail": _PRO},
    "kling-v2-6": {"plain": _STD_PRO, "tail": _PRO, "sound": _PRO},
}
#: Models whose end frame may come without a start frame.
END_FRAME_ALONE = {"kling-v1-5", "kling-v1-6"}
#: (model, feature) pairs offered only silent: kling-v2-6 end frames are "pro, silent".
SILENT_ONLY = {("kling-v2-6", "tail")}
#: Camera types other than ``simple`` are offered only for text to video.
_FEATURE_NAMES = {
    "plain": "plain generation",
    "tail": "an end frame (image_tail)",
    "brush": "the motion brush (static_mask / dynamic_masks)",
    "camera": "camera_control",
    "sound": "sound / voices",
}


def _text(field: str, value: object, *, required: bool = False) -> None:
    if value is None:
        if required:
            raise ValidationError(field, value, "is required")
        return
    if not isinstance(value, str):
        raise ValidationError(field, value, "must be a string")
    if required and not value.strip():
        raise ValidationError(field, value, "must not be blank")
    if len(value) > MAX_PROMPT_CHARS:
        raise ValidationError(
            field, f"<{len(value)} characters>", f"at most {MAX_PROMPT_CHARS} characters"
        )


def _model_mode_duration(request: Request, allow_unknown_models: bool) -> bool:
    """Check model, mode and duration; return whether the capability map applies."""
    if not isinstance(request.model, str) or not request.model:
        raise ValidationError("model", request.model, "must be a model name like 'kling-v2-6'")
    if request.mode not in MODES:
        raise ValidationError("mode", request.mode, "must be 'std' or 'pro'")
    if request.duration not in DURATIONS:
        raise ValidationError("duration", request.duration, "must be 5 or 10 (seconds)")
    if request.model in CAPABILITIES:
        return True
    if allow_unknown_models:
        return False
    raise ValidationError(
        "model",
        request.model,
        f"unknown to this SDK's capability map (known: {', '.join(CAPABILITIES)}); "
        "pass allow_unknown_models=True to send it unchecked",
    )


def _cfg_scale(request: Request) -> None:
    value = request.cfg_scale
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 1:
        raise ValidationError("cfg_scale", value, "must be a number from 0 to 1")
    if request.model.startswith(("kling-v2", "kling-v3")):
        raise ValidationError("cfg_scale", value, f"not supported on {request.model} (kling-v2.x)")


def _camera(camera: CameraControl | None, *, image_to_video: bool) -> None:
    if camera is None:
        return
    if not isinstance(camera, CameraControl):
        raise ValidationError("camera_control", camera, "must be a CameraControl")
    if camera.type not in CAMERA_TYPES:
        raise ValidationError("camera_control.type", camera.type, f"one of {CAMERA_TYPES}")
    if camera.type == "simple":
        if camera.config is None:
            raise ValidationError("camera_control.config", None, "type 'simple' needs a config")
        check_camera_config(camera.config)
    elif camera.config is not None:
        raise ValidationError("camera_control.config", camera.config, "only 'simple' takes one")
    elif image_to_video:
        raise ValidationError(
            "camera_control.type", camera.type, "image to video offers only 'simple' moves"
        )


def _voices(request: Request) -> bool:
    voices = request.voices
    if request.sound not in (None, True, False):
        raise ValidationError("sound", request.sound, "must be True, False or None")
    if voices:
        if len(voices) > MAX_VOICES:
            raise ValidationError("voices", voices, f"at most {MAX_VOICES} voices")
        for i, voice in enumerate(voices):
            if not isinstance(voice, str) or not voice.strip():
                raise ValidationError(f"voices[{i}]", voice, "must be a non-empty voice id")
        if request.sound is not True:
            raise ValidationError("voices", voices, "need sound=True")
    return request.sound is True


def _common(request: Request) -> None:
    if request.callback_url is not None and not (
        isinstance(request.callback_url, str)
        and request.callback_url.startswith(("http://", "https://"))
    ):
        raise ValidationError("callback_url", request.callback_url, "must be an http(s) URL")
    ext = request.external_task_id
    if ext is not None and (not isinstance(ext, str) or not ext.strip() or len(ext) > 256):
        raise ValidationError("external_task_id", ext, "must be a non-blank string of ≤ 256 chars")
    if request.watermark not in (None, True, False):
        raise ValidationError("watermark", request.watermark, "must be True, False or None")


def _capabilities(request: Request, features: set[str]) -> None:
    caps = CAPABILITIES[request.model]
    mode = None if caps["plain"] is _MASTER else request.mode
    if "sound" in features:
        for feature in sorted(features):
            if (request.model, feature) in SILENT_ONLY:
                raise ValidationError(
                    "sound", True, f"{request.model} offers {_FEATURE_NAMES[feature]} only silent"
                )
    for feature in sorted(features) or ["plain"]:
        allowed = caps.get(feature)
        if not allowed:
            offered = ", ".join(m for m, c in CAPABILITIES.items() if feature in c)
            raise ValidationError(
                "model",
                request.model,
                f"does not offer {_FEATURE_NAMES[feature]} (models that do: {offered})",
            )
        if (mode, request.duration) not in allowed:
            options = ", ".join(
                f"{m or 'any mode'} {d} s"
                for m, d in sorted(allowed, key=lambda p: (str(p[0]), p[1]))
            )
            raise ValidationError(
                "mode/duration",
                f"{request.mode} {request.duration} s",
                f"{request.model} offers {_FEATURE_NAMES[feature]} only with {options}",
            )


def _trajectories(index: int, points: Iterable[Any]) -> None:
    field = f"dynamic_masks[{index}].trajectories"
    points = tuple(points)
    low, high = TRAJECTORY_POINTS
    if not low <= len(points) <= high:
        raise ValidationError(field, f"<{len(points)} points>", f"needs {low} to {high} points")
    for j, point in enumerate(points):
        for axis in ("x", "y"):
            value = getattr(point, axis, None)
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise ValidationError(f"{field}[{j}].{axis}", value, "must be an integer ≥ 0")


def check_fields(request: Request, *, allow_unknown_models: bool = False) -> None:
    """Every rule that needs no I/O. Raises ``ValidationError``."""
    if isinstance(request, TextToVideo):
        _text("prompt", request.prompt, required=True)
        _text("negative_prompt", request.negative_prompt)
        mapped = _model_mode_duration(request, allow_unknown_models)
        if request.aspect_ratio not in ASPECT_RATIOS:
            raise ValidationError("aspect_ratio", request.aspect_ratio, f"one of {ASPECT_RATIOS}")
        _cfg_scale(request)
        _camera(request.camera_control, image_to_video=False)
        sound = _voices(request)
        _common(request)
        if mapped:
            _capabilities(request, {"sound"} if sound else set())
        return
    if not isinstance(request, ImageToVideo):
        raise ValidationError(
            "request", type(request).__name__, "must be ImageToVideo or TextToVideo"
        )
    _text("prompt", request.prompt)
    _text("negative_prompt", request.negative_prompt)
    mapped = _model_mode_duration(request, allow_unknown_models)
    _cfg_scale(request)
    if request.image is None and request.image_tail is None:
        raise ValidationError("image", None, "is required (or image_tail, where the model allows)")
    if request.image is None and mapped and request.model not in END_FRAME_ALONE:
        raise ValidationError(
            "image", None, f"{request.model} needs a start frame; only "
            f"{', '.join(sorted(END_FRAME_ALONE))} take an end frame alone",
        )  # fmt: skip
    brush = request.static_mask is not None or bool(request.dynamic_masks)
    if len(request.dynamic_masks) > MAX_DYNAMIC_MASKS:
        raise ValidationError(
            "dynamic_masks", f"<{len(request.dynamic_masks)} masks>", f"at most {MAX_DYNAMIC_MASKS}"
        )
    for i, stroke in enumerate(request.dynamic_masks):
        _trajectories(i, stroke.trajectories)
    _camera(request.camera_control, image_to_video=True)
    groups = [
        name
        for name, used in (
            ("image_tail", request.image_tail is not None),
            ("static_mask/dynamic_masks", brush),
            ("camera_control", request.camera_control is not None),
        )
        if used
    ]
    if len(groups) > 1:
        raise ValidationError(" + ".join(groups), "both given", "mutually exclusive: use only one")
    sound = _voices(request)
    _common(request)
    if mapped:
        features = {
            name
            for name, used in (
                ("tail", request.image_tail is not None),
                ("brush", brush),
                ("camera", request.camera_control is not None),
                ("sound", sound),
            )
            if used
        }
        _capabilities(request, features)


async def validate(request: Request, *, allow_unknown_models: bool = False) -> None:
    """All rules, image headers included (read in worker threads). Raises ``ValidationError``."""
    check_fields(request, allow_unknown_models=allow_unknown_models)
    if not isinstance(request, ImageToVideo):
        return
    image = _images.locate("image", request.image) if request.image is not None else None
    tail = _images.locate("image_tail", request.image_tail) if request.image_tail else None
    masks = []
    if request.static_mask is not None:
        masks.append(_images.locate("static_mask", request.static_mask))
    masks += [
        _images.locate(f"dynamic_masks[{i}].mask", s.mask)
        for i, s in enumerate(request.dynamic_masks)
    ]
    frames = [s for s in (image, tail) if s is not None]
    facts = await asyncio.gather(*(_images.inspect_async(s) for s in frames))
    mask_facts = await asyncio.gather(*(_images.inspect_async(s, min_side=None) for s in masks))
    known = [(s, f) for s, f in zip(masks, mask_facts, strict=True) if f is not None]
    if len({(f.width, f.height) for _, f in known}) > 1:
        sizes = ", ".join(f"{s.field} {f.width}x{f.height}" for s, f in known)
        raise ValidationError("masks", sizes, "all masks must share one resolution")
    start = facts[0] if image is not None else None
    if known and start is not None:
        source, mask = known[0]
        if abs(mask.width / mask.height - start.width / start.height) > 0.01:
            raise ValidationError(
                source.field,
                f"{mask.width}x{mask.height}",
                f"must have the image's aspect ratio ({start.width}x{start.height})",
            )
