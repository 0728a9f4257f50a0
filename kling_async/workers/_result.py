"""A job's outcome as the queue carries it back: plain JSON (the SAQ run's result), and the
``Outcome`` the follower makes of it again — the same one a local run reports, so that
``animate --redis`` shows the same words as ``animate`` (``cli/_output.py`` decides them).

The output path is relative to the shared folder, sub-folders kept (``beach/b1.mp4``); the
error keeps what tells its kind apart (a task that timed out, a job not sent, Kling's error
code), so the follower's ``Outcome.error`` is of the same class with the same text.
"""

from __future__ import annotations

from pathlib import Path, PurePosixPath
from typing import Any

from ..batch import Outcome, OutcomeStatus
from ..errors import APIError, NotSentError, TaskTimeoutError, WorkerJobError, error_for
from ..results import Task
from ..states import RunStatus, TaskStatus
from ._payload import Job

#: The kinds of error a result tells apart (besides Kling's: "api"), in the CLI's words.
_TIMED_OUT = RunStatus.TIMED_OUT.value
_NOT_SENT = RunStatus.NOT_SENT.value


def result_of(outcome: Outcome, owner: str, out: Path) -> dict[str, Any]:
    """A job's outcome as the follower reads it (JSON-ready)."""
    error = outcome.error
    task = outcome.task
    return {
        "status": outcome.status.value,
        "job_id": outcome.job_id,
        "name": outcome.name,
        "task_id": outcome.task_id,
        "task_status": task.status.value if task is not None else None,
        "path": _relative(outcome.path, out),
        "error": str(error) if error is not None else None,
        "error_detail": _detail(error),
        "timeout": isinstance(error, TaskTimeoutError),
        "units": task.units
        if task is not None and outcome.status is OutcomeStatus.SUCCEEDED
        else None,
        "worker": owner,
    }


def _relative(path: Path | None, out: Path) -> str | None:
    if path is None:
        return None
    try:
        return PurePosixPath(*path.relative_to(out).parts).as_posix()
    except ValueError:  # not under the shared folder (never made so): its name at least
        return path.name


def _detail(error: BaseException | None) -> dict[str, Any] | None:
    if isinstance(error, APIError):
        return {
            "kind": "api",
            "code": error.code,
            "http_status": error.http_status,
            "message": error.message,
            "request_id": error.request_id,
        }
    if isinstance(error, TaskTimeoutError):
        last = error.last.status.value if error.last is not None else None
        return {
            "kind": _TIMED_OUT,
            "task_id": error.task_id,
            "timeout": error.timeout,
            "last": last,
        }
    if isinstance(error, NotSentError):
        return {"kind": _NOT_SENT, "reason": error.kind, "message": str(error)}
    return None


def error_of(result: dict[str, Any]) -> BaseException | None:
    """The error a worker's result describes, of the class the worker saw where it matters
    (``WorkerJobError`` with the worker's message otherwise)."""
    message = result.get("error")
    if not message:
        return None
    detail = result.get("error_detail") or {}
    kind = detail.get("kind")
    if kind == "api":
        return error_for(
            int(detail["code"]),
            str(detail["message"]),
            http_status=int(detail["http_status"]),
            request_id=detail.get("request_id"),
        )
    if kind == _TIMED_OUT:
        task_id = str(detail["task_id"])
        last = detail.get("last")
        seen = Task(task_id, TaskStatus(last)) if last is not None else None
        return TaskTimeoutError(task_id, float(detail["timeout"]), seen)
    if kind == _NOT_SENT:
        return NotSentError(str(detail["message"]), kind=str(detail["reason"]))
    return WorkerJobError(str(message))


def outcome_of(job: Job, job_id: str, name: str, result: dict[str, Any], out: Path) -> Outcome:
    """The ``Outcome`` a worker's result describes (its path under ``out``)."""
    task_id = result.get("task_id")
    task = None
    if task_id:
        status = result.get("task_status") or TaskStatus.UNKNOWN.value
        task = Task(str(task_id), TaskStatus(status), units=result.get("units"))
    return Outcome(
        job=job,
        status=OutcomeStatus(result["status"]),
        job_id=job_id,
        name=str(result.get("name") or name),
        task=task,
        path=out / result["path"] if result.get("path") else None,
        error=error_of(result),
    )
