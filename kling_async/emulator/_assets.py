"""Custom elements and voices as the emulator keeps them, read from the vendor's Element
Management and Voice Management pages (3.0 Omni), independently of the SDK.

Create bodies: ``element_name`` (required, ≤ 20 characters), ``element_description``
(required, ≤ 100), ``reference_type`` (``image_refer`` | ``video_refer``);
``image_refer`` needs ``element_image_list`` {``frontal_image``, ``refer_images``: 1 to 3
``{image_url}``} (URL or bare base64; jpg/jpeg/png ≤ 10 MB, ≥ 300 px, 1:2.5..2.5:1);
``video_refer`` needs ``element_video_list`` {``refer_videos``: exactly 1 ``{video_url}``,
.mp4/.mov}; optional ``element_voice_id``, ``tag_list`` [{``tag_id``: o_101..o_108}],
``callback_url``, ``external_task_id`` (unique per account). Voices: ``voice_name`` (≤ 20)
and ``voice_url`` (.mp3/.wav/.mp4/.mov) or ``video_id``; empty strings count as absent (the
page's own example sends ``"video_id": ""``). A create is a task (``submitted``, then
``processing``, then ``succeed`` after ``asset_seconds``); the task's result lists what it
made, each with ``status`` ``succeed`` or, once deleted, ``deleted``.

Video creates naming an element: an id this emulator made and then deleted is refused; an
id it never made is accepted unless ``strict_elements`` (the vendor's examples name ids of
their own). The vendor's wording for this refusal is not on its pages: the message here is
the emulator's.
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from pathlib import PurePosixPath
from typing import Any
from urllib.parse import urlsplit

import attrs

from ._errors import invalid
from ._images import read_image

MAX_NAME = 20
MAX_DESCRIPTION = 100
MAX_REFER_IMAGES = 3
TAG_IDS = frozenset(f"o_{n}" for n in range(101, 109))
_VIDEO_SUFFIXES = (".mp4", ".mov")
_VOICE_SUFFIXES = (".mp3", ".wav", ".mp4", ".mov")
#: Kling's own elements and voices (``owned_by: kling``) the preset lists show.
PRESET_ELEMENTS = (
    (900000000000000001, "Corgi", "A corgi puppy with a red collar", "o_103"),
    (900000000000000002, "Paper lantern", "A red paper lantern", "o_104"),
    (900000000000000003, "Astronaut", "An astronaut in a white suit", "o_102"),
)
PRESET_VOICES = (
    ("900000000000000101", "Warm narrator"),
    ("900000000000000102", "Bright child"),
    ("900000000000000103", "Calm baritone"),
)


@attrs.define
class AssetTask:
    """One create task of an element or a voice, and what it made."""

    task_id: str
    kind: str  # "element" or "voice"
    owner: str
    created: float
    ready_at: float
    external_task_id: str
    #: The element's or voice's fields as the task's result shows them (without status).
    made: dict[str, Any]
    deleted: bool = False

    @property
    def ident(self) -> str:
        return str(self.made["element_id" if self.kind == "element" else "voice_id"])

    def body(self, now: float) -> dict[str, Any]:
        ready = now >= self.ready_at
        if ready:
            status = "succeed"
        elif now >= self.created + (self.ready_at - self.created) / 4:
            status = "processing"
        else:
            status = "submitted"
        result: dict[str, Any] = {}
        if ready:
            item = {**self.made, "status": "deleted" if self.deleted else "succeed"}
            result = {"elements" if self.kind == "element" else "voices": [item]}
        ms = int(self.created * 1000)
        return {
            "task_id": self.task_id,
            "task_status": status,
            "task_status_msg": "",
            "task_info": {"external_task_id": self.external_task_id},
            "task_result": result,
            "final_unit_deduction": "0",
            "created_at": ms,
            "updated_at": int(min(now, self.ready_at) * 1000) if ready else ms,
        }


def _text(body: Mapping[str, Any], field: str, limit: int, *, required: bool = True) -> str:
    value = body.get(field)
    if value is None or value == "":
        if required:
            raise invalid(f"{field}: is required")
        return ""
    if not isinstance(value, str) or not value.strip():
        raise invalid(f"{field}: expected a non-empty string, got {value!r:.40}")
    if len(value) > limit:
        raise invalid(f"{field}: {len(value)} characters; must not exceed {limit}")
    return value


def _media_url(field: str, value: object, suffixes: tuple[str, ...]) -> str:
    if not isinstance(value, str) or not value.startswith(("http://", "https://")):
        raise invalid(f"{field}: expected an http(s) URL, got {value!r:.40}")
    suffix = PurePosixPath(urlsplit(value).path).suffix.lower()
    if suffix and suffix not in suffixes:
        raise invalid(f"{field}: only {'/'.join(suffixes)} files are supported")
    return value


def _optional_string(body: Mapping[str, Any], field: str) -> str:
    value = body.get(field)
    if value is None or value == "":
        return ""
    if not isinstance(value, str):
        raise invalid(f"{field}: expected a string, got {value!r:.40}")
    return value


def _images(body: Mapping[str, Any], placeholder: str) -> dict[str, Any]:
    images = body.get("element_image_list")
    if not isinstance(images, Mapping):
        raise invalid("element_image_list: is required when reference_type is image_refer")
    front = images.get("frontal_image")
    read_image("element_image_list.frontal_image", front)
    refer = images.get("refer_images")
    if not isinstance(refer, list) or not 1 <= len(refer) <= MAX_REFER_IMAGES:
        count = len(refer) if isinstance(refer, list) else refer
        raise invalid(
            f"element_image_list.refer_images: expected 1 to {MAX_REFER_IMAGES} images, "
            f"got {count!r:.40}"
        )
    shown = []
    for i, item in enumerate(refer):
        url = item.get("image_url") if isinstance(item, Mapping) else None
        read_image(f"element_image_list.refer_images[{i}].image_url", url)
        shown.append({"image_url": _shown(url, f"{placeholder}-{i + 1}.png")})
    return {"frontal_image": _shown(front, f"{placeholder}-0.png"), "refer_images": shown}


def _shown(value: Any, placeholder: str) -> str:
    """A URL as given; base64 as a URL of the emulator's (not served: it keeps no images)."""
    return value if isinstance(value, str) and value.startswith("http") else placeholder


