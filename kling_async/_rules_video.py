"""The rules of the new API's omni-video and motion-control creates (``OmniVideo``,
``MotionControl``), as each page of the vendor states them (``_surfaces``). Every failure is
a ``ValidationError`` naming the field, the value and the rule.

Reference videos go by URL and are not read: their format, size, length and frame rate are
the service's to check.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping

from . import _checks, _images
from ._checks import Plan
from ._surfaces import MOTION, OMNI, ORIENTATIONS, VIDEO_ROLES, OmniCaps, omni_count_rule
from .errors import ValidationError
from .models import Element, ImageInput, Shot, element_labels, shot_text
from .video_requests import MotionControl, OmniVideo, ReferenceVideo, omni_images, video_label

NEW_EXTRAS = ("extra_contents", "extra_settings", "extra_options")
ASPECT_RATIOS = ("16:9", "9:16", "1:1")
MAX_SHOTS = 6
MAX_SHOT_PROMPT = 512
#: The service's duration when none is sent.
DEFAULT_DURATION = 5


def _model(model: object, table: Mapping[str, object], allow_unknown: bool, what: str) -> None:
    if not isinstance(model, str) or not model:
        raise ValidationError("model", model, "must be a model name")
    if model not in table and not allow_unknown:
        raise ValidationError(
            "model",
            model,
            f"is not a {what} model this SDK knows ({', '.join(table)}); pass "
            "allow_unknown_models=True to send it unchecked",
        )


def _choice(field: str, value: object, allowed: tuple[str, ...] | None, model: str) -> None:
    if allowed is None:
        if not isinstance(value, str) or not value:
            raise ValidationError(field, value, "must be a non-empty string")
    elif value not in allowed:
        raise ValidationError(field, value, f"{model} offers {', '.join(allowed)}")


def _url(field: str, value: object) -> None:
    if not isinstance(value, str) or not value.startswith(("http://", "https://")):
        raise ValidationError(field, value, "must be an http(s) URL (videos go by URL only)")


def _shots(request: OmniVideo, caps: OmniCaps | None) -> bool:
    """Check the multi-shot fields; return whether the video is multi-shot."""
    multi, shots = request.multi_shot, request.multi_prompt
    if multi not in (None, True, False):
        raise ValidationError("multi_shot", multi, "must be True, False or None")
    wanted = multi is True or bool(shots)
    if wanted and caps is not None and not caps.multi_shot:
        raise ValidationError("multi_shot", True, f"{request.model} makes single-shot videos")
    if not shots:
        return wanted
    if multi is False:
        raise ValidationError("multi_prompt", "given", "needs multi_shot True (or left None)")
    if len(shots) > MAX_SHOTS:
        raise ValidationError("multi_prompt", f"<{len(shots)} shots>", f"1 to {MAX_SHOTS}")
    for i, shot in enumerate(shots):
        if not isinstance(shot, Shot):
            raise ValidationError(f"multi_prompt[{i}]", shot, "must be a Shot")
        _checks.text(f"multi_prompt[{i}].prompt", shot.prompt, required=True, limit=MAX_SHOT_PROMPT)
        d = shot.duration
        if isinstance(d, bool) or not isinstance(d, int) or d < 1:
            raise ValidationError(f"multi_prompt[{i}].duration", d, "must be whole seconds ≥ 1")
    total, duration = sum(s.duration for s in shots), request.duration or DEFAULT_DURATION
    if total != duration:
        raise ValidationError(
            "multi_prompt",
            f"<shots adding up to {total} s>",
            f"the shots' durations must add up to duration ({duration} s)",
        )
    return True


def _video(request: OmniVideo, caps: OmniCaps | None, multi: bool) -> None:
    video = request.video
    if video is None:
        if request.audio == "original":
            raise ValidationError("audio", "original", "is a reference video's sound: give video")
        return
    if not isinstance(video, ReferenceVideo):
        raise ValidationError("video", video, "must be a ReferenceVideo")
    _url("video.url", video.url)
    if video.role not in VIDEO_ROLES:
        raise ValidationError("video.role", video.role, "must be 'feature' or 'base'")
    if caps is None:
        return
    if video.role == "base":
        if request.first_frame is not None or request.last_frame is not None:
            raise ValidationError("first_frame", "given", "a base video takes no frames")
        if multi:
            raise ValidationError("multi_shot", True, "a base video makes a single-shot video")
        if request.audio == "native":
            raise ValidationError("audio", "native", "a base video keeps or drops its own sound")
    elif caps.multi_shot:  # 3.0 Omni's feature video
        if request.multi_shot is False:
            raise ValidationError("multi_shot", False, "a feature video makes multi-shot videos")
        if request.audio not in (None, "off"):
            raise ValidationError("audio", request.audio, "a feature video's output is silent")
    elif request.last_frame is not None:  # O1's feature video
        raise ValidationError("last_frame", "given", f"{request.model}'s feature video takes none")


def _counts(request: OmniVideo, caps: OmniCaps) -> None:
    kinds = [e.kind if isinstance(e, Element) else "image" for e in request.elements]
    rule = omni_count_rule(
        caps,
        frames=request.first_frame is not None,
        last_frame=request.last_frame is not None,
        refs=len(request.images),
        image_elements=kinds.count("image"),
        video_elements=kinds.count("video"),
        video=request.video is not None,
    )
    if rule is not None:
        raise ValidationError(
            "images + elements",
            f"<{len(request.images)} images, {len(request.elements)} elements>",
            f"{request.model} {rule}",
        )


def _duration(request: OmniVideo, caps: OmniCaps | None) -> None:
    """Whole seconds; a known model's range (O1 without any reference: 5 or 10 only)."""
    duration = request.duration
    if duration is None:
        return
    if isinstance(duration, bool) or not isinstance(duration, int) or duration < 1:
        raise ValidationError("duration", duration, "must be a whole number of seconds")
    if caps is None:
        return
    bare = not (request.images or request.elements or request.video)
    allowed = caps.bare_durations if bare and caps.bare_durations else caps.durations
    if duration in allowed:
        return
    said = " or ".join(map(str, allowed)) if len(allowed) == 2 else f"{allowed[0]}..{allowed[-1]}"
    where = " without reference images, elements or video" if allowed != caps.durations else ""
    raise ValidationError("duration", duration, f"{request.model} offers {said} s{where}")


