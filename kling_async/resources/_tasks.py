"""The verbs every task endpoint shares: create (never billed twice), get, list, wait, generate."""

from __future__ import annotations

import asyncio
import inspect
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any, Generic, TypeVar
from urllib.parse import quote

import attrs

from .. import _wire, money
from .._api import ClientAPI
from .._convert import task_from_wire, tasks_from_wire
from .._durations import DurationKey, DurationModel, duration_key
from .._retry import RetryPolicy, backoff
from .._waiting import WaitPolicy
from ..errors import (
    NotFoundError,
    TaskFailedError,
    TaskTimeoutError,
    ValidationError,
)
from ..image_requests import ImageGeneration
from ..models import ImageToVideo, TextToVideo
from ..results import Task
from ..validation import Plan, validate
from ..video_requests import MotionControl, OmniVideo
from .task_queries import TasksResource

R = TypeVar("R", ImageToVideo, TextToVideo, OmniVideo, MotionControl, ImageGeneration)
ProgressCallback = Callable[[Task], Awaitable[None] | None]


log = logging.getLogger("kling_async")

#: Seconds past its deadline the last look of ``wait`` (made at the deadline) may take.
_LAST_LOOK_GRACE = 2.0


class TaskPager:
    """``async for task in pager`` walks every page, newest first, each task once;
    ``await pager.page(n)`` fetches one page. The walk stops at a short page, after
    ``max_pages``, or (with a warning on the ``kling_async`` logger) at a page that holds only
    tasks already yielded — a server that answers every page alike ends it there."""

    def __init__(
        self, client: ClientAPI, path: str, kind: str, page_size: int, max_pages: int | None
    ) -> None:
        if not 1 <= page_size <= 500:
            raise ValidationError("page_size", page_size, "must be within 1..500")
        if max_pages is not None and not 1 <= max_pages <= 1000:
            raise ValidationError("max_pages", max_pages, "must be within 1..1000")
        self._client = client
        self._path = path
        self._kind = kind
        self._page_size = page_size
        self._max_pages = max_pages or 1000

    async def page(self, number: int = 1, *, retry: bool = True) -> list[Task]:
        """One page (1..1000). ``retry=False`` sends it once (a poller that looks again soon)."""
        if not 1 <= number <= 1000:
            raise ValidationError("page", number, "must be within 1..1000")
        data = await self._client.request(
            "GET",
            self._path,
            kind="list",
            params={"pageNum": number, "pageSize": self._page_size},
            retry=retry,
        )
        return tasks_from_wire(data, self._kind)

    async def __aiter__(self) -> AsyncIterator[Task]:
        yielded: set[str] = set()
        for number in range(1, self._max_pages + 1):
            tasks = await self.page(number)
            fresh = [t for t in tasks if t.task_id not in yielded]
            for task in fresh:
                yielded.add(task.task_id)
                yield task
            if len(tasks) < self._page_size:
                return
            if not fresh:
                log.warning(
                    "GET %s: page %d holds only tasks already listed (%d of them); stopping "
                    "the list there",
                    self._path,
                    number,
                    len(tasks),
                )
                return


