"""The verbs every task endpoint shares: create (never billed twice), get, list, wait, generate."""

from __future__ import annotations

import inspect
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, Generic, TypeVar
from urllib.parse import quote

import attrs

from .. import _wire
from .._convert import task_from_wire, tasks_from_wire
from .._retry import RetryPolicy
from ..errors import (
    APIConnectionError,
    APIError,
    ConcurrencyLimitError,
    InvalidRequestError,
    NotFoundError,
    RateLimitError,
    ServerError,
    TaskFailedError,
    TaskTimeoutError,
    ValidationError,
)
from ..models import ImageToVideo, Task, TextToVideo
from ..validation import Plan, validate

if TYPE_CHECKING:
    from ..client import KlingClient

R = TypeVar("R", ImageToVideo, TextToVideo)
ProgressCallback = Callable[[Task], Awaitable[None] | None]


@attrs.frozen
class WaitPolicy:
    """How ``wait`` polls: the first look after ``first_poll`` seconds (about when a task of
    the kind is expected to end), then every ``min_interval`` growing by ``factor`` up to
    ``max_interval``. The default deadline of ``wait`` is ``timeout``."""

    first_poll: float = 30.0
    min_interval: float = 3.0
    max_interval: float = 15.0
    factor: float = 1.5
    timeout: float = 1200.0


GENERATED_PREFIX = "kling-async-"


def new_external_id() -> str:
    """The id the SDK gives a create when the caller gave none: the key to reconcile it."""
    return f"{GENERATED_PREFIX}{uuid.uuid4().hex}"


# A create that failed in one of these ways may still have created the task.
_AMBIGUOUS_CODES = (5000, 5002)


def _ambiguous(exc: BaseException) -> bool:
    if isinstance(exc, APIConnectionError):
        return True
    return isinstance(exc, ServerError) and exc.code in (*_AMBIGUOUS_CODES, 0)


def _id_taken(exc: BaseException) -> bool:
    """A 1201 saying the external id is in use (by a task an earlier try created)."""
    if not isinstance(exc, InvalidRequestError):
        return False
    text = exc.message.lower()
    return "already exists" in text or "external_task_id" in text


def _refused(exc: BaseException, retry_limits: bool) -> bool:
    """Failures that prove nothing was created and are worth another try."""
    if isinstance(exc, ConcurrencyLimitError):
        return retry_limits
    return isinstance(exc, RateLimitError) or (isinstance(exc, ServerError) and exc.code == 5001)


class TaskPager:
    """``async for task in pager`` walks every page, newest first; ``await pager.page(n)``
    fetches one page."""

    def __init__(self, resource: TaskResource[Any], page_size: int, max_pages: int | None) -> None:
        if not 1 <= page_size <= 500:
            raise ValidationError("page_size", page_size, "must be within 1..500")
        if max_pages is not None and not 1 <= max_pages <= 1000:
            raise ValidationError("max_pages", max_pages, "must be within 1..1000")
        self._resource = resource
        self._page_size = page_size
        self._max_pages = max_pages or 1000

    async def page(self, number: int = 1, *, retry: bool = True) -> list[Task]:
        """One page (1..1000). ``retry=False`` sends it once (a poller that looks again soon)."""
        if not 1 <= number <= 1000:
            raise ValidationError("page", number, "must be within 1..1000")
        data = await self._resource._client._transport.request(
            "GET",
            self._resource.path,
            kind="list",
            params={"pageNum": number, "pageSize": self._page_size},
            retry=retry,
        )
        return tasks_from_wire(data, self._resource.kind)

    async def __aiter__(self) -> AsyncIterator[Task]:
        for number in range(1, self._max_pages + 1):
            tasks = await self.page(number)
            for task in tasks:
                yield task
            if len(tasks) < self._page_size:
                return


