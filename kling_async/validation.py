"""Client-side validation: every documented rule checked before anything is sent.

``check_fields(request)`` needs no I/O; ``await validate(request)`` also reads image headers
(in a worker thread, never decoding whole images on the event loop). Every failure is a
``ValidationError`` naming the field, the value and the rule.

The capability map below is the SDK's own reading of the API notes — the emulator has an
independent one, so a wrong rule cannot hide on both sides. Models newer than the map are
refused unless ``allow_unknown_models=True``, which skips the map for them only.

This module holds image and text to video; ``plan``/``validate`` hand ``OmniVideo`` and
``MotionControl`` to ``_rules_video``, ``ImageGeneration`` to ``_rules_images``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from typing import Any

from . import _catalog, _checks, _images, _rules_images, _rules_video
from ._checks import Plan as Plan  # importable from here, as before
from ._checks import check_external_id as check_external_id
from ._checks import labels as _labels
from ._checks import text as _text
from .errors import ValidationError
from .image_requests import ImageGeneration
from .models import (
    CAMERA_TYPES,
    CameraControl,
    ImageToVideo,
    Request,
    Shot,
    TextToVideo,
    Voice,
    check_camera_config,
    new_prompt,
    voice_labels,
)
from .video_requests import MotionControl, OmniVideo

#: Every request type a create takes.
AnyRequest = Request | OmniVideo | MotionControl | ImageGeneration

MAX_PROMPT_CHARS = 2500
MAX_DYNAMIC_MASKS = 6
TRAJECTORY_POINTS = (2, 77)
MAX_VOICES = 2
MAX_SHOTS = 6
MAX_SHOT_PROMPT = 512
MAX_ELEMENTS = 3
ASPECT_RATIOS = ("16:9", "9:16", "1:1")
SHOT_TYPES = ("customize", "intelligence")
#: The forward-compatible fields of image and text to video (see ``models``).
EXTRAS = ("extra_contents", "extra_settings", "extra_options", "extra_body")
APIS = ("auto", "legacy", "new")


def _model(request: Request, api: str, allow_unknown_models: bool) -> tuple[_catalog.Wire, str]:
    """Check the model and the API choice; return (wire, the model's name on that wire)."""
    model = request.model
    if not isinstance(model, str) or not model:
        raise ValidationError("model", model, "must be a model name like 'kling-v2-6'")
    chosen = request.api if request.api is not None else api
    if chosen not in APIS:
        raise ValidationError("api", chosen, f"must be one of {', '.join(APIS)}")
    retired = _catalog.RETIRED.get(model)
    if retired is not None and not allow_unknown_models:
        raise ValidationError("model", model, f"retired on {retired.when}, use {retired.use}")
    if not _catalog.is_known(model) and not allow_unknown_models and retired is None:
        live = ", ".join(_catalog.MODEL_NAMES)
        status = (
            "is not in Kling's 2026 capability map (its status is unconfirmed)"
            if model in _catalog.UNCONFIRMED
            else "is unknown to this SDK's capability map"
        )
        raise ValidationError(
            "model",
            model,
            f"{status} (live models: {live}); pass allow_unknown_models=True to send it unchecked",
        )
    return _catalog.choose_wire(model, chosen)  # type: ignore[arg-type]  # checked above


def _mode_duration(request: Request, caps: _catalog.Caps | None) -> None:
    mode, duration = request.mode, request.duration
    if isinstance(duration, bool) or not isinstance(duration, int) or duration < 1:
        raise ValidationError("duration", duration, "must be a whole number of seconds")
    if caps is None:  # an unchecked model: sent with whatever the user gives
        if not isinstance(mode, str) or not mode:
            raise ValidationError("mode", mode, "must be a mode name like 'std' or 'pro'")
        return
    if mode not in caps.modes:
        raise ValidationError("mode", mode, f"{request.model} offers {', '.join(caps.modes)}")
    if duration not in caps.durations:
        low, high = caps.durations[0], caps.durations[-1]
        offered = (
            f"{low}..{high} s"
            if len(caps.durations) == high - low + 1 and len(caps.durations) > 2
            else " or ".join(f"{d} s" for d in caps.durations)
        )
        raise ValidationError("duration", duration, f"{request.model} offers {offered}")


def _cfg_scale(request: Request) -> None:
    value = request.cfg_scale
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 1:
        raise ValidationError("cfg_scale", value, "must be a number from 0 to 1")
    if _catalog.is_known(request.model) or request.model.startswith(("kling-v2", "kling-v3")):
        raise ValidationError("cfg_scale", value, f"not supported on {request.model}")


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


def _voices(request: Request) -> None:
    voices = request.voices
    if request.sound not in (None, True, False):
        raise ValidationError("sound", request.sound, "must be True, False or None")
    if not voices:
        return
    if len(voices) > MAX_VOICES:
        raise ValidationError("voices", voices, f"at most {MAX_VOICES} voices")
    for i, voice in enumerate(voices):
        ident = voice.voice_id if isinstance(voice, Voice) else voice
        if not isinstance(ident, str) or not ident.strip():
            raise ValidationError(f"voices[{i}]", voice, "must be a non-empty voice id")
    _labels("voices", [label for _, label in voice_labels(voices)])
    if request.sound is not True:
        raise ValidationError("voices", voices, "need sound=True")


def _multi_shot(request: Request, wire: str) -> bool:
    """Check the multi-shot fields; return whether the request is multi-shot. On the new
    API ``multi_shot=True`` alone is enough (Kling cuts the shots itself)."""
    multi, kind, shots = request.multi_shot, request.shot_type, request.multi_prompt
    if multi not in (None, True, False):
        raise ValidationError("multi_shot", multi, "must be True, False or None")
    if kind is not None and kind not in SHOT_TYPES:
        raise ValidationError("shot_type", kind, f"must be one of {', '.join(SHOT_TYPES)}")
    if multi is False and (shots or kind is not None):
        field = "multi_prompt" if shots else "shot_type"
        raise ValidationError(field, "given", "needs multi_shot True (or left None)")
    if shots:
        if kind == "intelligence":
            raise ValidationError(
                "shot_type", kind, "'intelligence' cuts the shots itself: give no multi_prompt"
            )
        if len(shots) > MAX_SHOTS:
            raise ValidationError("multi_prompt", f"<{len(shots)} shots>", f"1 to {MAX_SHOTS}")
        for i, shot in enumerate(shots):
            if not isinstance(shot, Shot):
                raise ValidationError(f"multi_prompt[{i}]", shot, "must be a Shot")
            _text(f"multi_prompt[{i}].prompt", shot.prompt, required=True, limit=MAX_SHOT_PROMPT)
            d = shot.duration
            if isinstance(d, bool) or not isinstance(d, int) or d < 1:
                raise ValidationError(
                    f"multi_prompt[{i}].duration", d, "must be a whole number of seconds ≥ 1"
                )
        total = sum(shot.duration for shot in shots)
        if total != request.duration:
            raise ValidationError(
                "multi_prompt",
                f"<shots adding up to {total} s>",
                f"the shots' durations must add up to duration ({request.duration} s)",
            )
        return True
    if kind == "customize":
        raise ValidationError("shot_type", kind, "'customize' needs multi_prompt (the shots)")
    if multi is True and kind is None and wire != "new":
        raise ValidationError(
            "multi_shot", True, "needs multi_prompt (your shots) or shot_type='intelligence'"
        )
    return multi is True or kind is not None


def _elements(request: ImageToVideo) -> bool:
    elements = request.elements
    if not elements:
        return False
    if len(elements) > MAX_ELEMENTS:
        raise ValidationError("elements", elements, f"at most {MAX_ELEMENTS} elements")
    _checks.element_ids("elements", elements)
    if request.voices:
        raise ValidationError("elements + voices", "both given", "elements cannot go with voices")
    return True


def _wire_carries(request: Request, wire: str, model: str, features: set[str]) -> None:
    """A field the chosen wire has no place for is refused, naming field, model and wire."""
    if wire != "new":
        return
    used = set(features)
    if request.negative_prompt is not None:
        used.add("negative_prompt")
    if request.cfg_scale is not None:
        used.add("cfg_scale")
    for key, field in _catalog.LEGACY_ONLY_FIELDS.items():
        if key in used:
            legacy = _catalog.FAMILY_NAMES.get(_catalog.family_of(model), {}).get("legacy")
            hint = f"; use {legacy} on the legacy API" if legacy else ""
            raise ValidationError(
                field, "given", f"the new API (model {model}) has no field for it{hint}"
            )


def _capabilities(request: Request, plan: Plan) -> None:
    caps = plan.caps
    if caps is None:
        return
    model, mode = request.model, request.mode
    if caps.always_sound and request.sound is False:
        raise ValidationError("sound", False, f"{model} always makes audio: leave sound unset")
    endpoint = "image to video" if plan.endpoint == "image2video" else "text to video"
    for feature in sorted(plan.features):
        modes = caps.features.get(feature)
        if modes is None:
            offered = [
                name
                for name, n in _catalog.MODEL_NAMES.items()
                if feature in _catalog.CAPABILITIES[plan.endpoint][n.family].features
            ]
            others = (
                f" (models that do: {', '.join(offered)})" if offered else " (no live model does)"
            )
            raise ValidationError(
                "model",
                model,
                f"does not offer {_catalog.FEATURE_NAMES[feature]} for {endpoint}{others}",
            )
        if mode not in modes:
            raise ValidationError(
                "mode",
                mode,
                f"{model} offers {_catalog.FEATURE_NAMES[feature]} only in mode "
                f"{' or '.join(modes)}",
            )
        if feature in caps.silent and "sound" in plan.features:
            raise ValidationError(
                "sound", True, f"{model} offers {_catalog.FEATURE_NAMES[feature]} only silent"
            )
    for group in caps.exclusive:
        if group <= plan.features:
            names = " + ".join(_catalog.FEATURE_NAMES[f] for f in sorted(group))
            raise ValidationError(names, "both given", f"{model} cannot combine them")


def plan(request: AnyRequest, *, api: str = "auto", allow_unknown_models: bool = False) -> Plan:
    """Check every rule that needs no I/O and say how the request goes out.
    Raises ``ValidationError``.

    A model the SDK does not know (with ``allow_unknown_models=True``) is held only to what
    every model on its wire shares: field types, labels, shots' structure — not a known
    model's durations, aspect ratios or prompt length. ``api`` chooses the wire of image and
    text to video; the other endpoints have one API each (omni video and motion control the
    new one, image generation ``/v1/images``), whatever ``api`` says."""
    if isinstance(request, OmniVideo | MotionControl):
        return _rules_video.plan(request, allow_unknown_models=allow_unknown_models)
    if isinstance(request, ImageGeneration):
        return _rules_images.plan(request, allow_unknown_models=allow_unknown_models)
    if not isinstance(request, ImageToVideo | TextToVideo):
        raise ValidationError(
            "request",
            type(request).__name__,
            "must be ImageToVideo, TextToVideo, OmniVideo, MotionControl or ImageGeneration",
        )
    endpoint: _catalog.Endpoint = (
        "image2video" if isinstance(request, ImageToVideo) else "text2video"
    )
    wire, wire_model = _model(request, api, allow_unknown_models)
    family = _catalog.family_of(request.model)
    caps = _catalog.CAPABILITIES[endpoint].get(family) if _catalog.is_known(request.model) else None
    limit = caps.prompt_chars[wire] if caps is not None else None
    _text(
        "prompt",
        request.prompt,
        required=endpoint == "text2video" and not request.multi_prompt,
        limit=limit,
    )
    if wire == "new" and request.multi_prompt and request.prompt is not None:
        raise ValidationError(
            "prompt",
            "given with multi_prompt",
            "on the new API a multi-shot prompt is the shots alone ('shot 1, 3, words; ...'): "
            "say the scene in each shot's prompt, and leave prompt out",
        )
    _text("negative_prompt", request.negative_prompt)
    _mode_duration(request, caps)
    _cfg_scale(request)
    features: set[str] = set()
    if isinstance(request, TextToVideo):
        if caps is not None and request.aspect_ratio not in ASPECT_RATIOS:
            raise ValidationError("aspect_ratio", request.aspect_ratio, f"one of {ASPECT_RATIOS}")
        if not isinstance(request.aspect_ratio, str) or not request.aspect_ratio:
            raise ValidationError("aspect_ratio", request.aspect_ratio, "must be a ratio like 16:9")
        _camera(request.camera_control, image_to_video=False)
    else:
        _image_fields(request, caps)
        if request.image_tail is not None:
            features.add("tail")
        if request.static_mask is not None or request.dynamic_masks:
            features.add("brush")
        if _elements(request):
            features.add("elements")
    if request.camera_control is not None:
        features.add("camera")
    _voices(request)
    if request.voices:
        features.add("voice")
    if request.sound is True or request.voices:
        features.add("sound")
    if _multi_shot(request, wire):
        features.add("multi_shot")
    if (
        wire == "new"
        and "multi_shot" in features
        and not request.multi_prompt
        and caps is not None
        and not caps.multi_shot_setting
        and "multi_shot" in caps.features
    ):
        raise ValidationError(
            "multi_shot",
            True,
            f"{request.model} has no multi_shot setting on the new API: give the shots "
            "(multi_prompt), which go in its prompt",
        )
    if wire == "new" and request.multi_prompt:
        rendered = new_prompt(request) or ""
        if limit is not None and len(rendered) > limit:
            raise ValidationError(
                "multi_prompt",
                f"<{len(rendered)} characters as shots>",
                f"the shots make a prompt of at most {limit} characters on the new API",
            )
    _checks.options(request)
    _checks.extras(request, wire, EXTRAS)
    result = Plan(endpoint, wire, wire_model, family, frozenset(features), caps)
    _wire_carries(request, wire, request.model, features)
    _capabilities(request, result)
    return result


def _image_fields(request: ImageToVideo, caps: _catalog.Caps | None) -> None:
    if request.image is None and request.image_tail is None:
        raise ValidationError("image", None, "is required (the start frame)")
    if request.image is None and caps is not None:
        raise ValidationError(
            "image", None, f"{request.model} needs a start frame; no live model takes an end "
            "frame alone",
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


def check_fields(
    request: AnyRequest, *, allow_unknown_models: bool = False, api: str = "auto"
) -> None:
    """Every rule that needs no I/O. Raises ``ValidationError``."""
    plan(request, api=api, allow_unknown_models=allow_unknown_models)


async def validate(
    request: AnyRequest, *, allow_unknown_models: bool = False, api: str = "auto"
) -> Plan:
    """All rules, image headers included (read in worker threads). Raises ``ValidationError``;
    returns how the request goes out (see ``Plan``)."""
    result = plan(request, api=api, allow_unknown_models=allow_unknown_models)
    if isinstance(request, OmniVideo | MotionControl):
        await _rules_video.check_images(request)
        return result
    if isinstance(request, ImageGeneration):
        await _rules_images.check_images(request)
        return result
    if not isinstance(request, ImageToVideo):
        return result
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
    if not masks and all(s.kind == "url" for s in frames):
        return result  # nothing to read: the server fetches URLs (a batch of them: no tasks)
    limit = _images.WIRE_MAX_BYTES[result.wire]
    facts = await asyncio.gather(*(_images.inspect_async(s, max_bytes=limit) for s in frames))
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
    return result
