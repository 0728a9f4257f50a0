"""What you ask for when you make a custom element or voice (``client.elements.create``,
``client.voices.create``), checked on construction against the vendor's Element and Voice
Management pages: a bad field raises ``ValidationError`` naming the field, the value and
the rule, before anything is read or sent.

Elements (``POST /v1/general/advanced-custom-elements``): ``name`` (1..20 characters) and
``description`` (1..100; the page marks both required); ``image_refer`` elements take a
``frontal_image`` and 1..3 ``refer_images`` (jpg/png, ≤ 10 MB, ≥ 300 px, 1:2.5..2.5:1; a
path, bytes, base64 or an http(s) URL); ``video_refer`` elements one ``video_url`` (mp4/mov).
Voices (``POST /v1/general/custom-voices``): ``name`` (1..20) and exactly one of
``voice_url`` (mp3/wav/mp4/mov, 5..30 s of one clean voice) or ``video_id``. The page marks
both sources optional; a voice needs one, so the SDK asks for exactly one.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path, PurePosixPath
from typing import Any, Literal
from urllib.parse import urlsplit

import attrs

from . import _checks
from .errors import ValidationError
from .models import ImageInput

MAX_NAME_CHARS = 20
MAX_DESCRIPTION_CHARS = 100
#: Reference images besides the frontal one.
MIN_REFER_IMAGES, MAX_REFER_IMAGES = 1, 3
#: The tags the vendor's page lists: id -> name.
ELEMENT_TAGS: dict[str, str] = {
    "o_101": "Hottest",
    "o_102": "Character",
    "o_103": "Animal",
    "o_104": "Item",
    "o_105": "Costume",
    "o_106": "Scene",
    "o_107": "Effect",
    "o_108": "Others",
}
ReferenceType = Literal["image_refer", "video_refer"]
#: Image files ``ElementRequest.from_folder`` picks up (the vendor takes jpg and png).
FOLDER_SUFFIXES = (".jpg", ".jpeg", ".png")
_VIDEO_SUFFIXES = (".mp4", ".mov")
_VOICE_SUFFIXES = (".mp3", ".wav", ".mp4", ".mov")


def _name(field: str, value: object, limit: int) -> None:
    if not isinstance(value, str) or not value.strip():
        raise ValidationError(field, value, "is required (a non-empty string)")
    if len(value) > limit:
        raise ValidationError(field, value, f"{len(value)} characters; at most {limit}")


def _url(field: str, value: object, suffixes: tuple[str, ...]) -> None:
    """An http(s) URL whose path, when it names a file type, names one of ``suffixes``."""
    if not isinstance(value, str) or not value.strip().lower().startswith(("http://", "https://")):
        raise ValidationError(field, value, "must be an http(s) URL")
    suffix = PurePosixPath(urlsplit(value.strip()).path).suffix.lower()
    if suffix and suffix not in suffixes:
        raise ValidationError(field, value, f"must be a {'/'.join(suffixes)} file")


def _optional_id(field: str, value: object) -> None:
    if value is not None and (not isinstance(value, str | int) or not str(value).strip()):
        raise ValidationError(field, value, "must be a non-empty id")


def _images(images: Iterable[ImageInput]) -> tuple[ImageInput, ...]:
    if isinstance(images, str | bytes | os.PathLike):
        return (images,)  # one image alone
    return tuple(images)


def _tags(tags: Iterable[str] | str) -> tuple[str, ...]:
    return (tags,) if isinstance(tags, str) else tuple(tags)


def _options(callback_url: object, external_task_id: object) -> None:
    if callback_url is not None and not (
        isinstance(callback_url, str) and callback_url.startswith(("http://", "https://"))
    ):
        raise ValidationError("callback_url", callback_url, "must be an http(s) URL")
    if external_task_id is not None:
        _checks.check_external_id(external_task_id)


@attrs.frozen
class ElementRequest:
    """A custom element to make. ``reference_type`` defaults to ``image_refer`` when a
    ``frontal_image`` is given and to ``video_refer`` when a ``video_url`` is."""

    name: str
    description: str
    frontal_image: ImageInput | None = None
    refer_images: tuple[ImageInput, ...] = attrs.field(default=(), converter=_images)
    video_url: str | None = None
    reference_type: ReferenceType | None = None
    voice_id: str | None = None
    tags: tuple[str, ...] = attrs.field(default=(), converter=_tags)
    callback_url: str | None = None
    external_task_id: str | None = None

    def __attrs_post_init__(self) -> None:
        _name("name", self.name, MAX_NAME_CHARS)
        _name("description", self.description, MAX_DESCRIPTION_CHARS)
        kind = self.kind
        if kind == "image_refer":
            if self.frontal_image is None:
                raise ValidationError("frontal_image", None, "is required for image_refer")
            count = len(self.refer_images)
            if not MIN_REFER_IMAGES <= count <= MAX_REFER_IMAGES:
                raise ValidationError(
                    "refer_images",
                    count,
                    f"give {MIN_REFER_IMAGES} to {MAX_REFER_IMAGES} images besides the frontal one",
                )
            if self.video_url is not None:
                raise ValidationError("video_url", self.video_url, "is for video_refer only")
        else:
            if self.video_url is None:
                raise ValidationError("video_url", None, "is required for video_refer")
            _url("video_url", self.video_url, _VIDEO_SUFFIXES)
            if self.frontal_image is not None or self.refer_images:
                raise ValidationError("frontal_image", "given", "is for image_refer only")
        _optional_id("voice_id", self.voice_id)
        for i, tag in enumerate(self.tags):
            if tag not in ELEMENT_TAGS:
                raise ValidationError(f"tags[{i}]", tag, f"must be one of {sorted(ELEMENT_TAGS)}")
        _options(self.callback_url, self.external_task_id)

    @property
    def kind(self) -> ReferenceType:
        """The reference type sent: the one given, else what the sources imply."""
        if self.reference_type is not None:
            if self.reference_type not in ("image_refer", "video_refer"):
                raise ValidationError(
                    "reference_type", self.reference_type, "must be 'image_refer' or 'video_refer'"
                )
            return self.reference_type
        return "video_refer" if self.video_url is not None else "image_refer"

    @classmethod
    def from_folder(
        cls,
        folder: str | os.PathLike[str],
        *,
        name: str,
        description: str,
        frontal: str | os.PathLike[str] | None = None,
        **fields: Any,
    ) -> ElementRequest:
        """An ``image_refer`` element from the jpg/png files of ``folder`` (blocking: it lists
        the folder). The frontal image is ``frontal`` (a file name in the folder, or a path),
        else the first file in name order; the others are the reference images (1..3)."""
        where = Path(folder)
        if not where.is_dir():
            raise ValidationError("folder", str(where), "is not a folder")
        files = sorted(
            p for p in where.iterdir() if p.suffix.lower() in FOLDER_SUFFIXES and p.is_file()
        )
        if not files:
            raise ValidationError("folder", str(where), "holds no .jpg/.jpeg/.png file")
        if frontal is None:
            front = files[0]
        else:
            front = Path(frontal)
            if not front.is_absolute() and not front.exists():
                front = where / front
            if not front.is_file():
                raise ValidationError("frontal", str(frontal), "no such file")
        others = [p for p in files if p.resolve() != front.resolve()]
        return cls(
            name=name,
            description=description,
            frontal_image=front,
            refer_images=others,
            **fields,
        )


@attrs.frozen
class VoiceRequest:
    """A custom voice to make, from an audio or video file's URL or from a video Kling made
    (``video_id``: a kling-2.6 video with sound, an Avatar or a Lip-Sync video)."""

    name: str
    voice_url: str | None = None
    video_id: str | None = None
    callback_url: str | None = None
    external_task_id: str | None = None

    def __attrs_post_init__(self) -> None:
        _name("name", self.name, MAX_NAME_CHARS)
        if (self.voice_url is None) == (self.video_id is None):
            raise ValidationError(
                "voice_url / video_id",
                "both" if self.voice_url is not None else None,
                "give exactly one: the voice's audio URL or the id of a video with its voice",
            )
        if self.voice_url is not None:
            _url("voice_url", self.voice_url, _VOICE_SUFFIXES)
        _optional_id("video_id", self.video_id)
        _options(self.callback_url, self.external_task_id)


def tag_ids(tags: Iterable[str]) -> list[dict[str, str]]:
    """``tag_list`` on the wire: ``[{"tag_id": ...}]``."""
    return [{"tag_id": tag} for tag in tags]
