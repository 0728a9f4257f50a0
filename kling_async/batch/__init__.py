"""The concurrent batch engine: many jobs, one account, as fast as its limits allow.

``client.batch(jobs, output_dir=...)`` for an iterable or async iterable of jobs;
``BatchEngine`` for a long-lived pipeline stage.
"""

from ..errors import NotSentError
from ..states import OutcomeStatus
from ._budget import default_unit_cost, estimate_units
from ._client import BatchClient
from ._engine import BatchEngine
from ._identity import content_hash, external_id_for, job_identity, job_name
from ._options import BatchOptions
from ._outcome import BatchSummary, Outcome, Timings
from ._poll_plan import PollPolicy
from ._run import BatchRun
from ._submitter import halt_reason

__all__ = [
    "BatchClient",
    "BatchEngine",
    "BatchOptions",
    "BatchRun",
    "BatchSummary",
    "NotSentError",
    "Outcome",
    "OutcomeStatus",
    "PollPolicy",
    "Timings",
    "content_hash",
    "default_unit_cost",
    "estimate_units",
    "external_id_for",
    "halt_reason",
    "job_identity",
    "job_name",
]
