"""What becomes a job: an ``Input`` (a request, where it came from, which fields the options
filled in) or a ``BadRow`` (where, and why it cannot be one); the job built from the options'
defaults and a row's own fields."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import attrs

from ...errors import ValidationError
from ...models import CAMERA_PRESETS, CameraControl, ImageToVideo, TextToVideo
from .shots import read_shots

#: Job fields that only image to video has (left out of a text-to-video row's job).
IMAGE_ONLY_FIELDS = frozenset(
    {"image", "image_tail", "static_mask", "dynamic_masks", "elements", "camera_control"}
)
#: Camera presets image to video can take: the ``simple`` moves (the named types such as
#: ``forward_up`` are text to video only).
IMAGE_CAMERA_PRESETS = tuple(n for n, move in CAMERA_PRESETS.items() if isinstance(move, tuple))
#: Models named in help texts: the live ones of Kling's 2026 map.
LIVE_MODELS = "kling-v2-6 (default), kling-v2-5-turbo, kling-v3, kling-3.0-turbo, kling-3.0"


@attrs.frozen
class BadRow:
    """An input that could not become a job: where it is and why."""

    source: str
    reason: str


def camera(value: str) -> CameraControl:
    """A camera preset name (``zoom_in``...) as a ``CameraControl``."""
    if value not in CAMERA_PRESETS:
        raise ValidationError(
            "camera", value, f"unknown preset; choose from {', '.join(CAMERA_PRESETS)}"
        )
    return CameraControl.preset(value)


def defaults_from_options(opts: dict[str, Any], *, duration_given: bool = True) -> dict[str, Any]:
    """The request fields ``animate``'s options give every job (a manifest row may override
    them). A ``--multi-prompt`` script sets the duration (its shots' total) unless
    ``duration_given``. Raises ``ValidationError`` (an unknown camera preset, a bad shot
    file)."""
    fields: dict[str, Any] = {
        "model": opts["model"],
        "mode": opts["mode"],
        "duration": opts["duration"],
    }
    optional = {
        "prompt": opts["prompt"],
        "aspect_ratio": opts["aspect_ratio"],
        "negative_prompt": opts["negative_prompt"],
        "cfg_scale": opts["cfg_scale"],
        "sound": opts["sound"],
        "watermark": opts["watermark"],
        "callback_url": opts["callback_url"],
        "image_tail": opts["end_frame"],
    }
    fields.update({k: v for k, v in optional.items() if v is not None})
    if opts["camera"]:
        fields["camera_control"] = camera(opts["camera"])
    if opts["voice"]:
        fields["voices"] = tuple(opts["voice"])
    if opts["element"]:
        fields["elements"] = tuple(opts["element"])
    if opts["multi_prompt"] is not None:
        shots = read_shots(opts["multi_prompt"])
        fields["multi_prompt"] = shots
        if shots and not duration_given:
            fields["duration"] = sum(shot.duration for shot in shots)
    return fields


def build_job(defaults: dict[str, Any], fields: dict[str, Any]) -> ImageToVideo | TextToVideo:
    """A job from the flags' defaults and a row's own values (the row wins). A row with a
    prompt and neither ``image`` nor ``end_frame`` is text to video: the image-only flags
    (``--end-frame``, ``--element``, ``--camera``) do not apply to it."""
    text = "image" not in fields and "image_tail" not in fields
    merged = {**defaults, **fields}
    try:
        if text:
            kept = {k: v for k, v in merged.items() if k not in IMAGE_ONLY_FIELDS}
            return TextToVideo(**kept)
        if "aspect_ratio" in fields:
            raise ValidationError(
                "aspect_ratio",
                fields["aspect_ratio"],
                "only a text-to-video row (no image) takes one; an image sets its own",
            )
        merged.pop("aspect_ratio", None)
        return ImageToVideo(**merged)
    except ValidationError:
        raise
    except (TypeError, ValueError) as exc:
        raise ValidationError("row", sorted(fields), str(exc)) from None


@attrs.frozen(eq=False)
class Prepared:
    """What one image of a job became: the file it came from, what is sent instead (a file,
    or the bytes when the cache could not be written), and what was done, in words and as a
    record. The prepared bytes themselves are not kept: the job reads them when it is sent."""

    field: str
    original: Path
    sent: Path | bytes
    description: str
    record: dict[str, Any]


@attrs.frozen
class Input:
    """One job to make, where it came from, and which of its fields the options filled in
    (the rest came from its manifest row)."""

    source: str
    job: ImageToVideo | TextToVideo
    from_options: frozenset[str]
    #: Its sub-folder under the folder named on the command line ("" at the top).
    folder: str = ""
    #: What its image and end frame became (``animate`` prepares them; see ``prepare``).
    prepared: tuple[Prepared, ...] = ()

    def original(self, field: str) -> Any:
        """The job's ``field`` as the input gave it: the file, not the prepared one sent."""
        for prepared in self.prepared:
            if prepared.field == field:
                return prepared.original
        return getattr(self.job, field, None)


#: Options that fill a job field, and the field each fills (``Input.from_options`` names them).
OPTION_FIELDS = {
    "camera": "camera_control",
    "end_frame": "image_tail",
    "sound": "sound",
    "voice": "voices",
    "multi_prompt": "multi_prompt",
    "element": "elements",
    "negative_prompt": "negative_prompt",
    "cfg_scale": "cfg_scale",
    "model": "model",
    "mode": "mode",
    "duration": "duration",
}


def make_input(
    source: str, defaults: dict[str, Any], fields: dict[str, Any], folder: str = ""
) -> Input:
    """A job from the options' defaults and a row's own fields, remembering which options it
    took (raises ``ValidationError``)."""
    job = build_job(defaults, fields)
    image = isinstance(job, ImageToVideo)
    given = frozenset(
        o
        for o, f in OPTION_FIELDS.items()
        if f not in fields and (image or f not in IMAGE_ONLY_FIELDS)
    )
    return Input(source, job, given, folder)
