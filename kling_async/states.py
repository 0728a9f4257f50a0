"""Every state word of kling_async, each defined once; every check is a set derived here.

Four lifecycles (and ``AssetStatus``: whether a custom element or voice is still usable), each
a ``StrEnum`` (its value is the word written on the wire, in the job
store, in ``--json`` lines):

- ``TaskStatus`` — where a task is on Kling's side. ``TaskStatus.parse`` reads the status
  words of both APIs (legacy ``succeed``, new ``succeeded``, in-progress words such as
  ``queued`` or ``running``); an unknown word becomes ``UNKNOWN`` and never raises.
- ``JobState`` — where a batch job is in the job store (the SQLite journal or Redis)::

      pending -> submitting -> submitted -> finished -> done
         \\            \\            \\
          +-> invalid   +-> failed  +-> failed

  ``submitting`` is written with the job's ``external_task_id`` *before* the create goes
  out: from then on the job's units count as spent (``COMMITTED``) and a rerun reconciles
  by that id instead of creating again. ``downloading`` is only read (earlier versions
  wrote it between ``finished`` and ``done``; it means the same as ``finished``).
- ``Stage`` — where a job is inside a running engine, for progress displays.
- ``OutcomeStatus`` — how a job ended, as the caller of a batch sees it; ``RunStatus`` adds
  the command line's finer words (``timed_out``, ``not_sent``).
"""

from __future__ import annotations

import enum


class TaskStatus(enum.StrEnum):
    """Where a task is. Unknown statuses from the server become ``UNKNOWN`` (the raw text is
    kept in ``Task.raw_status``); they never raise."""

    SUBMITTED = "submitted"
    PROCESSING = "processing"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    UNKNOWN = "unknown"

    @classmethod
    def parse(cls, raw: object) -> TaskStatus:
        """The status a wire word names, on either API (``UNKNOWN`` for any other word)."""
        text = str(raw).strip().lower() if raw is not None else ""
        return _WIRE_WORDS.get(text, cls.UNKNOWN)

    @property
    def is_final(self) -> bool:
        return self in TASK_FINAL


#: The words the APIs use, mapped to the status they mean (any other word is ``UNKNOWN``).
_WIRE_WORDS: dict[str, TaskStatus] = {
    "submitted": TaskStatus.SUBMITTED,
    "processing": TaskStatus.PROCESSING,
    "succeed": TaskStatus.SUCCEEDED,  # the legacy API's word
    "succeeded": TaskStatus.SUCCEEDED,
    "success": TaskStatus.SUCCEEDED,
    "failed": TaskStatus.FAILED,
}
#: A task in one of these has ended: nothing about it changes any more.
TASK_FINAL = frozenset({TaskStatus.SUCCEEDED, TaskStatus.FAILED})
#: Wire words of a task still on its way: ours, and in-progress words a server may use.
_RUNNING_WORDS = frozenset({"submitted", "processing", "queued", "pending", "running"})


def maybe_final(raw_status: object) -> bool:
    """False only for a wire word that says the task is still running (so a poller need not
    convert the rest of its body); True for an end and for any word it does not know."""
    return not (isinstance(raw_status, str) and raw_status.strip().lower() in _RUNNING_WORDS)


class AssetStatus(enum.StrEnum):
    """Whether a custom element or voice can be used (its own ``status``: ``succeed`` while
    usable, ``deleted`` once removed). Any other word becomes ``UNKNOWN``."""

    ACTIVE = "active"
    DELETED = "deleted"
    UNKNOWN = "unknown"

    @classmethod
    def parse(cls, raw: object) -> AssetStatus:
        """``succeed`` (or no status at all: a voice says none) is usable; ``deleted`` not."""
        if raw in (None, "") or TaskStatus.parse(raw) is TaskStatus.SUCCEEDED:
            return cls.ACTIVE
        return cls.DELETED if str(raw).strip().lower() == cls.DELETED.value else cls.UNKNOWN


