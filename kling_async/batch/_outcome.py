"""What a batch reports: one ``Outcome`` per job as it ends, and a ``BatchSummary`` at the end."""

from __future__ import annotations

from collections import Counter
from decimal import Decimal
from pathlib import Path

import attrs

from ..results import Task
from ..states import OutcomeStatus
from ..validation import AnyRequest


@attrs.frozen
class Timings:
    """Seconds since the batch started: when the job was taken, sent, seen ended, finished."""

    queued: float
    submitted: float | None = None
    ended: float | None = None
    finished: float | None = None


@attrs.frozen
class Outcome:
    """One job's end: its status, task, file, error and timings (see ``OutcomeStatus``)."""

    job: AnyRequest
    status: OutcomeStatus
    job_id: str
    name: str
    task: Task | None = None
    path: Path | None = None
    error: BaseException | None = None
    timings: Timings | None = None

    @property
    def task_id(self) -> str | None:
        return self.task.task_id if self.task is not None else None


@attrs.define
class BatchSummary:
    """Counts by status, units spent, the time taken and how hard the account was pushed."""

    counts: Counter[str] = attrs.Factory(Counter)
    units: float = 0.0
    elapsed: float = 0.0
    requests: int = 0
    rate_limited: int = 0
    concurrency_limited: int = 0
    learned_parallel_limit: int | None = None
    #: The parallel-task limit learned per model family (None: no 1303 seen for it).
    learned_limits: dict[str, int | None] = attrs.Factory(dict)
    failures: list[tuple[str, str]] = attrs.Factory(list)
    halted: str | None = None
    #: Money charged in cash by the succeeded jobs, per currency ("" when not named).
    cash: dict[str, Decimal] = attrs.Factory(dict)

    def add(self, outcome: Outcome) -> None:
        """Count one outcome in."""
        self.counts[outcome.status.value] += 1
        if outcome.status is OutcomeStatus.SUCCEEDED and outcome.task is not None:
            self.units += outcome.task.units or 0.0
            if (cost := outcome.task.cost) is not None:
                code = cost.currency or ""
                self.cash[code] = self.cash.get(code, Decimal(0)) + cost.amount
        if outcome.status in (OutcomeStatus.FAILED, OutcomeStatus.INVALID):
            self.failures.append((outcome.name, str(outcome.error)))

    @property
    def total(self) -> int:
        return sum(self.counts.values())
