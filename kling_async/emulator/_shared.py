"""What both wires' request rules share: the task spec, field readers, the capability check.

The capability check refuses (1201) what a model's ``Offer`` does not cover and names the field
in the spelling of the wire that was used (``Wording``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, TypedDict

import attrs

from ._errors import invalid
from ._images import ImageInfo
from ._models import FEATURE_NAMES, Offer

MAX_VOICES = 2
ASPECT_RATIOS = ("16:9", "9:16", "1:1")
KIND_NAMES = {
    "image2video": "image to video",
    "text2video": "text to video",
    "omni_video": "omni video",
    "motion_control": "motion control",
    "image_generation": "image generation",
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
    #: Set when the task is accepted but must end failed with this message.
    late_failure: str | None = None
    #: "legacy" (``/v1/videos/...``) or "new" (``/image-to-video/{model}``...)
    wire: str = "legacy"
    #: The concurrency family (``_models``); parallel tasks are counted per account x family.
    family: str = ""
    #: Native audio generated (priced): sound on, voices, or a model that always has audio.
    sound: bool = False
    #: The result has an audio track: native audio, voices, or a reference video's own sound.
    audio: bool = False
    #: "video" or "image" (the resource pack it draws on; image tasks make ``count`` images).
    product: str = "video"
    #: Images an image task makes (``n``): it also holds that many parallel-task slots.
    count: int = 1
    #: A reference video was given (omni video, motion control): priced higher.
    video_input: bool = False
    #: ``watermark_info.enabled``.
    watermark: bool = False


@attrs.frozen
class Wording:
    """How one wire names the fields a capability message must point at."""

    mode: str
    duration: str
    sound: str
    sound_off: str
    fields: Mapping[str, str]
    show_mode: Callable[[str | None], str]


def check_offer(
    model: str,
    kind: str,
    offer: Offer,
    mode: str | None,
    duration: str,
    features: set[str],
    words: Wording,
    *,
    sound_off: bool = False,
) -> None:
    """Refuse (1201, naming the field) what ``offer`` does not cover."""
    what = KIND_NAMES[kind]
    show = words.show_mode
    if mode not in offer.modes:
        options = ", ".join(show(m) for m in offer.modes)
        raise invalid(f"{words.mode}: {model} offers {options} for {what}; got {show(mode)}")
    if duration not in offer.durations:
        options = ", ".join(repr(d) for d in offer.durations)
        raise invalid(
            f"{words.duration}: {model} offers durations {options} s for {what}; got {duration!r}"
        )
    for feature in sorted(features):
        field, name = words.fields[feature], FEATURE_NAMES[feature]
        allowed = offer.features.get(feature)
        if not allowed:
            raise invalid(f"{field}: {model} does not offer {name} for {what}")
        if mode not in allowed:
            options = ", ".join(show(m) for m in offer.modes if m in allowed)
            raise invalid(
                f"{field}: {model} offers {name} only with {words.mode} {options}; got {show(mode)}"
            )
    if {"voice", "tail"} <= features:
        tail, voice = words.fields["tail"], words.fields["voice"]
        raise invalid(f"{tail} and {voice}: {model} does not take an end frame with voices")
    if "sound" in features:
        for feature in sorted(features & offer.silent):
            raise invalid(
                f"{words.fields[feature]}: {model} offers {FEATURE_NAMES[feature]} only silent "
                f"({words.sound} {words.sound_off!r})"
            )
    if offer.always_sound and sound_off:
        raise invalid(
            f"{words.sound}: {model} always generates audio; {words.sound_off!r} is not offered"
        )


# -- field readers shared by both wires ------------------------------------------------------
def string_field(
    body: Mapping[str, Any], field: str, *, limit: int | None = None, name: str | None = None
) -> str | None:
    value = body.get(field)
    shown = name or field
    if value is None:
        return None
    if not isinstance(value, str):
        raise invalid(f"{shown}: expected a string, got {type(value).__name__} {value!r:.40}")
    if limit is not None and len(value) > limit:
        raise invalid(f"{shown}: {len(value)} characters exceeds the limit of {limit}")
    return value


def choice_field(
    body: Mapping[str, Any], field: str, allowed: tuple[str, ...], *, name: str | None = None
) -> str | None:
    value = body.get(field)
    if value is None:
        return None
    if value not in allowed:
        raise invalid(f"{name or field}: {value!r} is not one of {', '.join(map(repr, allowed))}")
    return str(value)


def integer_value(value: object) -> int | None:
    """An int, or a string of digits, as an int; None for anything else."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.isdigit():
        return int(value)
    return None


class CommonFields(TypedDict):
    """What every create may carry besides the task, as the ``TaskSpec`` fields it fills:
    ``TaskSpec(..., **common_fields(body))``."""

    external_task_id: str | None
    callback_url: str | None
    #: ``watermark_info.enabled``; false when absent.
    watermark: bool


def common_fields(
    body: Mapping[str, Any], *, prefix: str = "", empty_is_absent: bool = False
) -> CommonFields:
    """``watermark_info``, ``callback_url`` and ``external_task_id``, checked."""
    watermark = body.get("watermark_info")
    if watermark is not None and (
        not isinstance(watermark, dict) or not isinstance(watermark.get("enabled"), bool)
    ):
        raise invalid(
            f"{prefix}watermark_info: expected {{'enabled': true|false}}, got {watermark!r:.40}"
        )
    callback = string_field(body, "callback_url", name=f"{prefix}callback_url")
    external = string_field(body, "external_task_id", limit=256, name=f"{prefix}external_task_id")
    if empty_is_absent:  # the new wire's own examples send "" for "none"
        callback, external = callback or None, external or None
    if callback is not None and not callback.startswith(("http://", "https://")):
        raise invalid(f"{prefix}callback_url: {callback!r:.60} is not an http(s) URL")
    if external is not None and not external.strip():
        raise invalid(f"{prefix}external_task_id: must not be blank")
    return CommonFields(
        external_task_id=external,
        callback_url=callback,
        watermark=watermark is not None and watermark["enabled"] is True,
    )
