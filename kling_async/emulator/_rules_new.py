"""The new wire's request rules: ``POST /image-to-video/{model}`` and ``/text-to-video/{model}``.

Image to video: ``{"contents": [{"type": "prompt", "text"}, {"type": "first_frame", "url"},
{"type": "last_frame", "url"}, {"type": "voice", "voice_id"}], "settings": {...},
"options": {...}}``. Text to video: ``{"prompt", "settings": {... "aspect_ratio"},
"options": {...}}``. ``settings.duration`` is an integer; resolution 720p/1080p/4k stands for
the legacy modes std/pro/4k. Fields the new wire does not know (negative_prompt, cfg_scale,
camera_control, mode, image_tail, multi_prompt...) are refused with 1201 naming the field.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ._errors import Rejection, invalid
from ._images import MAX_IMAGE_BYTES_NEW, ImageInfo, read_image
from ._models import LEGACY_MODELS, MODE_RESOLUTION, NEW_MODELS, RESOLUTIONS, Model
from ._shared import (
    ASPECT_RATIOS,
    MAX_VOICES,
    TaskSpec,
    Wording,
    check_offer,
    choice_field,
    common_fields,
    string_field,
)

PATHS = {"image2video": "image-to-video", "text2video": "text-to-video"}
TOP_FIELDS = {
    "image2video": ("contents", "settings", "options"),
    "text2video": ("prompt", "settings", "options"),
}
SETTINGS_FIELDS = {
    "image2video": ("resolution", "duration", "audio"),
    "text2video": ("resolution", "duration", "audio", "aspect_ratio"),
}
OPTIONS_FIELDS = ("callback_url", "external_task_id", "watermark_info")
CONTENT_TYPES = ("prompt", "first_frame", "last_frame", "voice")

NEW_WORDS = Wording(
    mode="settings.resolution",
    duration="settings.duration",
    sound="settings.audio",
    sound_off="off",
    fields={
        "tail": "contents[last_frame]",
        "sound": "settings.audio",
        "voice": "contents[voice]",
        "multi_shot": "multi_shot",
        "elements": "element_list",
    },
    show_mode=lambda mode: repr(MODE_RESOLUTION.get(mode or "", mode)),
)


def new_model(kind: str, name: str) -> Model:
    """The model a new-wire path names, or 404 code 1203."""
    model = NEW_MODELS.get(name)
    if model is None:
        served = ", ".join(NEW_MODELS)
        hint = " (a legacy name: use /v1/videos with model_name)" if name in LEGACY_MODELS else ""
        raise Rejection(
            404,
            1203,
            f"model {name!r} not found{hint}: POST /{PATHS[kind]}/{{model}} serves {served}",
        )
    return model


def _unknown(obj: Mapping[str, Any], allowed: tuple[str, ...], where: str, prefix: str) -> None:
    for field in sorted(set(obj) - set(allowed)):
        raise invalid(
            f"{prefix}{field}: not a field of {where} (it takes {', '.join(allowed)}); "
            "legacy-only fields are not carried by the new API"
        )


def _object(body: Mapping[str, Any], field: str) -> Mapping[str, Any]:
    value = body.get(field)
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise invalid(f"{field}: expected an object, got {value!r:.40}")
    return value


def _contents(
    contents: object, max_prompt: int
) -> tuple[str, ImageInfo | None, ImageInfo | None, int]:
    """(prompt, first frame, last frame, number of voices) of an image-to-video ``contents``."""
    if not isinstance(contents, list) or not contents:
        raise invalid("contents: required, a non-empty list of {type, ...} items")
    prompt: str | None = None
    frames: dict[str, ImageInfo] = {}
    voice_ids: list[str] = []
    refs: set[str] = set()
    for i, item in enumerate(contents):
        if not isinstance(item, dict):
            raise invalid(f"contents[{i}]: expected an object {{type, ...}}, got {item!r:.40}")
        kind = item.get("type")
        if kind not in CONTENT_TYPES:
            raise invalid(
                f"contents[{i}].type: {kind!r:.40} is not one of "
                f"{', '.join(map(repr, CONTENT_TYPES))}"
            )
        if kind == "prompt":
            if prompt is not None:
                raise invalid(f"contents[{i}]: a second prompt item; give one")
            prompt = string_field(item, "text", limit=max_prompt, name=f"contents[{i}].text")
            if prompt is None:
                raise invalid(f"contents[{i}].text: required in a prompt item")
        elif kind in ("first_frame", "last_frame"):
            if kind in frames:
                raise invalid(f"contents[{i}]: a second {kind} item; give one")
            frames[kind] = read_image(
                f"contents[{i}].url ({kind})", item.get("url"), max_bytes=MAX_IMAGE_BYTES_NEW
            )
        else:
            voice_id = item.get("voice_id")
            if not isinstance(voice_id, str) or not voice_id:
                raise invalid(f"contents[{i}].voice_id: required, a non-empty string")
            ref = item.get("id")
            if ref is not None and not isinstance(ref, str):
                raise invalid(f"contents[{i}].id: expected a string, got {ref!r:.40}")
            if ref is not None and ref in refs:
                raise invalid(f"contents[{i}].id: {ref!r:.40} is used by another voice item")
            refs.add(ref or "")
            voice_ids.append(voice_id)
    if "first_frame" not in frames:
        raise invalid(
            "contents: a first_frame item is required (no model takes a last_frame alone)"
        )
    if len(voice_ids) > MAX_VOICES:
        raise invalid(f"contents[voice]: {len(voice_ids)} voices; at most {MAX_VOICES}")
    return prompt or "", frames["first_frame"], frames.get("last_frame"), len(voice_ids)


def _duration(settings: Mapping[str, Any]) -> str:
    value = settings.get("duration", 5)
    if isinstance(value, bool) or not isinstance(value, int):
        raise invalid(
            f"settings.duration: {value!r:.40} must be an integer number of seconds (e.g. 5)"
        )
    return str(value)


def check_new(kind: str, model_name: str, body: Mapping[str, Any]) -> TaskSpec:
    """Validate a new-wire create for ``kind`` on ``model_name``; raise ``Rejection``."""
    model = new_model(kind, model_name)
    offer = model.offers[kind]
    where = f"POST /{PATHS[kind]}/{model.name}"
    _unknown(body, TOP_FIELDS[kind], where, "")
    settings = _object(body, "settings")
    options = _object(body, "options")
    _unknown(settings, SETTINGS_FIELDS[kind], where, "settings.")
    _unknown(options, OPTIONS_FIELDS, where, "options.")
    image = tail = None
    voices = 0
    aspect = "16:9"
    if kind == "image2video":
        prompt, image, tail, voices = _contents(body.get("contents"), offer.max_prompt)
    else:
        text = string_field(body, "prompt", limit=offer.max_prompt)
        if not text or not text.strip():
            raise invalid("prompt: required for text to video and must not be blank")
        prompt = text
        given = choice_field(settings, "aspect_ratio", ASPECT_RATIOS, name="settings.aspect_ratio")
        aspect = given or "16:9"
    resolution = choice_field(
        settings, "resolution", tuple(RESOLUTIONS), name="settings.resolution"
    )
    mode = RESOLUTIONS[resolution or "720p"]
    duration = _duration(settings)
    audio = choice_field(settings, "audio", ("native", "off"), name="settings.audio")
    sound = audio == "native" or (audio is None and offer.always_sound)
    if voices and not sound:
        raise invalid(f"contents[voice]: requires settings.audio 'native', got {audio!r}")
    present = {"tail": tail is not None, "sound": sound, "voice": voices > 0}
    features = {name for name, on in present.items() if on}
    check_offer(
        model.name, kind, offer, mode, duration, features, NEW_WORDS, sound_off=audio == "off"
    )
    external, callback = common_fields(options, prefix="options.", empty_is_absent=True)
    return TaskSpec(
        kind=kind,
        model=model.name,
        mode=mode,
        duration=duration,
        prompt=prompt,
        features=frozenset(features),
        image=image,
        aspect_ratio=aspect,
        external_task_id=external,
        callback_url=callback,
        wire="new",
        family=model.family,
        sound=sound,
    )
