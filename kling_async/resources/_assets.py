"""The verbs custom elements and voices share (``/v1/general/...``, the legacy-style API:
``task_id``/``task_status``, ``pageNum``/``pageSize`` lists): create (never billed twice:
through ``money.submit``, reconciled by the external id), get, list, presets, wait, delete."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Iterable
from typing import Any, TypeVar
from urllib.parse import quote

import attrs

from .. import money
from .._api import ClientAPI
from .._convert import task_from_wire
from .._convert_assets import asset_task, asset_task_from_wire
from .._images import inspect_async, locate, wire
from .._retry import backoff
from .._waiting import WaitPolicy
from ..assets import AssetTask
from ..errors import NotFoundError, TaskFailedError, TaskTimeoutError, ValidationError
from ..results import Task
from ._tasks import TaskPager

Q = TypeVar("Q")
T = TypeVar("T")


@attrs.frozen
class AssetCall:
    """An element or voice create ready to send (what ``money.submit`` takes)."""

    path: str
    body: dict[str, Any] = attrs.field(repr=False)
    external_task_id: str
    wire: str = "legacy"


#: kind -> (``/v1/general/`` segments: create/get/list, presets, delete; the id field).
ROUTES = {
    "elements": (
        "advanced-custom-elements",
        "advanced-presets-elements",
        "delete-advanced-elements",
        "element_id",
    ),
    "voices": ("custom-voices", "presets-voices", "delete-voices", "voice_id"),
}


class AssetResource:
    """``client.elements`` and ``client.voices`` are instances of subclasses (``kind``)."""

    kind: str

    def __init__(self, client: ClientAPI) -> None:
        self._client = client
        route, presets, delete, field = ROUTES[self.kind]
        #: Where creates, queries and lists go.
        self.path = f"/v1/general/{route}"
        self.presets_path = f"/v1/general/{presets}"
        self.delete_path = f"/v1/general/{delete}"
        #: The id an item is known by (and deleted by).
        self.id_field = field

    def _request(self, request_type: type[Q], request: Q | None, fields: dict[str, Any]) -> Q:
        """The request given, or one made of keyword fields (not both)."""
        if request is not None and fields:
            raise ValidationError(
                "create",
                sorted(fields),
                f"give a {request_type.__name__} or keyword fields, not both",
            )
        if request is None:
            try:
                return request_type(**fields)
            except TypeError as exc:
                raise ValidationError("create", sorted(fields), f"bad fields: {exc}") from None
        if not isinstance(request, request_type):
            raise ValidationError(
                "request", type(request).__name__, f"must be {request_type.__name__}"
            )
        return request

    async def _lookup(
        self, ident: object, presets: bool, items: Callable[[AssetTask], Iterable[T]]
    ) -> T | None:
        """The first of ``items`` (of each listed task) whose id is ``ident``."""
        wanted = str(ident).strip()
        listing = self.presets() if presets else self.list(page_size=500)
        async for task in listing:
            for item in items(task):
                if str(getattr(item, self.id_field)) == wanted:
                    return item
        return None

    async def _send(self, body: dict[str, Any], external_task_id: str | None) -> AssetTask:
        external_id = external_task_id or money.new_external_id()
        body = {**body, "external_task_id": external_id}
        call = AssetCall(self.path, body, external_id)
        return asset_task(await money.submit(self._client, call, self._find, self.kind))

    async def _find(self, external_id: str, wire: str) -> Task | None:
        try:
            return (await self.get(external_id)).task
        except NotFoundError:
            return None

    async def get(self, task_id: str, *, retry: bool = True) -> AssetTask:
        """The create task by its ``task_id`` or your ``external_task_id`` (with what it made
        once it succeeded). Raises ``NotFoundError``."""
        if not isinstance(task_id, str) or not task_id.strip():
            raise ValidationError("task_id", task_id, "must be a non-empty id")
        path = f"{self.path}/{quote(task_id, safe='')}"
        data = await self._client.request("GET", path, kind="query", retry=retry)
        return asset_task_from_wire(data, self.kind)

    async def list(
        self, *, page_size: int = 30, max_pages: int | None = None
    ) -> AsyncIterator[AssetTask]:
        """Your create tasks, page by page (``pageNum``/``pageSize``, 1..500 a page):
        ``async for task in client.elements.list()``."""
        async for task in TaskPager(self._client, self.path, self.kind, page_size, max_pages):
            yield asset_task(task)

    async def presets(
        self, *, page_size: int = 30, max_pages: int | None = None
    ) -> AsyncIterator[AssetTask]:
        """Kling's own (preset) ones, listed as ``list`` lists yours."""
        pager = TaskPager(self._client, self.presets_path, self.kind, page_size, max_pages)
        async for task in pager:
            yield asset_task(task)

    async def _delete(self, ident: str) -> Task:
        if not isinstance(ident, str) or not ident.strip():
            raise ValidationError(self.id_field, ident, "must be a non-empty id")
        data = await self._client.request(
            "POST", self.delete_path, kind="create", json_body={self.id_field: ident}
        )
        return task_from_wire(data, self.kind)

    async def wait(
        self,
        task: str | AssetTask,
        *,
        timeout: float | None = None,
        policy: WaitPolicy | None = None,
    ) -> AssetTask:
        """Poll the create task until it ends; return it once it succeeded (its elements or
        voices filled in). Raises ``TaskFailedError`` when it failed, ``TaskTimeoutError``
        after ``timeout`` seconds (default: the client's wait policy)."""
        ident = task.task_id if isinstance(task, AssetTask) else task
        policy = policy or self._client.wait_policy
        limit = policy.timeout if timeout is None else timeout
        if not limit > 0:
            raise ValidationError("timeout", limit, "must be a positive number of seconds")
        clock = self._client.clock
        deadline = clock.monotonic() + limit
        delay = policy.first_poll if policy.first_poll is not None else policy.min_interval
        last: AssetTask | None = None
        for looks in range(1, 1_000_000):
            remaining = deadline - clock.monotonic()
            if remaining <= 0:
                break
            await self._client.sleep(min(delay, remaining))
            last = await self.get(ident)
            if last.task.succeeded:
                return last
            if last.task.failed:
                raise TaskFailedError(last.task)
            delay = backoff(
                looks, initial=policy.min_interval, cap=policy.max_interval, factor=policy.factor
            )
        raise TaskTimeoutError(ident, limit, last.task if last else None)


async def encoded(value: Any, field: str) -> str:
    """An image field's wire form (URL or bare base64), checked first (jpg/png, ≤ 10 MB,
    ≥ 300 px, 1:2.5..2.5:1); files are read in a worker thread."""
    source = locate(field, value)
    await inspect_async(source)
    return await asyncio.to_thread(wire, source)
