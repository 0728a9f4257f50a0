"""The money path: the only place a create is sent, and the one rule that says what its
failure means.

A create that failed in a way that *proves* nothing was created (the request was refused
before a task existed) may be reported as failed and sent again later. Every other failure —
a lost or unreadable answer, a 5000/5002, a bug — leaves the create *unconfirmed*: the task may
exist and be billed. It is then looked up by its ``external_task_id``; when even that fails,
``CreateUnconfirmedError`` carries the id, and the create is never sent blindly again.

Decisions rest on exception types only (``errors.error_for`` reads the wire once).
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from typing import Any, Protocol

import attrs

from ._api import ClientAPI
from ._convert import task_from_wire
from ._retry import RetryPolicy, retry
from .errors import (
    AccountError,
    APIConnectionError,
    AuthenticationError,
    ConcurrencyLimitError,
    ContentPolicyError,
    CreateUnconfirmedError,
    ExternalIdTakenError,
    InvalidRequestError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitError,
    ServerError,
    ServerUnreachableError,
    ValidationError,
)
from .governor import Window
from .results import Task

#: Looks a task up by its external id on a wire: the task, or None when the server has none.
Finder = Callable[[str, str], Awaitable[Task | None]]

GENERATED_PREFIX = "kling-async-"


class Sendable(Protocol):
    """What ``submit`` sends: a video or image create (``_wire.CreateCall``), or an element
    or voice create (``resources._assets``)."""

    @property
    def path(self) -> str: ...
    @property
    def body(self) -> dict[str, Any]: ...
    @property
    def external_task_id(self) -> str: ...
    @property
    def wire(self) -> str: ...


def new_external_id() -> str:
    """The id the SDK gives a create when the caller gave none: the key to reconcile it."""
    return f"{GENERATED_PREFIX}{uuid.uuid4().hex}"


def nothing_created(exc: BaseException) -> bool:
    """True only for failures that prove the create made no task: the request broke a rule
    (validation, content policy, 1200/1201 other than an external id in use, unknown model),
    it was not let in (authentication, permission, account, 1302, 1303), the service was
    down for maintenance (5001) or no connection could be made (nothing was sent). Anything
    else — no answer, an unreadable answer, 5000/5002, an unknown code, an external id in
    use (perhaps by our own earlier try), any other exception — may have created the task."""
    if isinstance(exc, ExternalIdTakenError):
        return False
    if isinstance(
        exc,
        ValidationError
        | InvalidRequestError
        | AuthenticationError
        | AccountError
        | PermissionDeniedError
        | NotFoundError
        | ContentPolicyError
        | RateLimitError
        | ConcurrencyLimitError
        | ServerUnreachableError,
    ):
        return True
    return isinstance(exc, ServerError) and exc.code == 5001


def _worth_retrying(exc: BaseException, retry_limits: bool) -> bool:
    """Refusals that prove nothing was created and may pass a little later."""
    if isinstance(exc, ConcurrencyLimitError):
        return retry_limits
    if isinstance(exc, ServerUnreachableError):
        return exc.retryable  # a server that is starting may answer the next try
    return isinstance(exc, RateLimitError) or (isinstance(exc, ServerError) and exc.code == 5001)


def _resend_after_lookup(exc: BaseException) -> bool:
    """Unconfirmed failures after which, once the lookup found no task, sending the same
    external id again is safe (a duplicate would be refused by the id) and worth it."""
    return isinstance(exc, APIConnectionError) or (
        isinstance(exc, ServerError) and exc.code in (5000, 5002, 0)
    )


async def reconcile(find: Finder, external_id: str, wire: str) -> Task | None:
    """The task created under ``external_id``, or None when the server has none. A lookup
    that fails raises ``CreateUnconfirmedError`` (the create's fate is still unknown)."""
    try:
        return await find(external_id, wire)
    except NotFoundError:
        return None
    except Exception as exc:
        raise CreateUnconfirmedError(external_id, exc) from exc


class _Again(Exception):
    """A try that failed in a way that allows another (internal to ``submit``)."""

    def __init__(self, failure: Exception) -> None:
        super().__init__(failure)
        self.failure = failure


async def submit(
    client: ClientAPI,
    call: Sendable,
    find: Finder,
    kind: str,
    policy: RetryPolicy | None = None,
) -> Task:
    """Send a create call under the rule above. Returns the task (created now, or found by
    its external id after an ambiguous failure). Raises the refusal when nothing was created,
    ``CreateUnconfirmedError`` when the task may exist and could not be found."""
    external_id = call.external_task_id
    policy = policy or client.retry

    async def attempt(number: int) -> Task:
        try:
            data = await client.request(
                "POST", call.path, kind="create", json_body=call.body, retry=False, wire=call.wire
            )
        except Exception as failure:
            if nothing_created(failure):
                if _worth_retrying(failure, policy.retry_concurrency_limit):
                    raise _Again(failure) from failure
                raise
            if (
                isinstance(failure, ExternalIdTakenError)
                and number == 1
                and not external_id.startswith(GENERATED_PREFIX)
            ):
                # the caller's own id is in use by another task: nothing of ours
                raise ExternalIdTakenError(
                    f"external_task_id {external_id!r} is used by another task ({failure.message})",
                    code=failure.code,
                    http_status=failure.http_status,
                    request_id=failure.request_id,
                    body=failure.body,
                ) from failure
            found = await reconcile(find, external_id, call.wire)
            if found is not None:
                return found
            if not _resend_after_lookup(failure):
                # an unreadable answer, an unknown error: the task may yet appear
                raise CreateUnconfirmedError(external_id, failure) from failure
            raise _Again(failure) from failure
        task = task_from_wire(data, kind, call.wire)
        if task.external_task_id is None:
            task = attrs.evolve(task, external_task_id=external_id)
        return task

    try:
        return await retry(
            attempt,
            retry_if=lambda exc: isinstance(exc, _Again),
            wait=lambda number, exc: policy.delay(
                number, exc.failure if isinstance(exc, _Again) else exc
            ),
            attempts=policy.attempts,
            deadline=client.clock.monotonic() + policy.total_timeout,
            monotonic=client.clock.monotonic,
            sleep=client.sleep,
            what=f"POST {call.path}",
        )
    except _Again as again:  # out of tries
        if nothing_created(again.failure):
            raise again.failure from None
        raise CreateUnconfirmedError(external_id, again.failure) from again.failure


async def submit_in_window(
    client: ClientAPI, call: Sendable, find: Finder, kind: str, window: Window
) -> Task:
    """Send a create inside a slot of the account's concurrency window (``generate()``): wait
    for a slot, send; on 1303 the slot goes back, the window learns, and the create waits for
    a slot again (a 1303 proves nothing was created) — up to the policy's attempts and time.
    Returns the task holding the slot; the caller releases it when the task has ended."""
    policy = client.retry
    own = attrs.evolve(policy, retry_concurrency_limit=False)  # the window handles 1303

    async def attempt(_: int) -> Task:
        await window.reserve()
        try:
            try:
                task = await submit(client, call, find, kind, own)
            finally:
                await window.answered()
        except ConcurrencyLimitError:
            await window.over_limit()
            raise
        except BaseException:
            await window.release(completed=False)
            raise
        await window.accepted()
        return task

    return await retry(
        attempt,
        retry_if=lambda exc: isinstance(exc, ConcurrencyLimitError),
        wait=policy.delay,
        attempts=policy.attempts,
        deadline=client.clock.monotonic() + policy.total_timeout,
        monotonic=client.clock.monotonic,
        sleep=client.sleep,
        what=f"POST {call.path} (in a window slot)",
    )
