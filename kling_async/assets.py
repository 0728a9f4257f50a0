"""What the server says of custom elements and voices: ``AssetTask`` (the task that made
them, as ``client.elements`` and ``client.voices`` return it), ``ElementInfo`` and
``VoiceInfo``. Read from the wire by ``_convert_assets``; nothing here checks or raises."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import attrs

from .results import Task
from .states import AssetStatus, TaskStatus


@attrs.frozen
class VoiceInfo:
    """A voice: its ``voice_id`` (what ``voices=`` and ``--voice`` take), name, a URL to
    hear it by, and who owns it (``kling`` for presets, else the creator's id)."""

    voice_id: str
    name: str = ""
    trial_url: str | None = None
    owned_by: str = ""
    status: AssetStatus = AssetStatus.ACTIVE
    raw: Mapping[str, Any] = attrs.field(factory=dict, repr=False, eq=False)


@attrs.frozen
class ElementInfo:
    """An element: its ``element_id`` (what ``elements=`` and ``--element`` take), what it
    was made as, the voice bound to it, and whether it is still usable (``status``)."""

    element_id: int
    name: str = ""
    description: str = ""
    reference_type: str = ""
    status: AssetStatus = AssetStatus.ACTIVE
    owned_by: str = ""
    voice: VoiceInfo | None = None
    tags: tuple[str, ...] = ()
    raw: Mapping[str, Any] = attrs.field(factory=dict, repr=False, eq=False)

    @property
    def usable(self) -> bool:
        return self.status is AssetStatus.ACTIVE


@attrs.frozen
class AssetTask:
    """The task that makes an element or a voice: ``task`` (its status, ids, times, units:
    ``task.succeeded``, ``task.failed``) and, once it succeeded, what it made."""

    task: Task
    elements: tuple[ElementInfo, ...] = ()
    voices: tuple[VoiceInfo, ...] = ()

    @property
    def task_id(self) -> str:
        return self.task.task_id

    @property
    def status(self) -> TaskStatus:
        return self.task.status


__all__ = ["AssetTask", "ElementInfo", "VoiceInfo"]
