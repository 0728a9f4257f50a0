"""A job's outcome travels back from the worker as JSON and is made again by the follower: the
same status, name, task, units and path (relative to the shared folder, sub-folders kept), and
an error of the class that decides how the command line words it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import kling_async as kling
from kling_async.batch import Outcome, OutcomeStatus
from kling_async.cli.output.records import outcome_record  # the words a local run prints
from kling_async.errors import (
    AuthenticationError,
    BalanceExhaustedError,
    NotSentError,
    TaskTimeoutError,
    WorkerJobError,
    error_for,
)
from kling_async.results import Task
from kling_async.states import TaskStatus
from kling_async.workers import outcome_of, result_of

OUT = Path("/shared/videos")
JOB = kling.ImageToVideo(image=Path("/photos/beach/b1.png"), prompt="waves")


def _again(outcome: Outcome) -> Outcome:
    wire = json.loads(json.dumps(result_of(outcome, "host:1:abc", OUT)))
    return outcome_of(JOB, outcome.job_id, "b1", wire, OUT)


def test_a_succeeded_job_comes_back_with_its_task_units_and_relative_path() -> None:
    task = Task("t-1", TaskStatus.SUCCEEDED, units=1.5)
    made = Outcome(JOB, OutcomeStatus.SUCCEEDED, "j" * 64, "beach/b1", task, OUT / "beach/b1.mp4")
    result = result_of(made, "host:1:abc", OUT)
    assert result["path"] == "beach/b1.mp4"  # not flattened to b1.mp4
    again = _again(made)
    assert (again.status, again.name, again.task_id, again.path) == (
        OutcomeStatus.SUCCEEDED,
        "beach/b1",
        "t-1",
        OUT / "beach" / "b1.mp4",
    )
    assert again.task is not None
    assert again.task.units == 1.5
    assert outcome_record(again) == outcome_record(made)


@pytest.mark.parametrize(
    "error",
    [
        TaskTimeoutError("t-9", 600.0, Task("t-9", TaskStatus.PROCESSING)),
        TaskTimeoutError("t-9", 600.0),
        NotSentError("the run stopped creating", kind="halted"),
        error_for(1000, "token refused", http_status=401, request_id="r1"),
        error_for(1102, "resource pack used up", http_status=429),
        ValueError("something else went wrong"),
    ],
)
def test_a_failed_jobs_error_comes_back_of_the_class_that_words_it(error: Exception) -> None:
    task = Task("t-9", TaskStatus.PROCESSING) if isinstance(error, TaskTimeoutError) else None
    failed = Outcome(JOB, OutcomeStatus.FAILED, "j" * 64, "beach/b1", task, error=error)
    again = _again(failed)
    assert str(again.error) == str(error)
    expected = type(error) if not isinstance(error, ValueError) else WorkerJobError
    assert type(again.error) is expected
    if isinstance(error, AuthenticationError | BalanceExhaustedError):
        assert again.error.code == error.code  # type: ignore[union-attr]
    assert outcome_record(again) == outcome_record(failed)  # timed_out, not_sent... alike
