"""``client.tasks``: the new API's account-wide task queries — ``GET /tasks`` (up to 20 ids a
call, by task id or by external id) and the cursor list ``POST /tasks``."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Iterable, Sequence
from typing import Any, Literal

from .._api import ClientAPI
from .._convert import tasks_from_wire
from ..errors import NotFoundError, ResponseFormatError, ValidationError
from ..results import Task

#: Most ids one ``GET /tasks`` may carry (the service answers 1201 to 21).
MAX_IDS_PER_QUERY = 20
#: What a task of the new API is called when the query does not say its endpoint.
VIDEO_KIND = "video"

log = logging.getLogger("kling_async")


def _check_ids(ids: Sequence[Any], by: str = "ids") -> None:
    """Every id must be a non-empty string without a comma: ``GET /tasks`` sends them as one
    comma-separated list, where a comma inside an id would split it into two."""
    for i, ident in enumerate(ids):
        if not isinstance(ident, str) or not ident.strip():
            raise ValidationError(f"{by}[{i}]", ident, "must be a non-empty id string")
        if "," in ident:
            raise ValidationError(
                f"{by}[{i}]",
                ident,
                "must not contain ',': the ids are sent as one comma-separated list, where a "
                "comma would split this id in two",
            )


class TaskCursor:
    """``async for task in client.tasks.list()``: every task of the account, newest first,
    page by page through the cursor, each task once. Stops when the server says there is no
    more, after ``max_pages``, or (with a warning on the ``kling_async`` logger) when a cursor
    repeats or a page holds only tasks already yielded."""

    def __init__(
        self,
        client: ClientAPI,
        limit: int,
        max_pages: int | None,
        filters: list[dict[str, Any]],
    ) -> None:
        if not 1 <= limit <= 500:
            raise ValidationError("limit", limit, "must be within 1..500")
        if max_pages is not None and max_pages < 1:
            raise ValidationError("max_pages", max_pages, "must be at least 1")
        self._client = client
        self._limit = limit
        self._max_pages = max_pages or 1000
        self._filters = filters

    async def page(self, cursor: str = "", *, retry: bool = True) -> tuple[list[Task], str | None]:
        """One page from ``cursor`` ("" for the newest): its tasks and the next cursor (None
        when there is no more)."""
        body: dict[str, Any] = {"limit": self._limit, "cursor": cursor}
        if self._filters:
            body["filters"] = self._filters
        data = await self._client.request(
            "POST", "/tasks", kind="list", json_body=body, retry=retry, wire="new"
        )
        if not isinstance(data, dict):
            raise ResponseFormatError("task list: expected an object with 'result'", body=data)
        tasks = tasks_from_wire(data.get("result") or [], VIDEO_KIND, "new")
        more = data.get("has_more") is True
        next_cursor = data.get("next_cursor")
        if not more or not isinstance(next_cursor, str) or not next_cursor:
            return tasks, None
        return tasks, next_cursor

    async def __aiter__(self) -> AsyncIterator[Task]:
        cursor: str | None = ""
        cursors: set[str] = set()
        yielded: set[str] = set()
        for number in range(1, self._max_pages + 1):
            assert cursor is not None
            tasks, cursor = await self.page(cursor)
            fresh = [t for t in tasks if t.task_id not in yielded]
            for task in fresh:
                yielded.add(task.task_id)
                yield task
            if cursor is None:
                return
            if not fresh:
                log.warning(
                    "POST /tasks: page %d holds no task not already listed (%d tasks) yet says "
                    "there is more; stopping the list there",
                    number,
                    len(tasks),
                )
                return
            if cursor in cursors:
                log.warning(
                    "POST /tasks: the server sent cursor %r again after page %d; stopping the "
                    "list there",
                    cursor[:60],
                    number,
                )
                return
            cursors.add(cursor)


class TasksResource:
    """The new API's task queries. Tasks created through ``client.image_to_video`` with a
    new-API model are looked up here automatically; use it directly to query many at once."""

    def __init__(self, client: ClientAPI) -> None:
        self._client = client

    async def get_many(
        self,
        ids: Iterable[str],
        *,
        by: Literal["task_ids", "external_task_ids"] = "task_ids",
        retry: bool = True,
        kind: str = VIDEO_KIND,
    ) -> list[Task]:
        """The tasks with these ids (20 per request). Ids the account does not have are
        simply absent from the answer."""
        if by not in ("task_ids", "external_task_ids"):
            raise ValidationError("by", by, "must be 'task_ids' or 'external_task_ids'")
        if isinstance(ids, str | bytes):
            raise ValidationError(by, ids, "must be a list of ids, not one string")
        given = list(ids)
        _check_ids(given, by)
        wanted = list(dict.fromkeys(given))
        out: list[Task] = []
        for start in range(0, len(wanted), MAX_IDS_PER_QUERY):
            chunk = wanted[start : start + MAX_IDS_PER_QUERY]
            data = await self._client.request(
                "GET", "/tasks", kind="query", params={by: ",".join(chunk)}, retry=retry, wire="new"
            )
            out.extend(tasks_from_wire(data if data is not None else [], kind, "new"))
        return out

    async def get(self, task_id: str, *, retry: bool = True, kind: str = VIDEO_KIND) -> Task:
        """One task by its task id (or, failing that, by your external id). Raises
        ``NotFoundError`` when the account has neither."""
        by: Literal["task_ids", "external_task_ids"]
        for by in ("task_ids", "external_task_ids"):
            found = await self.get_many([task_id], by=by, retry=retry, kind=kind)
            if found:
                return found[0]
        raise NotFoundError(
            f"task {task_id!r} not found on the new API", code=1201, http_status=200
        )

    def list(
        self,
        *,
        limit: int = 100,
        max_pages: int | None = None,
        status: Iterable[str] | None = None,
    ) -> TaskCursor:
        """Every video task of the account, newest first (``POST /tasks``); ``status``
        filters (``submitted``, ``processing``, ``succeeded``, ``failed``)."""
        filters: list[dict[str, Any]] = [{"key": "product_type", "values": ["video"]}]
        if status is not None:
            filters.append({"key": "status", "values": list(status)})
        return TaskCursor(self._client, limit, max_pages, filters)
