"""What becomes a job: an ``Input`` (a request, where it came from, which fields the options
filled in) or a ``BadRow`` (where, and why it cannot be one); the job built from the options'
defaults and a row's own fields."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import attrs

from ...errors import ValidationError
from ...models import CAMERA_PRESETS
from ...validation import AnyRequest
from ...video_requests import ReferenceImage
from .columns import BY_NAME, KIND, KINDS, camera, infer_kind
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


#: The options' fields a row of another kind (omni video, motion control, images) takes,
#: where its request type has the field: ``--model``, ``--mode``, ``--duration`` and the
#: video flags name image/text-to-video settings, so such a row gets its kind's defaults.
SHARED_OPTION_FIELDS = frozenset({"prompt", "negative_prompt", "watermark", "callback_url"})


def _taken(kind: str, defaults: dict[str, Any]) -> dict[str, Any]:
    """The options' fields a row of ``kind`` takes (a text-to-video row: not the image-only
    ones; a row of another kind: ``SHARED_OPTION_FIELDS`` its request type has)."""
    if kind == "image2video":
        return {k: v for k, v in defaults.items() if k != "aspect_ratio"}
    if kind == "text2video":
        return {k: v for k, v in defaults.items() if k not in IMAGE_ONLY_FIELDS}
    has = attrs.fields_dict(KINDS[kind])
    return {k: v for k, v in defaults.items() if k in SHARED_OPTION_FIELDS and k in has}


def build_job(defaults: dict[str, Any], fields: dict[str, Any]) -> AnyRequest:
    """A job from the flags' defaults and a row's own values (the row wins), of the row's
    ``kind`` (default: image to video with an image or end frame, else text to video). The
    flags apply where they make sense (see ``_taken``): an omni row without a ``model`` gets
    ``OmniVideo``'s default, not ``--model``'s."""
    own = {k: v for k, v in fields.items() if k != KIND}
    kind = fields.get(KIND) or infer_kind(own)
    merged = {**_taken(kind, defaults), **own}
    try:
        return KINDS[kind](**merged)
    except ValidationError:
        raise
    except (TypeError, ValueError) as exc:
        raise ValidationError("row", sorted(_column(f) for f in own), str(exc)) from None


def _column(field: str) -> str:
    """The column that fills ``field`` (its own name when no column does)."""
    return next((c.name for c in BY_NAME.values() if c.field == field), field)


@attrs.frozen(eq=False)
class Prepared:
    """What one image of a job became: the file it came from, what is sent instead (a file,
    or the bytes when the cache could not be written), and what was done, in words and as a
    record. The prepared bytes themselves are not kept: the job reads them when it is sent."""

    #: The image's slot: a field's name, or ``images[<n>]`` (see ``image_slots``).
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
    job: AnyRequest
    from_options: frozenset[str]
    #: Its sub-folder under the folder named on the command line ("" at the top).
    folder: str = ""
    #: What its image and end frame became (``animate`` prepares them; see ``prepare``).
    prepared: tuple[Prepared, ...] = ()

    def original(self, field: str) -> Any:
        """The job's ``field`` (or image slot, see ``image_slots``) as the input gave it: the
        file, not the prepared one sent."""
        for prepared in self.prepared:
            if prepared.field == field:
                return prepared.original
        return dict(image_slots(self.job)).get(field, getattr(self.job, field, None))

    def as_given(self) -> AnyRequest:
        """The job with the files the input gave in place of the prepared ones."""
        return with_images(self.job, {p.field: p.original for p in self.prepared})

    def local_images(self) -> list[Any]:
        """The job's images as given, in ``image_slots`` order."""
        return [image for _, image in image_slots(self.as_given())]


#: The job fields that hold the video's images (masks aside), in the order a name is taken.
IMAGE_FIELDS = ("image", "image_tail", "first_frame", "last_frame", "images")


def image_slots(job: AnyRequest) -> list[tuple[str, Any]]:
    """(slot, image) of each image of a job, in ``IMAGE_FIELDS`` order: a field's name, or
    ``images[<n>]`` for a reference image (a ``ReferenceImage``'s own image)."""
    out: list[tuple[str, Any]] = []
    for field in IMAGE_FIELDS:
        value = getattr(job, field, None)
        items = enumerate(value or ()) if field == "images" else [(None, value)]
        for index, item in items:
            slot = field if index is None else f"{field}[{index}]"
            image = item.image if isinstance(item, ReferenceImage) else item
            if image is not None:
                out.append((slot, image))
    return out


def with_images(job: AnyRequest, images: dict[str, Any]) -> AnyRequest:
    """The job with the image of each slot (``image_slots``' names) replaced."""
    if not images:
        return job
    changes: dict[str, Any] = {}
    for slot, image in images.items():
        field, _, index = slot.partition("[")
        if index:
            refs = list(changes.get(field, getattr(job, field)))
            n = int(index.rstrip("]"))
            old = refs[n]
            refs[n] = attrs.evolve(old, image=image) if isinstance(old, ReferenceImage) else image
            changes[field] = tuple(refs)
        else:
            old = getattr(job, field)
            changes[field] = (
                attrs.evolve(old, image=image) if isinstance(old, ReferenceImage) else image
            )
    return attrs.evolve(job, **changes)


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
    taken = _taken(fields.get(KIND) or infer_kind(fields), defaults)
    given = frozenset(o for o, f in OPTION_FIELDS.items() if f not in fields and f in taken)
    return Input(source, job, given, folder)
