"""Request types: attrs classes, built (and checked field by field) before anything is sent.

Requests (``ImageToVideo``, ``TextToVideo``) hold the same fields as the verbs that send them,
so a job can be built, validated and stored first. The response types (``Task``, ``Video``,
``ResourcePack``, ``AccountCosts``) live in ``results`` and are importable from here too.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Mapping
from typing import Any, Literal, TypeAlias

import attrs

from .errors import ValidationError

# the response types, importable from here as in 0.1 (their home is ``results``)
from .results import AccountCosts as AccountCosts
from .results import ResourcePack as ResourcePack
from .results import Task as Task
from .results import Video as Video
from .states import TaskStatus as TaskStatus

#: An image as a path, raw bytes, an http(s) URL (passed through) or base64 (a ``data:``
#: prefix is stripped).
ImageInput: TypeAlias = "str | os.PathLike[str] | bytes"
#: std = 720p, pro = 1080p, 4k = 4k (kling-v3 / kling-3.0 only). The new API's ``resolution``.
Mode = Literal["std", "pro", "4k"]
#: Which API a request goes out on: ``auto`` (by the model's name), ``legacy`` or ``new``.
Api = Literal["auto", "legacy", "new"]
ShotType = Literal["customize", "intelligence"]
AspectRatio = Literal["16:9", "9:16", "1:1"]
CameraType = Literal["simple", "down_back", "forward_up", "right_turn_forward", "left_turn_forward"]
CAMERA_TYPES: tuple[str, ...] = (
    "simple",
    "down_back",
    "forward_up",
    "right_turn_forward",
    "left_turn_forward",
)
CAMERA_AXES: tuple[str, ...] = ("horizontal", "vertical", "pan", "tilt", "roll", "zoom")


# -- camera ------------------------------------------------------------------------------


@attrs.frozen
class CameraConfig:
    """The six axes of a ``simple`` camera move, each -10..10, exactly one non-zero.

    Kling's meaning: ``horizontal``/``vertical`` move the camera (negative: left/down); ``pan``
    turns it in the vertical plane (negative: down), ``tilt`` in the horizontal one (negative:
    left); ``roll`` negative is counterclockwise; ``zoom`` negative narrows the field of view.
    """

    horizontal: float = 0
    vertical: float = 0
    pan: float = 0
    tilt: float = 0
    roll: float = 0
    zoom: float = 0


#: Named moves -> (axis, sign) of a ``simple`` config, or a built-in camera type.
CAMERA_PRESETS: dict[str, tuple[str, int] | str] = {
    "zoom_in": ("zoom", -1),
    "zoom_out": ("zoom", 1),
    "pan_left": ("tilt", -1),
    "pan_right": ("tilt", 1),
    "tilt_up": ("pan", 1),
    "tilt_down": ("pan", -1),
    "move_left": ("horizontal", -1),
    "move_right": ("horizontal", 1),
    "move_up": ("vertical", 1),
    "move_down": ("vertical", -1),
    "roll_clockwise": ("roll", 1),
    "roll_counterclockwise": ("roll", -1),
    "down_back": "down_back",
    "forward_up": "forward_up",
    "right_turn_forward": "right_turn_forward",
    "left_turn_forward": "left_turn_forward",
}


@attrs.frozen
class CameraControl:
    """A camera move: ``type`` plus, for ``simple``, a ``CameraConfig``.

    >>> CameraControl.simple(zoom=-5)        # zoom in
    >>> CameraControl.preset("pan_left", strength=3)
    """

    type: CameraType = "simple"
    config: CameraConfig | None = None

    @classmethod
    def simple(
        cls,
        *,
        horizontal: float = 0,
        vertical: float = 0,
        pan: float = 0,
        tilt: float = 0,
        roll: float = 0,
        zoom: float = 0,
    ) -> CameraControl:
        """A ``simple`` move; raises ``ValidationError`` unless exactly one axis is non-zero
        and every axis is within -10..10."""
        config = CameraConfig(horizontal, vertical, pan, tilt, roll, zoom)
        check_camera_config(config)
        return cls("simple", config)

    @classmethod
    def preset(cls, name: str, strength: float = 5) -> CameraControl:
        """A named move (``zoom_in``, ``pan_left``, ``tilt_up``, ``down_back``...; see
        ``CAMERA_PRESETS``) at ``strength`` 1..10 (ignored by the built-in types)."""
        move = CAMERA_PRESETS.get(name)
        if move is None:
            raise ValidationError(
                "camera_control", name, f"unknown preset; known: {', '.join(CAMERA_PRESETS)}"
            )
        if isinstance(move, str):
            return cls(move)  # type: ignore[arg-type]  # the preset table holds only CameraTypes
        if not 0 < strength <= 10:
            raise ValidationError("camera_control.strength", strength, "must be within 1..10")
        axis, sign = move
        return cls.simple(**{axis: sign * strength})


def check_camera_config(config: CameraConfig) -> None:
    nonzero = []
    for axis in CAMERA_AXES:
        value = getattr(config, axis)
        if isinstance(value, bool) or not isinstance(value, int | float) or not -10 <= value <= 10:
            raise ValidationError(f"camera_control.config.{axis}", value, "must be within -10..10")
        if value != 0:
            nonzero.append(axis)
    if len(nonzero) != 1:
        raise ValidationError(
            "camera_control.config",
            {a: getattr(config, a) for a in nonzero},
            f"exactly one of {', '.join(CAMERA_AXES)} must be non-zero (got {len(nonzero)})",
        )


# -- motion brush ------------------------------------------------------------------------


@attrs.frozen
class Point:
    """A trajectory point in input-image pixels, origin at the **bottom-left** (Kling's)."""

    x: int
    y: int


def from_top_left(points: Iterable[tuple[int, int]], image_height: int) -> tuple[Point, ...]:
    """Convert (x, y) pixel coordinates with the usual top-left origin to Kling's bottom-left
    origin: the top row becomes ``image_height - 1``, the bottom row 0."""
    if image_height < 1:
        raise ValidationError("image_height", image_height, "must be a positive pixel count")
    return tuple(Point(int(x), image_height - 1 - int(y)) for x, y in points)


def _points(points: Iterable[Point]) -> tuple[Point, ...]:
    return tuple(points)


def _masks(masks: Iterable[DynamicMask]) -> tuple[DynamicMask, ...]:
    return tuple(masks)


@attrs.frozen
class Voice:
    """A voice a video speaks with (kling-v2-6 image to video). ``id`` is the label the
    prompt names it by on the new API (``@1 whispers``; default: its position, 1, 2); the
    legacy API's ``<<<voice_1>>>`` in a prompt is translated to it."""

    voice_id: str
    id: str | None = None


#: What an element is built from: several images (``image``, the usual kind) or a video of
#: a character (``video``). Only the omni models' counting rules tell them apart.
ElementKind = Literal["image", "video"]


@attrs.frozen
class Element:
    """An element (a subject built from images, reusable across videos): its ``element_id``
    and, on the new API, the label the prompt names it by (``@element_1``; default
    ``element_<position>``). ``kind`` is not sent: the omni models count multi-image and
    video-character elements differently (default: multi-image)."""

    element_id: int | str
    id: str | None = None
    kind: ElementKind = "image"


def voice_labels(voices: Iterable[str | Voice]) -> list[tuple[str, str]]:
    """(voice_id, label) of each voice: its own ``id``, else its position from 1."""
    return [
        (v.voice_id, v.id if v.id is not None else str(i)) if isinstance(v, Voice) else (v, str(i))
        for i, v in enumerate(voices, start=1)
    ]


def element_labels(elements: Iterable[int | str | Element]) -> list[tuple[str, str]]:
    """(element_id, label) of each element: its own ``id``, else ``element_<position>``."""
    return [
        (str(e.element_id), e.id if e.id is not None else f"element_{i}")
        if isinstance(e, Element)
        else (str(e), f"element_{i}")
        for i, e in enumerate(elements, start=1)
    ]


def _voices(voices: Iterable[str | Voice] | str | Voice) -> tuple[str | Voice, ...]:
    return (voices,) if isinstance(voices, str | Voice) else tuple(voices)


@attrs.frozen
class DynamicMask:
    """A motion brush stroke: the mask image and the path (2..77 points) its area follows."""

    mask: ImageInput
    trajectories: tuple[Point, ...] = attrs.field(converter=_points)

    @classmethod
    def from_top_left(
        cls, mask: ImageInput, points: Iterable[tuple[int, int]], image_height: int
    ) -> DynamicMask:
        """A stroke whose ``points`` use the usual top-left origin (converted for Kling)."""
        return cls(mask, from_top_left(points, image_height))


# -- requests ----------------------------------------------------------------------------


def _duration(value: int | str) -> int | str:
    return int(value) if isinstance(value, str) and value.strip().isdigit() else value


@attrs.frozen
class Shot:
    """One shot of a multi-shot video (kling-v3): its prompt (≤ 512 characters) and its
    duration in whole seconds (≥ 1). The shots' durations add up to the video's."""

    prompt: str
    duration: int = attrs.field(converter=_duration)


def _shots(shots: Iterable[Shot | Mapping[str, Any] | tuple[str, int]]) -> tuple[Shot, ...]:
    out = []
    for shot in shots:
        if isinstance(shot, Mapping):
            out.append(Shot(shot.get("prompt"), shot.get("duration")))  # type: ignore[arg-type]
        elif isinstance(shot, tuple):
            out.append(Shot(*shot))
        else:
            out.append(shot)
    return tuple(out)


def _elements(
    elements: Iterable[int | str | Element] | int | str | Element,
) -> tuple[int | str | Element, ...]:
    return (elements,) if isinstance(elements, int | str | Element) else tuple(elements)


def to_elements(
    elements: Iterable[int | str | Element] | int | str | Element,
) -> tuple[int | str | Element, ...]:
    """Elements as a tuple (one alone too): the converter every request type shares."""
    return _elements(elements)


def to_contents(
    items: Iterable[Mapping[str, Any]] | Mapping[str, Any],
) -> tuple[Mapping[str, Any], ...]:
    """Extra ``contents`` items as a tuple (one mapping alone too)."""
    return (items,) if isinstance(items, Mapping) else tuple(items)


def to_shots(shots: Iterable[Shot | Mapping[str, Any] | tuple[str, int]]) -> tuple[Shot, ...]:
    """Shots as ``Shot``s: the converter every request type shares."""
    return _shots(shots)


#: The fields every create request ends with, in this order, whichever base class they come
#: from (see ``shared_last``).
_SHARED_LAST = (
    "watermark",
    "callback_url",
    "external_task_id",
    "api",
    "extra_contents",
    "extra_settings",
    "extra_options",
    "extra_body",
)


def shared_last(cls: type, fields: list[attrs.Attribute[Any]]) -> list[attrs.Attribute[Any]]:
    """A request's own fields first, then the shared ones in ``_SHARED_LAST`` order (attrs puts
    a base class's fields first): reprs, ``attrs.fields`` and the constructor's keywords keep
    the order they had before the shared fields moved to the bases."""
    rank = {name: n for n, name in enumerate(_SHARED_LAST)}
    return sorted(fields, key=lambda field: rank.get(field.name, -1))


@attrs.frozen(kw_only=True)
class CreateDelivery:
    """The fields every create request takes (the request types inherit them; not in
    ``kling_async.__all__``): Kling's watermark, where Kling posts the task's updates, and the
    caller's own id."""

    watermark: bool | None = None
    callback_url: str | None = None
    external_task_id: str | None = None


@attrs.frozen(kw_only=True)
class NewApiExtras(CreateDelivery):
    """``CreateDelivery`` and the new API's forward compatibility, sent as given and merged
    last: ``extra_contents`` appended to the body's ``contents``, ``extra_settings`` and
    ``extra_options`` into its ``settings`` and ``options``."""

    extra_contents: tuple[Mapping[str, Any], ...] = attrs.field(default=(), converter=to_contents)
    extra_settings: Mapping[str, Any] | None = None
    extra_options: Mapping[str, Any] | None = None


@attrs.frozen(kw_only=True)
class EitherApiExtras(NewApiExtras):
    """``NewApiExtras`` and what a request that may go out on either API adds: the API to use
    and ``extra_body``, merged last into the top level of the body (either API)."""

    #: Force the legacy or the new API for this request (default: the client's choice).
    api: Api | None = None
    extra_body: Mapping[str, Any] | None = None


@attrs.frozen(kw_only=True, field_transformer=shared_last)
class ImageToVideo(EitherApiExtras):
    """Everything one image-to-video create sends. Build, validate and store it before sending:
    ``await client.image_to_video.create(request)``. Also every create's ``watermark``,
    ``callback_url``, ``external_task_id``, ``api`` and ``extra_*`` fields
    (``models.EitherApiExtras``)."""

    image: ImageInput | None = None
    prompt: str | None = None
    negative_prompt: str | None = None
    model: str = "kling-v2-6"
    mode: Mode = "std"
    duration: int = attrs.field(default=5, converter=_duration)
    image_tail: ImageInput | None = None
    cfg_scale: float | None = None
    camera_control: CameraControl | None = None
    static_mask: ImageInput | None = None
    dynamic_masks: tuple[DynamicMask, ...] = attrs.field(default=(), converter=_masks)
    sound: bool | None = None
    #: Up to 2 voice ids or ``Voice`` (kling-v2-6 / kling-2.6), with ``sound=True``.
    voices: tuple[str | Voice, ...] = attrs.field(default=(), converter=_voices)
    #: Multi-shot (kling-v3 / kling-3.0): ``multi_prompt`` gives each shot; ``multi_shot=True``
    #: with ``shot_type="intelligence"`` (or, on the new API, alone) lets Kling cut the shots.
    multi_shot: bool | None = None
    shot_type: ShotType | None = None
    multi_prompt: tuple[Shot, ...] = attrs.field(default=(), converter=_shots)
    #: Up to 3 element ids or ``Element`` (kling-v3 / kling-3.0), not together with ``voices``.
    elements: tuple[int | str | Element, ...] = attrs.field(default=(), converter=_elements)


@attrs.frozen(kw_only=True, field_transformer=shared_last)
class TextToVideo(EitherApiExtras):
    """Everything one text-to-video create sends. ``prompt`` is required, unless
    ``multi_prompt`` gives the shots (on the new API the shots are the whole prompt).
    Also every create's ``watermark``, ``callback_url``, ``external_task_id``, ``api`` and
    ``extra_*`` fields (``models.EitherApiExtras``)."""

    prompt: str | None = None
    negative_prompt: str | None = None
    model: str = "kling-v2-6"
    mode: Mode = "std"
    duration: int = attrs.field(default=5, converter=_duration)
    aspect_ratio: AspectRatio = "16:9"
    cfg_scale: float | None = None
    camera_control: CameraControl | None = None
    sound: bool | None = None
    voices: tuple[str | Voice, ...] = attrs.field(default=(), converter=_voices)
    multi_shot: bool | None = None
    shot_type: ShotType | None = None
    multi_prompt: tuple[Shot, ...] = attrs.field(default=(), converter=_shots)


Request: TypeAlias = ImageToVideo | TextToVideo


#: The legacy API's way to name a voice in a prompt; the new API names it ``@<label>``.
_LEGACY_VOICE = re.compile(r"<<<voice_(\d+)>>>")


def shot_text(shots: Iterable[Shot]) -> str:
    """Shots in the new API's prompt syntax: ``shot 1, 3, words; shot 2, 2, words;``."""
    return " ".join(
        f"shot {i}, {shot.duration}, {shot.prompt};" for i, shot in enumerate(shots, start=1)
    )


def new_prompt(request: Request) -> str | None:
    """The prompt as the new API takes it: the shots of ``multi_prompt`` in its shot syntax
    (they are the whole prompt there), legacy voice markers (``<<<voice_1>>>``) turned into
    the voices' labels (``@1``)."""
    text = shot_text(request.multi_prompt) if request.multi_prompt else request.prompt
    if text is not None and request.voices:
        labels = [label for _, label in voice_labels(request.voices)]

        def label(match: re.Match[str]) -> str:
            n = int(match.group(1))
            return f"@{labels[n - 1]}" if 1 <= n <= len(labels) else match.group(0)

        text = _LEGACY_VOICE.sub(label, text)
    return text