def _videos(body: Mapping[str, Any]) -> dict[str, Any]:
    videos = body.get("element_video_list")
    refer = videos.get("refer_videos") if isinstance(videos, Mapping) else None
    if not isinstance(refer, list) or len(refer) != 1:
        raise invalid(
            "element_video_list.refer_videos: exactly 1 video is required when "
            "reference_type is video_refer"
        )
    item = refer[0]
    url = item.get("video_url") if isinstance(item, Mapping) else None
    _media_url("element_video_list.refer_videos[0].video_url", url, _VIDEO_SUFFIXES)
    return {"refer_videos": [{"video_url": url}]}


def _tags(body: Mapping[str, Any]) -> list[dict[str, str]]:
    tags = body.get("tag_list")
    if tags is None:
        return []
    if not isinstance(tags, list):
        raise invalid(f"tag_list: expected a list of {{tag_id}}, got {tags!r:.40}")
    out = []
    for i, tag in enumerate(tags):
        ident = tag.get("tag_id") if isinstance(tag, Mapping) else None
        if ident not in TAG_IDS:
            raise invalid(f"tag_list[{i}].tag_id: {ident!r:.40} is not one of {sorted(TAG_IDS)}")
        out.append({"tag_id": ident})
    return out


def element_ids_named(body: Mapping[str, Any]) -> list[str]:
    """The element ids a video or image create names: the legacy ``element_list`` and the
    new wire's ``contents`` items of type ``element`` (already checked by the rules)."""
    found = []
    items = body.get("element_list")
    if isinstance(items, list):
        found += [i.get("element_id") for i in items if isinstance(i, Mapping)]
    contents = body.get("contents")
    if isinstance(contents, list):
        found += [
            c.get("element_id")
            for c in contents
            if isinstance(c, Mapping) and c.get("type") == "element"
        ]
    return [str(ident) for ident in found if ident is not None]


