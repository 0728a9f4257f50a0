"""Response types: what the server says of a task and of the account, read by the one
converter in ``_convert``. Nothing here checks a request (see ``models``) or raises."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal
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
class Image:
    """One generated image: its number in the task (from 0) and its URL."""

    index: int
    url: str
    watermark_url: str | None = None


@attrs.frozen
class Cost:
    """Money a task was charged (a balance deduction, not resource-pack units): ``amount``
    (the price paid), its ``currency`` when the server names it, and the ``list_price``."""

    amount: Decimal
    currency: str | None = None
    list_price: Decimal | None = None


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
    #: Which endpoint the task belongs to: ``image2video``, ``text2video``, ``omni_video``,
    #: ``motion_control``, ``images`` (or ``video``: a new-API task queried without its kind).
    kind: str = "image2video"
    #: The API that holds it: ``legacy`` (``/v1/videos/...``) or ``new`` (``/tasks``).
    wire: str = "legacy"
    #: Generated images (an image task's; the new API's ``image`` outputs).
    images: tuple[Image, ...] = ()
    #: Money charged (the new API's ``billing`` of ``charge_type: cash``, the legacy
    #: ``final_balance_deduction``); None when the server said nothing of money.
    cost: Cost | None = None
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


__all__ = ["AccountCosts", "Cost", "Image", "ResourcePack", "Task", "Video"]
