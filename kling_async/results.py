"""Response types: what the server says of a task and of the account, read by the one
converter in ``_convert``. Nothing here checks a request (see ``models``) or raises."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

import attrs

from .states import TaskStatus


@attrs.frozen
class Video:
    """One generated video. ``duration`` in seconds (the API sends it as a string)."""

    id: str
    url: str
    watermark_url: str | None = None
    duration: float | None = None


@attrs.frozen
class Task:
    """A task as the server last described it. ``raw`` is the body as received, unknown
    fields included; ``extra`` holds the top-level fields this SDK does not know."""

    task_id: str
    status: TaskStatus
    external_task_id: str | None = None
    status_message: str = ""
    created_at: datetime | None = None
    updated_at: datetime | None = None
    videos: tuple[Video, ...] = ()
    #: Units deducted (``final_unit_deduction``); None when the server did not say.
    units: float | None = None
    raw_status: str = ""
    #: Which endpoint the task belongs to: ``image2video`` or ``text2video``.
    kind: str = "image2video"
    #: The API that holds it: ``legacy`` (``/v1/videos/...``) or ``new`` (``/tasks``).
    wire: str = "legacy"
    extra: Mapping[str, Any] = attrs.field(factory=dict, repr=False, eq=False)
    raw: Mapping[str, Any] = attrs.field(factory=dict, repr=False, eq=False)

    @property
    def is_final(self) -> bool:
        return self.status.is_final

    @property
    def succeeded(self) -> bool:
        return self.status is TaskStatus.SUCCEEDED

    @property
    def failed(self) -> bool:
        return self.status is TaskStatus.FAILED


@attrs.frozen
class ResourcePack:
    """One resource pack of the account (``GET /account/costs``)."""

    name: str
    pack_id: str
    pack_type: str
    total: float | None
    remaining: float | None
    status: str
    purchased_at: datetime | None = None
    effective_at: datetime | None = None
    expires_at: datetime | None = None


@attrs.frozen
class AccountCosts:
    """The account's resource packs (``client.account.costs()``); ``remaining`` adds them up."""

    packs: tuple[ResourcePack, ...]
    raw: Mapping[str, Any] = attrs.field(factory=dict, repr=False, eq=False)

    @property
    def remaining(self) -> float:
        """Units left across online packs."""
        return sum(p.remaining or 0.0 for p in self.packs if p.status == "online")


__all__ = ["AccountCosts", "ResourcePack", "Task", "Video"]