class TaskResource(Generic[R]):
    """``client.image_to_video``, ``client.text_to_video``, ``client.omni_video``,
    ``client.motion_control`` and ``client.images`` are instances of subclasses."""

    kind: str
    request_type: type[R]
    #: The APIs that hold this kind of task (the first is the default for a bare id when
    #: there is only one).
    wires: tuple[str, ...] = ("legacy", "new")
    #: The legacy API's path of this kind (default ``/v1/videos/<kind>``).
    legacy_path: str | None = None

    def __init__(self, client: ClientAPI) -> None:
        self._client = client
        self._tasks = TasksResource(client)
        #: How long this kind's tasks took, seen from their start (``generate``).
        self._durations = DurationModel()
        self.path = self.legacy_path or f"/v1/videos/{self.kind}"

    # -- create ------------------------------------------------------------------------
    def _request(self, request: R | None, fields: dict[str, Any]) -> R:
        if request is not None and fields:
            raise ValidationError(
                "create", sorted(fields), "give a request object or keyword fields, not both"
            )
        if request is not None:
            if not isinstance(request, self.request_type):
                raise ValidationError(
                    "request", type(request).__name__, f"must be {self.request_type.__name__}"
                )
            return request
        try:
            return self.request_type(**fields)
        except TypeError as exc:
            raise ValidationError("create", sorted(fields), f"bad fields: {exc}") from None

    async def create(self, request: R | None = None, /, **fields: Any) -> Task:
        """Validate, then create the task. Returns it as ``submitted``.

        The wire follows the model (``kling-v3`` the legacy API, ``kling-3.0-turbo`` the new
        one) unless the request's or the client's ``api`` says otherwise. Never billed twice:
        the create carries an ``external_task_id`` (the request's, or a new one); after an
        ambiguous failure (timeout, dropped connection, 5000/5002) the SDK looks that id up
        before it sends again, and only sends again if the task is not there.
        """
        call = await self.prepare(self._request(request, fields))
        return await self.submit(call)

    async def prepare(self, request: R) -> _wire.CreateCall:
        """Validate ``request`` and build its create call (images encoded off the loop).
        A request without ``external_task_id`` gets a new one."""
        plan = await validate(
            request, api=self._client.api, allow_unknown_models=self._client.allow_unknown_models
        )
        self.check_credentials(plan)
        if request.external_task_id is None:
            request = attrs.evolve(request, external_task_id=money.new_external_id())
        return await _wire.build(request, plan)

    def check_credentials(self, plan: Plan) -> None:
        """A request for the new API needs an API key: refuse it before anything is sent."""
        if plan.wire == "new" and not self._client.tokens.has_api_key:
            raise ValidationError(
                "model",
                plan.model,
                "goes to Kling's new API, which takes only an API key; this client has only an "
                "access/secret key pair: pass api_key= or set KLING_API_KEY"
                + (
                    " (or use the legacy name with api='legacy')"
                    if plan.family != "3.0-turbo" and "legacy" in self.wires
                    else ""
                ),
            )

    async def submit(self, call: _wire.CreateCall, *, policy: RetryPolicy | None = None) -> Task:
        """Send a create call, reconciling by its external id on any ambiguity (see
        ``money``: raises ``CreateUnconfirmedError`` when the task may exist)."""
        return await money.submit(self._client, call, self.find, self.kind, policy)

    async def find(self, external_id: str, wire: str = "legacy") -> Task | None:
        """The task created under your ``external_id`` on ``wire``, or None when the server
        has none (how a create whose answer was lost is reconciled). Other failures raise."""
        try:
            if wire == "new":
                found = await self._tasks.get_many(
                    [external_id], by="external_task_ids", kind=self.kind
                )
                return found[0] if found else None
            return await self.get(external_id, api="legacy")
        except NotFoundError:
            return None

    # -- queries -----------------------------------------------------------------------
    def _wire_of(self, task: str | Task, api: str | None) -> str:
        if api is not None:
            if api not in self.wires:
                allowed = " or ".join(repr(w) for w in self.wires)
                raise ValidationError("api", api, f"must be {allowed}")
            return api
        if isinstance(task, Task):
            return task.wire
        if len(self.wires) == 1:
            return self.wires[0]
        return "new" if self._client.api == "new" else "legacy"

    async def get(self, task_id: str | Task, *, retry: bool = True, api: str | None = None) -> Task:
        """The task by its ``task_id`` or your ``external_task_id``. Raises ``NotFoundError``.

        A ``Task`` is looked up on the API that holds it; a bare id on the legacy API, unless
        ``api="new"`` (or the client's ``api="new"``). ``retry=False`` sends the query once (a
        poller that looks again soon)."""
        wire = self._wire_of(task_id, api)
        ident = task_id.task_id if isinstance(task_id, Task) else task_id
        if not isinstance(ident, str) or not ident.strip():
            raise ValidationError("task_id", ident, "must be a non-empty id")
        if wire == "new":
            return await self._tasks.get(ident, retry=retry, kind=self.kind)
        path = f"{self.path}/{quote(ident, safe='')}"
        data = await self._client.request("GET", path, kind="query", retry=retry)
        return task_from_wire(data, self.kind)

    def list(
        self, *, page_size: int = 30, max_pages: int | None = None, api: str | None = None
    ) -> TaskPager | Any:
        """Every task of this kind, newest first: ``async for task in client.X.list()``.
        With ``api="new"`` (or the client's), the new API's cursor list of every video task."""
        if self._wire_of("", api) == "new":
            return self._tasks.list(limit=min(page_size, 500), max_pages=max_pages)
        return TaskPager(self._client, self.path, self.kind, page_size, max_pages)

    async def wait(
        self,
        task_id: str | Task,
        *,
        timeout: float | None = None,
        on_progress: ProgressCallback | None = None,
        policy: WaitPolicy | None = None,
    ) -> Task:
        """Poll until the task ends; return it when it succeeded.

        Raises ``TaskFailedError`` when it failed and ``TaskTimeoutError`` (a ``TimeoutError``)
        at the deadline. ``on_progress`` (sync or async) sees every polled state.

        The deadline bounds everything, the queries too: a query that hangs (and is retried
        by the transport) is cut off, so ``wait`` ends at most ``min(2, timeout / 2)`` seconds
        after ``timeout`` — the grace the last look, made at the deadline, gets.

        The first look comes early: by default when the tasks of this kind that this
        namespace saw end from their start (``generate``) took the least time, or after
        ``policy.min_interval`` (1 s) — then the looks space out by ``policy.factor``.
        """
        return await self._wait(
            task_id, timeout=timeout, on_progress=on_progress, policy=policy, fresh=False
        )

    def _duration_key(self, key: DurationKey | None) -> DurationKey:
        return key if key is not None else (self.kind, "", 0)

    async def _wait(
        self,
        task_id: str | Task,
        *,
        timeout: float | None,
        on_progress: ProgressCallback | None,
        policy: WaitPolicy | None,
        fresh: bool,
        key: DurationKey | None = None,
    ) -> Task:
        """``wait``; ``fresh``: the task was created just now (its duration can be learned,
        and its first look put when tasks of its ``key`` were seen to end)."""
        ident = task_id.task_id if isinstance(task_id, Task) else task_id
        wire = self._wire_of(task_id, None)
        policy = policy or self._client.wait_policy
        limit = policy.timeout if timeout is None else timeout
        if not limit > 0:  # NaN too
            raise ValidationError("timeout", limit, "must be a positive number of seconds")
        clock = self._client.clock
        deadline = clock.monotonic() + limit
        # the hard bound is on the loop's (real) time: it cuts a hung query off
        loop = asyncio.get_running_loop()
        grace = min(_LAST_LOOK_GRACE, limit / 2)
        hard = None if limit == float("inf") else loop.time() + limit + grace
        sleep = self._client.sleep
        started = clock.monotonic()
        expected = self._durations.expected(self._duration_key(key))
        delay = policy.first_poll
        if delay is None:  # look when tasks of its kind were seen to end, early if none was
            delay = max(policy.min_interval, expected or 0.0) if fresh else policy.min_interval
        looks, last = 0, None
        bound = asyncio.timeout_at(hard)
        try:
            async with bound:
                while True:
                    remaining = deadline - clock.monotonic()
                    if remaining <= 0:
                        raise TaskTimeoutError(ident, limit, last)
                    await sleep(min(delay, remaining))
                    last = await self.get(ident, api=wire)
                    looks += 1
                    if on_progress is not None:
                        result = on_progress(last)
                        if inspect.isawaitable(result):
                            await result
                    if last.is_final and fresh:  # seen from its start: how long it took
                        self._durations.observe(
                            self._duration_key(key), clock.monotonic() - started
                        )
                    if last.succeeded:
                        return last
                    if last.failed:
                        raise TaskFailedError(last)
                    delay = backoff(
                        looks,
                        initial=policy.min_interval,
                        cap=policy.max_interval,
                        factor=policy.factor,
                    )
        except TimeoutError:
            if bound.expired():  # our deadline, not a query's own timeout nor a caller's cancel
                raise TaskTimeoutError(ident, limit, last) from None
            raise

    async def generate(
        self,
        request: R | None = None,
        /,
        *,
        output: str | Path,
        timeout: float | None = None,
        on_progress: ProgressCallback | None = None,
        **fields: Any,
    ) -> Path:
        """create + wait + download, in one call. Returns the video's path (for image tasks
        the folder that holds every image: see ``ImagesResource.download``).

        The task holds a slot of the client's concurrency window for its model family from
        before the create until its end is seen: concurrent calls wait for room instead of
        drawing 1303s (with ``RedisGovernor``, room in the account shared by all processes)."""
        asked = self._request(request, fields)
        call = await self.prepare(asked)
        window = self._client.window(call.plan.family)
        task = await money.submit_in_window(self._client, call, self.find, self.kind, window)
        key = duration_key(asked, call.plan.model)
        ended = False
        try:
            done = await self._wait(
                task,
                timeout=timeout,
                on_progress=on_progress,
                policy=None,
                fresh=True,
                key=key,
            )
            ended = True
        except TaskFailedError:
            ended = True
            raise
        finally:
            await window.release(completed=ended)
        return await self._save(done, output)

    async def _save(self, task: Task, output: str | Path) -> Path:
        """Download what a finished task made (a video: its first one) to ``output``."""
        return await self._client.download(task, output)
