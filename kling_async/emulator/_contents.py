"""Readers every create of the model-in-path API shares: ``contents[]``, ``settings``, shots.

``contents`` is a list of ``{type, ...}`` items. What this module checks is what the vendor's
pages say of an item wherever it appears: a prompt item's ``text`` (once, within the
endpoint's limit); an image item's ``url`` (URL or bare base64, .jpg/.jpeg/.png, up to 50 MB,
each side >= 300 px, 1:2.5 to 2.5:1); a video item's ``url`` (a well-formed http(s) URL: the
emulator never fetches, so a video's length, size and frame rate are taken on trust); an
element's ``element_id`` and ``id``; a voice's ``voice_id``; and ``id`` values unique within
the task. Which types an endpoint takes, and how many of each, is the caller's rule.

The prompt's multi-shot syntax (``"shot 1, 2, words; shot 2, 3, words;"``): 1 to 6 shots
numbered in order, each at least 1 s, durations summing to the task's, words at most 512
characters. A prompt that does not start with ``shot <n>,`` is a single-shot prompt.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

import attrs

from ._errors import invalid
from ._images import MAX_IMAGE_BYTES_NEW, ImageInfo, read_image
from ._shared import string_field

IMAGE_TYPES = ("first_frame", "last_frame", "refer_image", "image")
VIDEO_TYPES = ("feature_video", "base_video", "video")
MAX_SHOTS = 6
MAX_SHOT_WORDS = 512
_SHOT_START = re.compile(r"^\s*shot\s*\d+\s*,", re.IGNORECASE)
_SHOT = re.compile(r"^\s*shot\s*(\d+)\s*,\s*(\d+)\s*s?\s*,(.*)$", re.IGNORECASE | re.DOTALL)


@attrs.define
class Contents:
    """The items of one ``contents`` list, by type, in the order given."""

    prompt: str = ""
    #: image type -> the images of that type
    images: dict[str, list[ImageInfo]] = attrs.Factory(dict)
    #: (type, url) of every video item
    videos: list[tuple[str, str]] = attrs.Factory(list)
    element_ids: list[str] = attrs.Factory(list)
    voice_ids: list[str] = attrs.Factory(list)
    #: the position in ``contents`` of the first item of each type (for messages)
    first_index: dict[str, int] = attrs.Factory(dict)

    def count(self, kind: str) -> int:
        return len(self.images.get(kind, ()))

    def first(self, kind: str) -> ImageInfo | None:
        found = self.images.get(kind)
        return found[0] if found else None


def unknown_fields(
    obj: Mapping[str, Any],
    allowed: tuple[str, ...],
    where: str,
    prefix: str,
    *,
    future: bool = False,
) -> None:
    """1201 for the first field of ``obj`` the endpoint does not take, naming it. ``future``:
    the model is one the config allows without knowing it (``--allow-model``), whose fields
    may be new — any is taken."""
    if future:
        return
    for field in sorted(set(obj) - set(allowed)):
        raise invalid(
            f"{prefix}{field}: not a field of {where} (it takes {', '.join(allowed)}); "
            "legacy-only fields are not carried by the new API"
        )


def object_field(body: Mapping[str, Any], field: str) -> Mapping[str, Any]:
    value = body.get(field)
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise invalid(f"{field}: expected an object, got {value!r:.40}")
    return value


def video_url(field: str, value: object) -> str:
    """A reference video: a well-formed http(s) URL (video inputs are taken by URL only)."""
    if not isinstance(value, str) or not value:
        raise invalid(f"{field}: expected the video's http(s) URL, got {value!r:.40}")
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise invalid(f"{field}: {value!r:.60} is not an http(s) URL; videos are given by URL")
    return value


def _ident(item: Mapping[str, Any], i: int, field: str, *, required: bool) -> str | None:
    value = item.get(field)
    if value is None or value == "":
        if required:
            raise invalid(f"contents[{i}].{field}: required in a {item.get('type')} item")
        return None
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise invalid(f"contents[{i}].{field}: expected a string, got {value!r:.40}")
    return str(value)


def read_contents(
    value: object,
    allowed: tuple[str, ...],
    max_prompt: int,
    single: tuple[str, ...] = ("prompt", "first_frame", "last_frame"),
) -> Contents:
    """Check every item of ``contents``: its type in ``allowed``, at most one of each type in
    ``single``; 1201 otherwise."""
    if not isinstance(value, list) or not value:
        raise invalid("contents: required, a non-empty list of {type, ...} items")
    out = Contents()
    ids: dict[str, int] = {}
    for i, item in enumerate(value):
        if not isinstance(item, dict):
            raise invalid(f"contents[{i}]: expected an object {{type, ...}}, got {item!r:.40}")
        kind = item.get("type")
        if kind not in allowed:
            raise invalid(
                f"contents[{i}].type: {kind!r:.40} is not one of {', '.join(map(repr, allowed))}"
            )
        if kind in out.first_index and kind in single:
            raise invalid(f"contents[{i}]: a second {kind} item; give one")
        out.first_index.setdefault(kind, i)
        ref = _ident(item, i, "id", required=kind == "element")
        if ref is not None:
            if ref in ids:
                other = value[ids[ref]].get("type")
                raise invalid(
                    f"contents[{i}].id: {ref!r:.40} is used by another {other} item "
                    f"(contents[{ids[ref]}]); ids must not repeat within a task"
                )
            ids[ref] = i
        if kind == "prompt":
            text = string_field(item, "text", limit=max_prompt, name=f"contents[{i}].text")
            if text is None:
                raise invalid(f"contents[{i}].text: required in a prompt item")
            out.prompt = text
        elif kind in IMAGE_TYPES:
            image = read_image(
                f"contents[{i}].url ({kind})", item.get("url"), max_bytes=MAX_IMAGE_BYTES_NEW
            )
            out.images.setdefault(kind, []).append(image)
        elif kind in VIDEO_TYPES:
            out.videos.append((kind, video_url(f"contents[{i}].url ({kind})", item.get("url"))))
        elif kind == "element":
            element = _ident(item, i, "element_id", required=True)
            assert element is not None
            if not element.isdigit():
                raise invalid(
                    f"contents[{i}].element_id: {element!r:.40} is not an element id (digits)"
                )
            out.element_ids.append(element)
        elif kind == "voice":
            voice = item.get("voice_id")
            if not isinstance(voice, str) or not voice:
                raise invalid(f"contents[{i}].voice_id: required, a non-empty string")
            out.voice_ids.append(voice)
    return out


def duration_setting(settings: Mapping[str, Any], default: int = 5) -> int:
    """``settings.duration``: an integer number of seconds (JSON number, not a string)."""
    value = settings.get("duration", default)
    if isinstance(value, bool) or not isinstance(value, int):
        raise invalid(
            f"settings.duration: {value!r:.40} must be an integer number of seconds (e.g. 5)"
        )
    return value


def flag_setting(settings: Mapping[str, Any], field: str, default: bool) -> bool:
    value = settings.get(field, default)
    if not isinstance(value, bool):
        raise invalid(f"settings.{field}: expected true or false, got {value!r:.40}")
    return value


def in_shot_syntax(prompt: str) -> bool:
    """Whether a prompt is written as shots (``shot 1, ...``)."""
    return bool(_SHOT_START.match(prompt))


def check_shots(prompt: str, duration: int, field: str) -> int:
    """The number of shots a multi-shot prompt describes (1 for a plain prompt); 1201 if the
    shot syntax is broken."""
    if not _SHOT_START.match(prompt):
        return 1
    pieces = [piece for piece in prompt.split(";") if piece.strip()]
    if len(pieces) > MAX_SHOTS:
        raise invalid(f"{field}: {len(pieces)} shots; a multi-shot prompt has 1 to {MAX_SHOTS}")
    total = 0
    for number, piece in enumerate(pieces, start=1):
        match = _SHOT.match(piece)
        if match is None:
            raise invalid(
                f"{field}: shot {number} {piece.strip()[:40]!r} is not 'shot n, seconds, words'"
            )
        index, seconds, words = int(match[1]), int(match[2]), match[3].strip()
        if index != number:
            raise invalid(f"{field}: shot {number} is numbered {index}; number shots 1, 2, 3...")
        if seconds < 1:
            raise invalid(f"{field}: shot {number} lasts {seconds} s; each shot is at least 1 s")
        if not words:
            raise invalid(f"{field}: shot {number} has no words")
        if len(words) > MAX_SHOT_WORDS:
            raise invalid(
                f"{field}: shot {number} has {len(words)} characters; at most {MAX_SHOT_WORDS}"
            )
        total += seconds
    if total != duration:
        raise invalid(
            f"{field}: shot durations sum to {total} s, not the task's duration {duration} s "
            "(settings.duration)"
        )
    return len(pieces)
