"""Request types of the video endpoints the model-in-path API added: ``OmniVideo`` (a video
from a prompt, frames, reference images, elements and a reference video) and
``MotionControl`` (a character image moved as a reference video moves).

Both go out on the new API only (``POST /omni-video/{model}``, ``/motion-control/{model}``);
``validation.validate`` checks them, ``client.omni_video`` / ``client.motion_control`` send.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from typing import Literal, TypeAlias

import attrs

from .models import (
    AspectRatio,
    Element,
    ImageInput,
    Mode,
    NewApiExtras,
    Shot,
    shared_last,
    to_elements,
    to_shots,
)

#: The omni models' sound: ``native`` (made with the video; not on O1), ``original`` (a
#: reference video's own), ``off``.
OmniAudio = Literal["native", "original", "off"]
#: What motion control keeps of the character: the image's orientation or the video's.
Orientation = Literal["image", "video"]
#: A reference video is a ``feature`` (its look and motion guide a new video) or a ``base``
#: (the video that is edited).
VideoRole = Literal["feature", "base"]


@attrs.frozen
class ReferenceImage:
    """An image an omni video refers to, and the label the prompt names it by
    (``@image_2``; default ``image_<n>``, counting the frames first)."""

    image: ImageInput
    id: str | None = None


@attrs.frozen
class ReferenceVideo:
    """A video an omni video refers to: its URL (videos go by URL only), its ``role``
    (``feature`` or ``base``) and its label (default ``video_1``)."""

    url: str
    role: VideoRole = "feature"
    id: str | None = None


ImageRef: TypeAlias = "ImageInput | ReferenceImage"


def _images(images: Iterable[ImageRef] | ImageRef) -> tuple[ImageRef, ...]:
    if isinstance(images, str | bytes | os.PathLike | ReferenceImage):
        return (images,)
    return tuple(images)


def _optional_duration(value: int | str | None) -> int | str | None:
    return int(value) if isinstance(value, str) and value.strip().isdigit() else value


@attrs.frozen(kw_only=True, field_transformer=shared_last)
class OmniVideo(NewApiExtras):
    """One omni-video create (``kling-3.0-omni``, ``kling-o1``). Every input the prompt may
    name carries a label: frames and reference images ``image_<n>`` (first frame, last frame,
    then ``images``), elements ``element_<n>``, the video ``video_1``. Also every create's
    ``watermark``, ``callback_url``, ``external_task_id`` and ``extra_*`` fields
    (``models.NewApiExtras``)."""

    prompt: str | None = None
    model: str = "kling-3.0-omni"
    #: std = 720p, pro = 1080p, 4k (kling-3.0-omni only).
    mode: Mode = "std"
    #: Seconds; None sends none (the service's default, 5 s; a base video sets its own).
    duration: int | None = attrs.field(default=None, converter=_optional_duration)
    #: None sends none (the service's default, 16:9).
    aspect_ratio: AspectRatio | None = None
    first_frame: ImageRef | None = None
    last_frame: ImageRef | None = None
    #: Reference images (``refer_image``).
    images: tuple[ImageRef, ...] = attrs.field(default=(), converter=_images)
    elements: tuple[int | str | Element, ...] = attrs.field(default=(), converter=to_elements)
    #: One reference video (``feature_video`` or ``base_video``).
    video: ReferenceVideo | None = None
    audio: OmniAudio | None = None
    #: kling-3.0-omni: ``multi_prompt`` gives the shots, ``multi_shot=True`` alone lets Kling
    #: cut them. With a base video and ``multi_shot`` None, ``False`` is sent (the service's
    #: default, True, is refused with a base video).
    multi_shot: bool | None = None
    multi_prompt: tuple[Shot, ...] = attrs.field(default=(), converter=to_shots)

    @property
    def slots(self) -> int:
        """Concurrency slots a task holds (a video task: 1)."""
        return 1


@attrs.frozen(kw_only=True, field_transformer=shared_last)
class MotionControl(NewApiExtras):
    """One motion-control create (``kling-2.6``, ``kling-3.0``): the character in ``image``
    moves as the person in the video at ``video_url`` does. The output's length follows the
    video (no duration to give). Also every create's ``watermark``, ``callback_url``,
    ``external_task_id`` and ``extra_*`` fields (``models.NewApiExtras``)."""

    image: ImageInput | None = None
    video_url: str | None = None
    #: Required: keep the character's orientation from the ``image`` or from the ``video``.
    character_orientation: Orientation | None = None
    prompt: str | None = None
    model: str = "kling-2.6"
    #: std = 720p, pro = 1080p.
    mode: Mode = "std"
    #: True keeps the video's sound (``audio: original``), False drops it; None sends none
    #: (the service keeps it).
    keep_original_sound: bool | None = None
    #: At most one element (kling-3.0).
    elements: tuple[int | str | Element, ...] = attrs.field(default=(), converter=to_elements)

    @property
    def slots(self) -> int:
        """Concurrency slots a task holds (a video task: 1)."""
        return 1


def omni_images(request: OmniVideo) -> list[tuple[str, ImageInput, str]]:
    """(content type, image, label) of each image of an omni request, in order: the first
    frame, the last frame, the reference images; unlabelled ones are ``image_<n>``."""
    given: list[tuple[str, ImageRef]] = []
    if request.first_frame is not None:
        given.append(("first_frame", request.first_frame))
    if request.last_frame is not None:
        given.append(("last_frame", request.last_frame))
    given.extend(("refer_image", image) for image in request.images)
    out = []
    for n, (kind, item) in enumerate(given, start=1):
        if isinstance(item, ReferenceImage):
            out.append((kind, item.image, item.id if item.id is not None else f"image_{n}"))
        else:
            out.append((kind, item, f"image_{n}"))
    return out


def video_label(video: ReferenceVideo) -> str:
    return video.id if video.id is not None else "video_1"


__all__ = [
    "MotionControl",
    "OmniAudio",
    "OmniVideo",
    "Orientation",
    "ReferenceImage",
    "ReferenceVideo",
    "VideoRole",
]
