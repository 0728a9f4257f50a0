"""How the command line names the end of each job: a ``RunStatus`` (``succeeded``,
``skipped`` — done in an earlier run, ``failed``, ``timed_out``, ``invalid`` — refused before
sending, ``not_sent`` — the run stopped creating), its labels, and a twin's outcome."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import attrs

from ...batch import Outcome, OutcomeStatus
from ...errors import (
    AccountError,
    AuthenticationError,
    NotSentError,
    ServerUnreachableError,
    TaskTimeoutError,
)
from ...states import RUN_STATUSES, RunStatus

#: A status in words: ``timed out``, ``not sent``...
_WORDS = {status: status.value.replace("_", " ") for status in RUN_STATUSES}
#: A status as the summary names it.
LABELS = _WORDS | {RunStatus.SKIPPED: f"{RunStatus.SKIPPED} (done before)"}
#: A status as an outcome's line starts (one width, so the names line up).
LINE_LABELS = {status: f"{words:<9}" for status, words in _WORDS.items()}


def run_error(outcome: Outcome) -> BaseException | None:
    """The error, when it concerns the whole run rather than this job: the credentials or
    the account were refused or the API could not be reached (the engine stops creating:
    nothing of it was sent), or the job was not sent because
    of such an error or the budget."""
    error = outcome.error
    if isinstance(error, AuthenticationError | AccountError | ServerUnreachableError):
        return error
    if isinstance(error, NotSentError) and (error.kind == "halted" or error.budget):
        return error
    return None


def status_of(outcome: Outcome) -> RunStatus:
    """The job's status in the CLI's vocabulary (see the module's docstring)."""
    if outcome.status is OutcomeStatus.FAILED:
        if run_error(outcome) is not None:
            return RunStatus.NOT_SENT
        if isinstance(outcome.error, TaskTimeoutError):
            return RunStatus.TIMED_OUT
    return RunStatus(outcome.status.value)


def source_of(outcome: Outcome, shown: Mapping[str, str] | None = None) -> str:
    """The input a job came from: its image (or end frame), else its name. ``shown`` maps a
    prepared file sent to the input it was made from."""
    image = getattr(outcome.job, "image", None) or getattr(outcome.job, "image_tail", None)
    if not isinstance(image, str | Path):
        return outcome.name
    return (shown or {}).get(str(image), str(image))


@attrs.frozen
class Duplicate:
    """An input whose job is the same as another's (same image and settings): made once,
    the video copied to its own name."""

    name: str
    source: str
    path: Path | None
    of: Outcome
    #: Why its copy could not be made (the original's video is fine).
    error: str | None = None

    @property
    def status(self) -> RunStatus:
        return RunStatus.FAILED if self.error is not None else status_of(self.of)