class AssetStore:
    """Every account's element and voice tasks (keyed by the account's access key)."""

    def __init__(self, rng: random.Random, seconds: float, strict: bool) -> None:
        self.rng = rng
        self.seconds = seconds
        self.strict = strict
        self.tasks: dict[str, AssetTask] = {}
        self._order: list[AssetTask] = []

    def clear(self) -> None:
        self.tasks.clear()
        self._order.clear()

    def _new_id(self) -> str:
        while True:
            ident = str(self.rng.randrange(10**17, 10**18))
            if ident not in self.tasks:
                return ident

    def _external(self, owner: str, body: Mapping[str, Any]) -> str:
        external = _optional_string(body, "external_task_id")
        if external and (
            self.find(owner, "element", external) or self.find(owner, "voice", external)
        ):
            raise invalid(f"external_task_id {external!r} already exists (unique per account)")
        return external

    def _add(
        self, owner: str, kind: str, made: dict[str, Any], external: str, now: float
    ) -> AssetTask:
        task = AssetTask(self._new_id(), kind, owner, now, now + self.seconds, external, made)
        self.tasks[task.task_id] = task
        self._order.append(task)
        return task

    def create_element(
        self, owner: str, owner_name: str, body: Mapping[str, Any], now: float, base: str
    ) -> AssetTask:
        name = _text(body, "element_name", MAX_NAME)
        description = _text(body, "element_description", MAX_DESCRIPTION)
        refer = body.get("reference_type")
        if refer not in ("image_refer", "video_refer"):
            raise invalid(f"reference_type: {refer!r:.40} must be image_refer or video_refer")
        element_id = int(self._new_id())
        made: dict[str, Any] = {
            "element_id": element_id,
            "element_name": name,
            "element_description": description,
            "reference_type": refer,
            "element_image_list": {},
            "element_video_list": {},
            "element_voice_info": {},
            "tag_list": _tags(body),
            "owned_by": owner_name,
        }
        if refer == "image_refer":
            made["element_image_list"] = _images(body, f"{base}/__elements__/{element_id}")
        else:
            made["element_video_list"] = _videos(body)
        voice_id = _optional_string(body, "element_voice_id")
        if voice_id:
            made["element_voice_info"] = self._voice_info(owner, voice_id)
        _optional_string(body, "callback_url")
        return self._add(owner, "element", made, self._external(owner, body), now)

    def _voice_info(self, owner: str, voice_id: str) -> dict[str, Any]:
        for ident, name in PRESET_VOICES:
            if ident == voice_id:
                return _preset_voice(ident, name)
        task = self._made(owner, "voice", voice_id)
        if task is not None and task.deleted:
            raise invalid(f"element_voice_id: voice {voice_id} has been deleted")
        if task is None and self.strict:
            raise invalid(f"element_voice_id: voice {voice_id} does not exist")
        return dict(task.made) if task is not None else {"voice_id": voice_id}

    def create_voice(
        self, owner: str, owner_name: str, body: Mapping[str, Any], now: float
    ) -> AssetTask:
        name = _text(body, "voice_name", MAX_NAME)
        url = _optional_string(body, "voice_url")
        video_id = _optional_string(body, "video_id")
        if not url and not video_id:
            raise invalid("voice_url: voice_url or video_id is required")
        if url:
            _media_url("voice_url", url, _VOICE_SUFFIXES)
        _optional_string(body, "callback_url")
        voice_id = self._new_id()
        made = {
            "voice_id": voice_id,
            "voice_name": name,
            "trial_url": url or f"https://emulator.invalid/voices/{voice_id}.mp3",
            "owned_by": owner_name,
        }
        return self._add(owner, "voice", made, self._external(owner, body), now)

    def find(self, owner: str, kind: str, ident: str) -> AssetTask | None:
        """A create task by its task id or external task id."""
        task = self.tasks.get(ident)
        if task is not None and task.owner == owner and task.kind == kind:
            return task
        for task in self._order:
            if task.owner == owner and task.kind == kind and task.external_task_id == ident:
                return task
        return None

    def page(self, owner: str, kind: str, number: int, size: int) -> list[AssetTask]:
        mine = [t for t in reversed(self._order) if t.owner == owner and t.kind == kind]
        return mine[(number - 1) * size : number * size]

    def _made(self, owner: str, kind: str, ident: str) -> AssetTask | None:
        """The task that made the element or voice ``ident`` (once it is ready)."""
        for task in self._order:
            if task.owner == owner and task.kind == kind and task.ident == ident:
                return task
        return None

    def delete(self, owner: str, kind: str, ident: object, now: float) -> dict[str, Any]:
        field = "element_id" if kind == "element" else "voice_id"
        if isinstance(ident, bool) or not isinstance(ident, str | int) or not str(ident).strip():
            raise invalid(f"{field}: is required")
        ident = str(ident).strip()
        presets = [str(p[0]) for p in (PRESET_ELEMENTS if kind == "element" else PRESET_VOICES)]
        if ident in presets:
            raise invalid(f"{field}: {ident} is a preset; only custom {kind}s can be deleted")
        task = self._made(owner, kind, ident)
        if task is None or now < task.ready_at:
            raise invalid(f"{field}: {kind} {ident} does not exist")
        task.deleted = True  # deleting twice answers alike: a retried delete is harmless
        return {"task_id": self._new_id(), "task_status": "succeed"}

    def check_elements(self, owner: str, body: Mapping[str, Any], now: float) -> None:
        """Refuse a create naming an element that was deleted (or, strict, never made)."""
        presets = {str(p[0]) for p in PRESET_ELEMENTS}
        for ident in element_ids_named(body):
            if ident in presets:
                continue
            task = self._made(owner, "element", ident)
            if task is not None and task.deleted:
                raise invalid(f"element_id: element {ident} has been deleted")
            if task is not None and now < task.ready_at:
                raise invalid(f"element_id: element {ident} is not ready yet")
            if task is None and self.strict:
                raise invalid(f"element_id: element {ident} does not exist")


