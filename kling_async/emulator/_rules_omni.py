"""Omni video: ``POST /omni-video/kling-3.0-omni`` and ``/omni-video/kling-o1``.

The emulator's reading of the two vendor pages (kling-omni-3.0-ovg, kling-o1-video):

- ``contents``: prompt (required), first_frame, last_frame, refer_image, feature_video,
  base_video, element (``{element_id, id}``); ids unique; ``@id`` refers to an item.
- A last frame needs a first frame. At most one reference video (feature or base).
- ``feature_video``: on 3.0-omni ``multi_shot`` only true and ``audio`` only off; on O1 a first
  frame is allowed, a last frame is not. ``base_video``: no first or last frame, no multi-shot,
  no native audio.
- Element counts: with a first frame (or first and last) at most 3; otherwise reference images
  plus elements at most 7 without a reference video, 4 with one. O1: first + last frames take
  no reference images and no elements. The emulator cannot tell a video-character element from
  a multi-image one by its id: every element counts as a multi-image element.
- ``settings``: audio native|original|off on 3.0-omni, original|off on O1 (default off;
  ``original`` keeps the reference video's sound, so it needs one); resolution 720p|1080p|4k
  (O1: no 4k); aspect_ratio 16:9|9:16|1:1 (default 16:9; the pages call it required without a
  first frame or reference video, yet their own prompt-only example leaves it out, so the
  default applies); duration 3-15 s on 3.0-omni, 3-10 s on O1 and only 5 or 10 with a first
  frame and nothing else to refer to; ``multi_shot`` (3.0-omni only, default true, false with a
  base video) and the prompt's shot syntax.
- An unknown model allowed by the config gets the checks both pages share and nothing more.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Any

import attrs

from ._contents import (
    Contents,
    check_shots,
    duration_setting,
    flag_setting,
    object_field,
    read_contents,
    unknown_fields,
)
from ._errors import invalid
from ._models import (
    GENERIC_MAX_PROMPT,
    GENERIC_SECONDS,
    K4,
    MAX_PROMPT,
    MAX_PROMPT_3_0,
    PRO,
    RESOLUTIONS,
    STD,
    by_name,
)
from ._rules_new import aspect_setting, not_found, options_fields
from ._shared import TaskSpec, choice_field

CONTENT_TYPES = (
    "prompt",
    "first_frame",
    "last_frame",
    "refer_image",
    "feature_video",
    "base_video",
    "element",
)
MAX_ELEMENTS_WITH_FRAMES = 3
MAX_REFS = 7
MAX_REFS_WITH_VIDEO = 4


@attrs.frozen
class OmniModel:
    """What one omni-video model takes."""

    name: str
    family: str
    modes: tuple[str, ...]
    durations: tuple[int, ...]
    audio: tuple[str, ...]
    max_prompt: int
    multi_shot: bool
    #: durations allowed when a first frame is the only thing to refer to (O1: 5 or 10)
    first_frame_only: tuple[int, ...] | None = None
    #: O1: first and last frames take no reference images and no elements
    frames_alone: bool = False
    #: 3.0-omni: a feature video needs multi_shot true and audio off
    feature_strict: bool = False


OMNI_MODELS = by_name(
    OmniModel(
        "kling-3.0-omni",
        "3.0-omni",
        (STD, PRO, K4),
        tuple(range(3, 16)),
        ("native", "original", "off"),
        MAX_PROMPT_3_0,
        multi_shot=True,
        feature_strict=True,
    ),
    OmniModel(
        "kling-o1",
        "o1",
        (STD, PRO),
        tuple(range(3, 11)),
        ("original", "off"),
        MAX_PROMPT,
        multi_shot=False,
        first_frame_only=(5, 10),
        frames_alone=True,
    ),
)


def _model(name: str, allowed: Collection[str]) -> OmniModel:
    model = OMNI_MODELS.get(name)
    if model is not None:
        return model
    if name in allowed:
        return OmniModel(
            name,
            name,
            (STD, PRO, K4),
            tuple(GENERIC_SECONDS),
            ("native", "original", "off"),
            GENERIC_MAX_PROMPT,
            multi_shot=True,
        )
    raise not_found("omni_video", name, OMNI_MODELS)


def _frames(model: OmniModel, found: Contents, video: str | None) -> None:
    """First/last frame rules and the element and reference-image counts."""
    first, last = found.count("first_frame"), found.count("last_frame")
    refs, elements = found.count("refer_image"), len(found.element_ids)
    if last and not first:
        raise invalid("contents[last_frame]: a last frame needs a first_frame item (none given)")
    if video == "base_video" and (first or last):
        raise invalid(
            "contents[base_video]: a base video to edit takes no first_frame or last_frame"
        )
    if video == "feature_video" and last and model.frames_alone:
        raise invalid(
            f"contents[last_frame]: {model.name} takes no last frame with a feature_video"
        )
    if model.frames_alone and first and last and (refs or elements):
        raise invalid(
            f"contents[refer_image/element]: {model.name} takes no reference images or elements "
            f"with first and last frames (got {refs} images, {elements} elements)"
        )
    if first and elements > MAX_ELEMENTS_WITH_FRAMES:
        raise invalid(
            f"contents[element]: {elements} elements; with a first frame at most "
            f"{MAX_ELEMENTS_WITH_FRAMES}"
        )
    limit = MAX_REFS_WITH_VIDEO if video else MAX_REFS
    if refs + elements > limit:
        with_video = "with" if video else "without"
        raise invalid(
            f"contents[refer_image/element]: {refs} reference images + {elements} elements = "
            f"{refs + elements}; at most {limit} {with_video} a reference video"
        )


def _audio(model: OmniModel, settings: Mapping[str, Any], video: str | None) -> str:
    audio = choice_field(settings, "audio", model.audio, name="settings.audio") or "off"
    if audio == "original" and video is None:
        raise invalid(
            "settings.audio: 'original' keeps a reference video's sound; "
            "give a feature_video or base_video item"
        )
    if video == "base_video" and audio == "native":
        raise invalid("settings.audio: 'native' is not offered with a base_video to edit")
    if video == "feature_video" and model.feature_strict and audio != "off":
        raise invalid(
            f"settings.audio: {audio!r}; with a feature_video {model.name} takes only 'off'"
        )
    return audio


def _multi_shot(model: OmniModel, settings: Mapping[str, Any], video: str | None) -> bool:
    if not model.multi_shot:
        return False
    flag = flag_setting(settings, "multi_shot", video != "base_video")
    if video == "base_video" and flag:
        raise invalid("settings.multi_shot: true is not offered with a base_video to edit")
    if video == "feature_video" and model.feature_strict and not flag:
        raise invalid(
            f"settings.multi_shot: false; with a feature_video {model.name} takes only true"
        )
    return flag


def _duration(model: OmniModel, settings: Mapping[str, Any], found: Contents, video: bool) -> int:
    seconds = duration_setting(settings)
    allowed = model.durations
    only_first = found.count("first_frame") and not (
        video or found.count("refer_image") or found.count("last_frame") or found.element_ids
    )
    if only_first and model.first_frame_only is not None:
        allowed = model.first_frame_only
    if seconds not in allowed:
        shown = ", ".join(map(str, allowed)) if len(allowed) < 4 else f"{allowed[0]}-{allowed[-1]}"
        why = " with only a first frame" if allowed is model.first_frame_only else ""
        raise invalid(
            f"settings.duration: {seconds} s; {model.name} offers {shown} s{why} for omni video"
        )
    return seconds


def check_omni(name: str, body: Mapping[str, Any], allowed: Collection[str] = ()) -> TaskSpec:
    """Validate an omni-video create; raise ``Rejection`` naming the field and the rule."""
    model = _model(name, allowed)
    where = f"POST /omni-video/{model.name}"
    unknown_fields(body, ("contents", "settings", "options"), where, "")
    settings = object_field(body, "settings")
    fields = ("resolution", "duration", "audio", "aspect_ratio")
    future = name not in OMNI_MODELS
    unknown_fields(
        settings,
        fields + (("multi_shot",) if model.multi_shot else ()),
        where,
        "settings.",
        future=future,
    )
    common = options_fields(body, where, future=future)
    found = read_contents(body.get("contents"), CONTENT_TYPES, model.max_prompt)
    if not found.prompt.strip():
        raise invalid("contents[prompt]: a prompt item with non-blank text is required")
    if len(found.videos) > 1:
        raise invalid(f"contents[video]: {len(found.videos)} reference videos; at most 1")
    video = found.videos[0][0] if found.videos else None
    _frames(model, found, video)
    resolution = choice_field(
        settings,
        "resolution",
        tuple(r for r, m in RESOLUTIONS.items() if m in model.modes),
        name="settings.resolution",
    )
    audio = _audio(model, settings, video)
    multi = _multi_shot(model, settings, video)
    seconds = _duration(model, settings, found, video is not None)
    shots = check_shots(found.prompt, seconds, "contents[prompt].text") if multi else 1
    image = found.first("first_frame") or found.first("refer_image")
    return TaskSpec(
        kind="omni_video",
        model=model.name,
        mode=RESOLUTIONS[resolution or "720p"],
        duration=str(seconds),
        prompt=found.prompt,
        features=frozenset({"multi_shot"} if shots > 1 else ()),
        image=image,
        aspect_ratio=aspect_setting(settings, model.name not in OMNI_MODELS),
        wire="new",
        family=model.family,
        sound=audio == "native",
        audio=audio != "off",
        video_input=video is not None,
        **common,
    )