def plan_omni(request: OmniVideo, *, allow_unknown_models: bool) -> Plan:
    _model(request.model, OMNI, allow_unknown_models, "omni-video")
    caps = OMNI.get(request.model)
    limit = caps.prompt_chars if caps is not None else None
    _checks.text("prompt", request.prompt, required=not request.multi_prompt, limit=limit)
    _choice("mode", request.mode, caps.modes if caps else None, request.model)
    _duration(request, caps)
    if request.aspect_ratio is not None:
        _choice(
            "aspect_ratio", request.aspect_ratio, ASPECT_RATIOS if caps else None, request.model
        )
    if request.audio is not None:
        _choice("audio", request.audio, caps.audio if caps else None, request.model)
    if request.last_frame is not None and request.first_frame is None:
        raise ValidationError(
            "last_frame", "given", "needs a first_frame (no model takes an end frame alone)"
        )
    images = omni_images(request)
    _checks.element_ids("elements", request.elements)
    _checks.labels(
        "labels",
        [label for *_, label in images]
        + [label for _, label in element_labels(request.elements)]
        + ([video_label(request.video)] if isinstance(request.video, ReferenceVideo) else []),
    )
    multi = _shots(request, caps)
    _video(request, caps, multi)
    if caps is not None:
        _counts(request, caps)
    if request.multi_prompt and limit is not None:
        rendered = f"{request.prompt or ''} {shot_text(request.multi_prompt)}".strip()
        if len(rendered) > limit:
            raise ValidationError(
                "prompt + multi_prompt",
                f"<{len(rendered)} characters>",
                f"the prompt with its shots must be at most {limit} characters",
            )
    _checks.options(request)
    _checks.extras(request, "new", NEW_EXTRAS)
    family = caps.family if caps is not None else request.model
    features = frozenset({"multi_shot"} if multi else ())
    return Plan("omni_video", "new", request.model, family, features, None)


def plan_motion(request: MotionControl, *, allow_unknown_models: bool) -> Plan:
    _model(request.model, MOTION, allow_unknown_models, "motion-control")
    caps = MOTION.get(request.model)
    if request.image is None:
        raise ValidationError("image", None, "is required (the character to move)")
    if request.video_url is None:
        raise ValidationError("video_url", None, "is required (the motion to follow)")
    _url("video_url", request.video_url)
    if request.character_orientation is None:
        raise ValidationError("character_orientation", None, "is required: 'image' or 'video'")
    if request.character_orientation not in ORIENTATIONS:
        raise ValidationError(
            "character_orientation", request.character_orientation, "must be 'image' or 'video'"
        )
    _checks.text("prompt", request.prompt, limit=caps.prompt_chars if caps else None)
    _choice("mode", request.mode, caps.modes if caps else None, request.model)
    if request.keep_original_sound not in (None, True, False):
        raise ValidationError(
            "keep_original_sound", request.keep_original_sound, "must be True, False or None"
        )
    _checks.element_ids("elements", request.elements)
    if caps is not None and len(request.elements) > caps.max_elements:
        most = f"at most {caps.max_elements} element" if caps.max_elements else "no elements"
        raise ValidationError("elements", request.elements, f"{request.model} takes {most}")
    if request.elements and request.character_orientation != "video":
        raise ValidationError(
            "character_orientation",
            request.character_orientation,
            "with an element the output follows the video's orientation: use 'video'",
        )
    _checks.options(request)
    _checks.extras(request, "new", NEW_EXTRAS)
    family = caps.family if caps is not None else request.model
    return Plan("motion_control", "new", request.model, family, frozenset(), None)


def plan(request: OmniVideo | MotionControl, *, allow_unknown_models: bool) -> Plan:
    if isinstance(request, OmniVideo):
        return plan_omni(request, allow_unknown_models=allow_unknown_models)
    return plan_motion(request, allow_unknown_models=allow_unknown_models)


async def check_images(request: OmniVideo | MotionControl) -> None:
    """Read the image headers (in worker threads): jpg/png, ≤ 50 MB, ≥ 300 px, 1:2.5-2.5:1."""
    given: list[tuple[str, ImageInput]]
    if isinstance(request, OmniVideo):
        given = [(f"{kind} @{label}", image) for kind, image, label in omni_images(request)]
    else:
        given = [("image", request.image)] if request.image is not None else []
    sources = [_images.locate(field, image) for field, image in given]
    limit = _images.WIRE_MAX_BYTES["new"]
    await asyncio.gather(*(_images.inspect_async(s, max_bytes=limit) for s in sources))
