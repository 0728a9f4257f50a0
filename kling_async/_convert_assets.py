"""Element and voice tasks from the wire: a task as ``_convert`` reads it, plus the
``task_result.elements`` / ``task_result.voices`` it carries. Unknown fields stay in ``raw``;
a wrong type is a ``ResponseFormatError`` naming the place."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ._convert import task_from_wire
from .assets import AssetTask, ElementInfo, VoiceInfo
from .errors import ResponseFormatError
from .results import Task
from .states import AssetStatus


def _text(item: Mapping[str, Any], key: str) -> str:
    value = item.get(key)
    if value is None:
        return ""
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise TypeError(f"{key}: expected a string, got {type(value).__name__}")
    return str(value)


def _items(where: Mapping[str, Any], key: str) -> list[Mapping[str, Any]]:
    items = where.get(key) or []
    if not isinstance(items, list) or not all(isinstance(i, Mapping) for i in items):
        raise TypeError(f"task_result.{key}: expected a list of objects")
    return items


def voice_from_wire(item: Mapping[str, Any]) -> VoiceInfo:
    ident = _text(item, "voice_id")
    if not ident:
        raise KeyError("voice_id")
    return VoiceInfo(
        voice_id=ident,
        name=_text(item, "voice_name"),
        trial_url=_text(item, "trial_url") or None,
        owned_by=_text(item, "owned_by"),
        status=AssetStatus.parse(item.get("status")),
        raw=dict(item),
    )


def element_from_wire(item: Mapping[str, Any]) -> ElementInfo:
    ident = item.get("element_id")
    if isinstance(ident, str) and ident.strip().isdigit():
        ident = int(ident)
    if isinstance(ident, bool) or not isinstance(ident, int):
        raise TypeError(f"element_id: expected an integer id, got {ident!r:.40}")
    voice = item.get("element_voice_info")
    tags = item.get("tag_list") or []
    if not isinstance(tags, list):
        raise TypeError("tag_list: expected a list")
    return ElementInfo(
        element_id=ident,
        name=_text(item, "element_name"),
        description=_text(item, "element_description"),
        reference_type=_text(item, "reference_type"),
        status=AssetStatus.parse(item.get("status")),
        owned_by=_text(item, "owned_by"),
        voice=voice_from_wire(voice) if isinstance(voice, Mapping) and voice else None,
        tags=tuple(_text(t, "tag_id") if isinstance(t, Mapping) else str(t) for t in tags),
        raw=dict(item),
    )


def asset_task(task: Task) -> AssetTask:
    """The task with the elements and voices its result holds."""
    result = task.raw.get("task_result")
    if not isinstance(result, Mapping):
        return AssetTask(task)
    try:
        return AssetTask(
            task,
            elements=tuple(element_from_wire(i) for i in _items(result, "elements")),
            voices=tuple(voice_from_wire(i) for i in _items(result, "voices")),
        )
    except (TypeError, ValueError, KeyError) as exc:
        raise ResponseFormatError(
            f"task {task.task_id}: unexpected shape: {type(exc).__name__}: {exc}", body=task.raw
        ) from None


def asset_task_from_wire(body: Any, kind: str) -> AssetTask:
    return asset_task(task_from_wire(body, kind))
