"""The ``--json`` records of ``animate``: one object per outcome (a twin's too, an input
``--no-clobber`` kept out), and one per invalid input; the summary's is ``summary_record``."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ...batch import Outcome
from ...states import RunStatus
from .._words import cli_words
from .statuses import Duplicate, source_of, status_of

#: A not-sent job's error in JSON: the cause is said once, in the ``stopped`` event.
NOT_SENT_ERROR = "not sent: the run stopped creating (see the 'stopped' event)"


def outcome_record(outcome: Outcome, shown: Mapping[str, str] | None = None) -> dict[str, Any]:
    status = status_of(outcome)
    return {
        "event": "outcome",
        "name": outcome.name,
        "source": source_of(outcome, shown),
        "status": status,
        "job_id": outcome.job_id,
        "task_id": outcome.task_id,
        "path": str(outcome.path) if outcome.path else None,
        "error": (
            NOT_SENT_ERROR
            if status is RunStatus.NOT_SENT
            else cli_words(str(outcome.error))
            if outcome.error
            else None
        ),
        "units": (outcome.task.units if outcome.task and status is RunStatus.SUCCEEDED else None),
        "duplicate_of": None,
    }


def duplicate_record(dup: Duplicate) -> dict[str, Any]:
    record = outcome_record(dup.of)
    record.update(
        name=dup.name,
        source=dup.source,
        path=str(dup.path) if dup.path else None,
        # paid once, by the original
        units=0 if record["status"] == RunStatus.SUCCEEDED else None,
        duplicate_of=dup.of.name,
    )
    if dup.error is not None:
        record.update(status=RunStatus.FAILED, error=dup.error, units=None)
    return record


def kept_record(name: str, source: str, path: str) -> dict[str, Any]:
    """``--no-clobber``: an input left out because a file not made here has its name."""
    return {
        "event": "outcome",
        "name": name,
        "source": source,
        "status": RunStatus.SKIPPED,
        "path": path,
        "reason": "no_clobber",
    }


def invalid_record(source: str, reason: str) -> dict[str, Any]:
    """An input that could not become a job (or that validation refused)."""
    return {"event": RunStatus.INVALID, "source": source, "error": reason}