class TaskResource(Generic[R]):
    """``client.image_to_video`` and ``client.text_to_video`` are instances of subclasses."""

    kind: str
    request_type: type[R]

    def __init__(self, client: KlingClient) -> None:
        self._client = client
        self.path = f"/v1/videos/{self.kind}"

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
            request = attrs.evolve(request, external_task_id=new_external_id())
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
                    if plan.family != "3.0-turbo"
                    else ""
                ),
            )

    async def submit(self, call: _wire.CreateCall, *, policy: RetryPolicy | None = None) -> Task:
        """Send a create call, reconciling by its external id on any ambiguity."""
        external_id = call.external_task_id
        transport = self._client._transport
        policy = policy or transport.retry
        deadline = time.monotonic() + policy.total_timeout
        for attempt in range(1, policy.attempts + 1):
            try:
                data = await transport.request(
                    "POST", call.path, kind="create", json_body=call.body, retry=False,
                    wire=call.wire,
                )  # fmt: skip
                return self._created(data, call)
            except APIError as exc:
                failure: Exception = exc
                if _refused(exc, policy.retry_concurrency_limit):
                    pass  # nothing was created; try again after the delay
                elif _ambiguous(exc):
                    found = await self._reconcile(external_id, call.wire)
                    if found is not None:
                        return found
                elif _id_taken(exc) and (attempt > 1 or external_id.startswith(GENERATED_PREFIX)):
                    # an earlier try of ours (this call's, or a crashed run's) got through
                    # after all: the id is taken by that very task
                    found = await self._reconcile(external_id, call.wire)
                    if found is not None:
                        return found
                    raise
                else:
                    raise
            except APIConnectionError as exc:
                failure = exc
                found = await self._reconcile(external_id, call.wire)
                if found is not None:
                    return found
            if attempt == policy.attempts or time.monotonic() >= deadline:
                raise failure
            await transport.sleep(policy.delay(attempt, failure))
        raise AssertionError("unreachable")  # pragma: no cover

    async def _reconcile(self, external_id: str, wire: str = "legacy") -> Task | None:
        """The task created under ``external_id``, or None if the server has none."""
        try:
            if wire == "new":
                found = await self._client.tasks.get_many([external_id], by="external_task_ids")
                return found[0] if found else None
            return await self.get(external_id, api="legacy")
        except NotFoundError:
            return None
        except Exception as exc:
            exc.add_note(
                f"the create may have reached the server: look it up with "
                f"get({external_id!r}) before creating it again"
            )
            raise

    def _created(self, data: Any, call: _wire.CreateCall) -> Task:
        task = task_from_wire(data, self.kind, call.wire)
        if task.external_task_id is None:
            task = attrs.evolve(task, external_task_id=call.external_task_id)
        return task

    # -- queries -----------------------------------------------------------------------
    def _wire_of(self, task: str | Task, api: str | None) -> str:
        if api is not None:
            if api not in ("legacy", "new"):
                raise ValidationError("api", api, "must be 'legacy' or 'new'")
            return api
        if isinstance(task, Task):
            return task.wire
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
            return await self._client.tasks.get(ident, retry=retry, kind=self.kind)
        path = f"{self.path}/{quote(ident, safe='')}"
        data = await self._client._transport.request("GET", path, kind="query", retry=retry)
        return task_from_wire(data, self.kind)

    def list(
        self, *, page_size: int = 30, max_pages: int | None = None, api: str | None = None
    ) -> TaskPager | Any:
        """Every task of this kind, newest first: ``async for task in client.X.list()``.
        With ``api="new"`` (or the client's), the new API's cursor list of every video task."""
        if self._wire_of("", api) == "new":
            return self._client.tasks.list(limit=min(page_size, 500), max_pages=max_pages)
        return TaskPager(self, page_size, max_pages)

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
        """
        ident = task_id.task_id if isinstance(task_id, Task) else task_id
        wire = self._wire_of(task_id, None)
        policy = policy or self._client.wait_policy
        limit = policy.timeout if timeout is None else timeout
        if limit <= 0:
            raise ValidationError("timeout", limit, "must be positive")
        deadline = time.monotonic() + limit
        sleep = self._client._transport.sleep
        delay, last = policy.first_poll, None
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TaskTimeoutError(ident, limit, last)
            await sleep(min(delay, remaining))
            last = await self.get(ident, api=wire)
            if on_progress is not None:
                result = on_progress(last)
                if inspect.isawaitable(result):
                    await result
            if last.succeeded:
                return last
            if last.failed:
                raise TaskFailedError(last)
            delay = policy.min_interval if delay == policy.first_poll else delay * policy.factor
            delay = min(max(delay, policy.min_interval), policy.max_interval)

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
        """create + wait + download, in one call. Returns the video's path."""
        task = await self.create(request, **fields)
        done = await self.wait(task, timeout=timeout, on_progress=on_progress)
        return await self._client.download(done, output)
