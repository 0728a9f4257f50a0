"""What a job's outcome says beyond the job: a fault of the worker that ran it (then the job
is handed back, not failed), or that it made nothing (then its budget units go back)."""

from __future__ import annotations

import errno

from ..batch import Outcome, halt_reason
from ..errors import AuthenticationError, NotSentError, ServerUnreachableError
from ..money import nothing_created
from ..states import OutcomeStatus

#: ``errno`` of a full disk or quota: the worker's own fault, not its job's.
_DISK_FULL = (errno.ENOSPC, errno.EDQUOT)


def worker_fault(outcome: Outcome) -> str | None:
    """Why ``outcome`` says this worker cannot work (then its job is not failed but handed
    back), or None: credentials refused (1000-1004: a wrong key, or a clock so wrong tokens
    are not valid yet), no connection to the API from here, the batch halted for either, or
    its own disk full while writing a video."""
    error = outcome.error
    if isinstance(error, AuthenticationError | ServerUnreachableError):
        return halt_reason(error)
    if isinstance(error, NotSentError) and error.kind == "halted":
        return str(error)
    while error is not None:
        if isinstance(error, OSError) and error.errno in _DISK_FULL:
            return f"its disk is full ({error.strerror})"
        error = error.__cause__ or error.__context__
    return None


def made_nothing(outcome: Outcome) -> bool:
    """No task exists for the job: invalid, not sent, or refused before one was made."""
    if outcome.task is not None or outcome.status is OutcomeStatus.SKIPPED:
        return False
    if outcome.status is OutcomeStatus.INVALID or isinstance(outcome.error, NotSentError):
        return True
    return outcome.error is not None and nothing_created(outcome.error)
