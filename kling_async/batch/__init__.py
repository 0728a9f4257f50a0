"""The concurrent batch engine: many jobs, one account, as fast as its limits allow.

``client.batch(jobs, output_dir=...)`` for an iterable or async iterable of jobs;
``BatchEngine`` for a long-lived pipeline stage.
"""

from ..errors import NotSentError
from ..states import OutcomeStatus
from ._engine import BatchEngine, BatchRun, default_unit_cost, estimate_units
from ._identity import job_identity, job_name
from ._outcome import BatchSummary, Outcome, Timings
from ._poller import PollPolicy

__all__ = [
    "BatchEngine",
    "BatchRun",
    "BatchSummary",
    "NotSentError",
    "Outcome",
    "OutcomeStatus",
    "PollPolicy",
    "Timings",
    "default_unit_cost",
    "estimate_units",
    "job_identity",
    "job_name",
]
