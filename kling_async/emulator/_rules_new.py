"""The new wire's request rules: ``POST /image-to-video/{model}`` and ``/text-to-video/{model}``.

Image to video: ``{"contents": [{"type": "prompt", "text"}, {"type": "first_frame", "url"},
{"type": "last_frame", "url"}, {"type": "element", "element_id", "id"} (kling-3.0, at most 3),
{"type": "voice", "voice_id", "id"} (kling-2.6, at most 2)], "settings": {...},
"options": {...}}``. Text to video: ``{"prompt", "settings": {... "aspect_ratio"},
"options": {...}}``. ``settings.duration`` is an integer; resolution 720p/1080p/4k stands for
the legacy modes std/pro/4k. kling-3.0 takes ``settings.multi_shot`` (default true); on it and
on kling-3.0-turbo a prompt in the shot syntax (``_contents.check_shots``) is checked against
the duration. Items are referred to as ``@id`` in the prompt; a reference is not required.
Fields the new wire does not know (negative_prompt, cfg_scale, camera_control, mode,
image_tail, multi_prompt...) are refused with 1201 naming the field.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping
from typing import Any

from ._contents import (
    check_shots,
    duration_setting,
    flag_setting,
    in_shot_syntax,
    object_field,
    read_contents,
    unknown_fields,
)
from ._errors import Rejection, invalid
from ._images import ImageInfo
from ._models import (
    LEGACY_MODELS,
    MODE_RESOLUTION,
    NEW_MODELS,
    RESOLUTIONS,
    Model,
    Offer,
    generic_model,
)
from ._shared import (
    ASPECT_RATIOS,
    MAX_VOICES,
    CommonFields,
    TaskSpec,
    Wording,
    check_offer,
    choice_field,
    common_fields,
    string_field,
)

PATHS = {
    "image2video": "image-to-video",
    "text2video": "text-to-video",
    "omni_video": "omni-video",
    "motion_control": "motion-control",
}
TOP_FIELDS = {
    "image2video": ("contents", "settings", "options"),
    "text2video": ("prompt", "settings", "options"),
}
SETTINGS_FIELDS = {
    "image2video": ("resolution", "duration", "audio"),
    "text2video": ("resolution", "duration", "audio", "aspect_ratio"),
}
OPTIONS_FIELDS = ("callback_url", "external_task_id", "watermark_info")
CONTENT_TYPES = ("prompt", "first_frame", "last_frame", "element", "voice")
_RATIO = re.compile(r"^[1-9][0-9]{0,2}:[1-9][0-9]{0,2}$")

NEW_WORDS = Wording(
    mode="settings.resolution",
    duration="settings.duration",
    sound="settings.audio",
    sound_off="off",
    fields={
        "tail": "contents[last_frame]",
        "sound": "settings.audio",
        "voice": "contents[voice]",
        "multi_shot": "settings.multi_shot",
        "elements": "contents[element]",
    },
    show_mode=lambda mode: repr(MODE_RESOLUTION.get(mode or "", mode)),
)


def new_model(kind: str, name: str, allowed: Collection[str] = ()) -> Model:
    """The model a new-wire path names (or an allowed unknown one), or 404 code 1203."""
    model = NEW_MODELS.get(name)
    if model is not None:
        return model
    if name in allowed:
        return generic_model(name)
    raise not_found(kind, name, NEW_MODELS)


def not_found(kind: str, name: str, served: Collection[str]) -> Rejection:
    """404 code 1203: the path names a model this endpoint does not serve."""
    hint = " (a legacy name: use /v1/videos with model_name)" if name in LEGACY_MODELS else ""
    return Rejection(
        404,
        1203,
        f"model {name!r} not found{hint}: POST /{PATHS[kind]}/{{model}} serves {', '.join(served)}",
    )


def options_fields(body: Mapping[str, Any], where: str, *, future: bool = False) -> CommonFields:
    """``options``: ``common_fields``; "" stands for none, as the examples send. ``future``:
    an allowed unknown model, which may take options no page names."""
    options = object_field(body, "options")
    unknown_fields(options, OPTIONS_FIELDS, where, "options.", future=future)
    return common_fields(options, prefix="options.", empty_is_absent=True)


def aspect_setting(settings: Mapping[str, Any], generic: bool) -> str:
    """``settings.aspect_ratio`` (default 16:9); an allowed unknown model takes any W:H."""
    value = settings.get("aspect_ratio")
    if generic and isinstance(value, str) and _RATIO.match(value):
        return value
    return choice_field(settings, "aspect_ratio", ASPECT_RATIOS, name="settings.aspect_ratio") or (
        "16:9"
    )


def _image_contents(
    contents: object, offer: Offer, model: str
) -> tuple[str, ImageInfo, ImageInfo | None, int, int]:
    """(prompt, first frame, last frame, voices, elements) of an image-to-video ``contents``."""
    found = read_contents(contents, CONTENT_TYPES, offer.max_prompt)
    first = found.first("first_frame")
    if first is None:
        raise invalid(
            "contents: a first_frame item is required (no model takes a last_frame alone)"
        )
    voices, elements = len(found.voice_ids), len(found.element_ids)
    if voices > MAX_VOICES:
        raise invalid(f"contents[voice]: {voices} voices; at most {MAX_VOICES}")
    if elements > offer.max_elements and "elements" in offer.features:
        raise invalid(
            f"contents[element]: {elements} elements; {model} takes at most {offer.max_elements}"
        )
    return found.prompt, first, found.first("last_frame"), voices, elements


def check_new(
    kind: str, model_name: str, body: Mapping[str, Any], allowed: Collection[str] = ()
) -> TaskSpec:
    """Validate an image- or text-to-video create on ``model_name``; raise ``Rejection``."""
    model = new_model(kind, model_name, allowed)
    offer = model.offers[kind]
    generic = model.name not in NEW_MODELS
    where = f"POST /{PATHS[kind]}/{model.name}"
    unknown_fields(body, TOP_FIELDS[kind], where, "")
    settings = object_field(body, "settings")
    multi_field = ("multi_shot",) if offer.shot_setting else ()
    unknown_fields(
        settings, SETTINGS_FIELDS[kind] + multi_field, where, "settings.", future=generic
    )
    common = options_fields(body, where, future=generic)
    image = tail = None
    voices = elements = 0
    aspect = "16:9"
    if kind == "image2video":
        prompt, image, tail, voices, elements = _image_contents(
            body.get("contents"), offer, model.name
        )
    else:
        text = string_field(body, "prompt", limit=offer.max_prompt)
        if not text or not text.strip():
            raise invalid("prompt: required for text to video and must not be blank")
        prompt = text
        aspect = aspect_setting(settings, generic)
    resolution = choice_field(
        settings, "resolution", tuple(RESOLUTIONS), name="settings.resolution"
    )
    mode = RESOLUTIONS[resolution or "720p"]
    seconds = duration_setting(settings)
    duration = str(seconds)
    multi = flag_setting(settings, "multi_shot", True) if multi_field else offer.shots
    shots = 1
    if multi and offer.shots:
        shots = check_shots(prompt, seconds, "contents[prompt].text" if image else "prompt")
    elif not offer.shots and prompt and in_shot_syntax(prompt):
        field = "contents[prompt].text" if image else "prompt"
        raise invalid(
            f"{field}: written as shots, but {model.name} does not make multi-shot videos"
        )
    audio = choice_field(settings, "audio", ("native", "off"), name="settings.audio")
    sound = audio == "native" or (audio is None and offer.always_sound)
    if voices and not sound:
        raise invalid(f"contents[voice]: requires settings.audio 'native', got {audio!r}")
    present = {
        "tail": tail is not None,
        "sound": sound,
        "voice": voices > 0,
        "elements": elements > 0,
        "multi_shot": shots > 1,
    }
    features = {name for name, on in present.items() if on}
    check_offer(
        model.name, kind, offer, mode, duration, features, NEW_WORDS, sound_off=audio == "off"
    )
    return TaskSpec(
        kind=kind,
        model=model.name,
        mode=mode,
        duration=duration,
        prompt=prompt,
        features=frozenset(features),
        image=image,
        aspect_ratio=aspect,
        wire="new",
        family=model.family,
        sound=sound,
        audio=sound,
        **common,
    )