def _preset_voice(ident: str, name: str) -> dict[str, Any]:
    return {
        "voice_id": ident,
        "voice_name": name,
        "trial_url": f"https://emulator.invalid/voices/{ident}.mp3",
        "owned_by": "kling",
    }


def preset_bodies(kind: str, now: float) -> list[dict[str, Any]]:
    """The preset lists: one succeeded task per preset, as the vendor's page shows them."""
    ms = int(now * 1000)
    out = []
    if kind == "element":
        for ident, name, description, tag in PRESET_ELEMENTS:
            item: dict[str, Any] = {
                "element_id": ident,
                "element_name": name,
                "element_description": description,
                "reference_type": "image_refer",
                "element_image_list": {},
                "element_video_list": {},
                "element_voice_info": {},
                "tag_list": [{"tag_id": tag}],
                "owned_by": "kling",
                "status": "succeed",
            }
            out.append((str(ident), {"elements": [item]}))
    else:
        for vid, name in PRESET_VOICES:
            out.append((vid, {"voices": [_preset_voice(vid, name)]}))
    return [
        {
            "task_id": f"preset-{ident}",
            "task_status": "succeed",
            "task_status_msg": "",
            "task_info": {"external_task_id": ""},
            "task_result": result,
            "created_at": ms,
            "updated_at": ms,
        }
        for ident, result in out
    ]
