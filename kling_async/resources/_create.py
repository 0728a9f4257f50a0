"""The money path: sending a create, and the one rule that says what its failure means.

A create that failed in a way that *proves* nothing was created (the request was refused
before a task existed) may be reported as failed and sent again later. Every other failure —
a lost or unreadable answer, a 5000/5002, a bug — leaves the create *unconfirmed*: the task may
exist and be billed. The SDK then looks it up by its ``external_task_id``; when even that
fails, it raises ``CreateUnconfirmedError`` carrying the id, and never sends it blindly again.
"""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING, Any

import attrs

from .. import _wire
from .._convert import task_from_wire
from .._retry import RetryPolicy
from ..errors import (
    AccountError,
    AuthenticationError,
    ConcurrencyLimitError,
    ContentPolicyError,
    CreateUnconfirmedError,
    InvalidRequestError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitError,
    ServerError,
    ValidationError,
)
from ..results import Task

if TYPE_CHECKING:
    from ..governor import Window
    from ._tasks import TaskResource

GENERATED_PREFIX = "kling-async-"


def new_external_id() -> str:
    """The id the SDK gives a create when the caller gave none: the key to reconcile it."""
    return f"{GENERATED_PREFIX}{uuid.uuid4().hex}"


def id_taken(exc: BaseException) -> bool:
    """A 1201 saying the external id is in use (by a task an earlier try may have created)."""
    if not isinstance(exc, InvalidRequestError):
        return False
    text = exc.message.lower()
    return "already exists" in text or "external_task_id" in text


def nothing_created(exc: BaseException) -> bool:
    """True only for failures that prove the create made no task: the request broke a rule
    (validation, content policy, 1200/1201 other than a duplicate id, unknown model), it was
    not let in (authentication, permission, account, 1302, 1303) or the service was down for
    maintenance (5001). Anything else — no answer, an unreadable answer, 5000/5002, an
    unknown code, any other exception — may have created the task."""
    if isinstance(exc, ValidationError):
        return True
    if isinstance(exc, InvalidRequestError):
        return not id_taken(exc)
    if isinstance(
        exc,
        AuthenticationError
        | AccountError
        | PermissionDeniedError
        | NotFoundError
        | ContentPolicyError
        | RateLimitError
        | ConcurrencyLimitError,
    ):
        return True
    return isinstance(exc, ServerError) and exc.code == 5001


def _worth_retrying(exc: BaseException, retry_limits: bool) -> bool:
    """Refusals that prove nothing was created and may pass a little later."""
    if isinstance(exc, ConcurrencyLimitError):
        return retry_limits
    return isinstance(exc, RateLimitError) or (isinstance(exc, ServerError) and exc.code == 5001)


def _resend_after_lookup(exc: BaseException) -> bool:
    """Unconfirmed failures after which, once the lookup found no task, sending the same
    external id again is safe (a duplicate would be refused by the id) and worth it."""
    from ..errors import APIConnectionError

    return isinstance(exc, APIConnectionError) or (
        isinstance(exc, ServerError) and exc.code in (5000, 5002, 0)
    )


async def reconcile(resource: TaskResource[Any], external_id: str, wire: str) -> Task | None:
    """The task created under ``external_id``, or None when the server has none. A lookup
    that fails raises ``CreateUnconfirmedError`` (the create's fate is still unknown)."""
    try:
        if wire == "new":
            found = await resource._client.tasks.get_many(
                [external_id], by="external_task_ids", kind=resource.kind
            )
            return found[0] if found else None
        return await resource.get(external_id, api="legacy")
    except NotFoundError:
        return None
    except Exception as exc:
        raise CreateUnconfirmedError(external_id, exc) from exc


def _created(resource: TaskResource[Any], data: Any, call: _wire.CreateCall) -> Task:
    task = task_from_wire(data, resource.kind, call.wire)
    if task.external_task_id is None:
        task = attrs.evolve(task, external_task_id=call.external_task_id)
    return task


async def submit(
    resource: TaskResource[Any], call: _wire.CreateCall, policy: RetryPolicy | None = None
) -> Task:
    """Send a create call under the rule above. Returns the task (created now, or found by
    its external id after an ambiguous failure). Raises the refusal when nothing was created,
    ``CreateUnconfirmedError`` when the task may exist and could not be found."""
    external_id = call.external_task_id
    transport = resource._client._transport
    policy = policy or transport.retry
    clock = resource._client.clock
    deadline = clock.monotonic() + policy.total_timeout
    for attempt in range(1, policy.attempts + 1):
        try:
            data = await transport.request(
                "POST", call.path, kind="create", json_body=call.body, retry=False, wire=call.wire
            )
            return _created(resource, data, call)
        except Exception as exc:
            failure: Exception = exc
        if nothing_created(failure):
            if not _worth_retrying(failure, policy.retry_concurrency_limit):
                raise failure
        elif id_taken(failure) and attempt == 1 and not external_id.startswith(GENERATED_PREFIX):
            raise failure  # the caller's own id is in use by another task: nothing of ours
        else:
            found = await reconcile(resource, external_id, call.wire)
            if found is not None:
                return found
            if not _resend_after_lookup(failure):
                # an unreadable answer, an unknown error: the task may yet appear
                raise CreateUnconfirmedError(external_id, failure) from failure
        if attempt == policy.attempts or clock.monotonic() >= deadline:
            if nothing_created(failure):
                raise failure
            raise CreateUnconfirmedError(external_id, failure) from failure
        await transport.sleep(policy.delay(attempt, failure))
    raise AssertionError("unreachable")  # pragma: no cover


async def submit_in_window(
    resource: TaskResource[Any], call: _wire.CreateCall, window: Window
) -> Task:
    """Send a create inside a slot of the account's concurrency window (``generate()``): wait
    for a slot, send; on 1303 the slot goes back, the window learns, and the create waits for
    a slot again (a 1303 proves nothing was created) — up to the policy's attempts and time.
    Returns the task holding the slot; the caller releases it when the task has ended."""
    transport = resource._client._transport
    policy = transport.retry
    own = attrs.evolve(policy, retry_concurrency_limit=False)  # the window handles 1303
    clock = resource._client.clock
    deadline = clock.monotonic() + policy.total_timeout
    for refusal in range(1, policy.attempts + 1):
        await window.reserve()
        try:
            try:
                task = await submit(resource, call, own)
            finally:
                await window.answered()
        except ConcurrencyLimitError as exc:
            await window.over_limit()
            if refusal == policy.attempts or clock.monotonic() >= deadline:
                raise
            await transport.sleep(policy.delay(refusal, exc))
            continue
        except BaseException:
            await window.release(completed=False)
            raise
        await window.accepted()
        return task
    raise AssertionError("unreachable")  # pragma: no cover