class JobState(enum.StrEnum):
    """Where a batch job is in the job store (see the module docstring)."""

    PENDING = "pending"
    SUBMITTING = "submitting"
    SUBMITTED = "submitted"
    FINISHED = "finished"
    DOWNLOADING = "downloading"  # read only: written by earlier versions, means FINISHED
    DONE = "done"
    FAILED = "failed"
    INVALID = "invalid"


#: Every state, in the lifecycle's order (reports list them so).
JOB_STATES: tuple[JobState, ...] = tuple(JobState)
#: A create went out (or may have): the job's units count as spent.
COMMITTED = frozenset(
    {
        JobState.SUBMITTING,
        JobState.SUBMITTED,
        JobState.FINISHED,
        JobState.DOWNLOADING,
        JobState.DONE,
    }
)
#: The job has a task id: a rerun follows that task instead of creating one.
HAS_TASK = frozenset({JobState.SUBMITTED, JobState.FINISHED, JobState.DOWNLOADING, JobState.DONE})
#: The task ended well; its video is to be fetched (or was).
TASK_SUCCEEDED = frozenset({JobState.FINISHED, JobState.DOWNLOADING, JobState.DONE})
#: Neither done nor given up: a rerun carries these on.
IN_PROGRESS = frozenset(
    {
        JobState.PENDING,
        JobState.SUBMITTING,
        JobState.SUBMITTED,
        JobState.FINISHED,
        JobState.DOWNLOADING,
    }
)
#: Given up on (a rerun tries a failed job again; an invalid one only once its input changes).
GIVEN_UP = frozenset({JobState.FAILED, JobState.INVALID})


class Stage(enum.StrEnum):
    """Where a job is inside a running engine (``BatchEngine.stages`` counts them)."""

    QUEUED = "queued"
    SUBMITTING = "submitting"
    RUNNING = "running"
    DOWNLOADING = "downloading"
    DONE = "done"
    FAILED = "failed"
    SKIPPED = "skipped"
    INVALID = "invalid"


#: The stages a job is still moving through, in order (progress displays show these).
ACTIVE_STAGES = (Stage.QUEUED, Stage.SUBMITTING, Stage.RUNNING, Stage.DOWNLOADING)


class OutcomeStatus(enum.StrEnum):
    """How a job ended."""

    SUCCEEDED = "succeeded"  # the video is at ``path``
    FAILED = "failed"  # the task failed, or the job could not be sent or fetched (see error)
    SKIPPED = "skipped"  # done in an earlier run: the journal says so and the file is there
    INVALID = "invalid"  # refused by validation; nothing was sent


#: The engine stage a job's outcome leaves it in.
FINAL_STAGE = {
    OutcomeStatus.SUCCEEDED: Stage.DONE,
    OutcomeStatus.FAILED: Stage.FAILED,
    OutcomeStatus.SKIPPED: Stage.SKIPPED,
    OutcomeStatus.INVALID: Stage.INVALID,
}


class RunStatus(enum.StrEnum):
    """How the command line reports a job: an ``OutcomeStatus``, or one of its finer words."""

    SUCCEEDED = "succeeded"
    SKIPPED = "skipped"
    FAILED = "failed"
    TIMED_OUT = "timed_out"  # failed: the task did not end within the task timeout
    INVALID = "invalid"
    NOT_SENT = "not_sent"  # failed before any create went out (budget, halted account...)


#: In the order the summary lists them.
RUN_STATUSES: tuple[RunStatus, ...] = tuple(RunStatus)
#: A video is there for the job.
RUN_OK = frozenset({RunStatus.SUCCEEDED, RunStatus.SKIPPED})
#: Something went wrong for the job (the run's exit code says so).
RUN_BAD = frozenset({RunStatus.FAILED, RunStatus.TIMED_OUT, RunStatus.INVALID, RunStatus.NOT_SENT})
