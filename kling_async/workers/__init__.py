"""Workers on a shared queue (SAQ on Redis): many processes, many hosts, one account.

``kling-async worker --redis URL --out SHARED`` runs one; ``kling-async animate ... --redis URL``
enqueues jobs and follows them. Needs the ``workers`` extra: ``pip install kling-async[workers]``.
"""

from ..errors import JobClaimedError, LeaseLostError, WorkerJobError
from ..store import RedisJobStore
from ._enqueue import Enqueued, enqueue, follow
from ._payload import dump_job, load_job
from ._result import error_of, outcome_of, result_of
from ._worker import (
    OutputHook,
    WorkerSettings,
    close_queue,
    make_client,
    make_queue,
    run_worker,
)

__all__ = [
    "Enqueued",
    "JobClaimedError",
    "LeaseLostError",
    "OutputHook",
    "RedisJobStore",
    "WorkerJobError",
    "WorkerSettings",
    "close_queue",
    "dump_job",
    "enqueue",
    "error_of",
    "follow",
    "load_job",
    "make_client",
    "make_queue",
    "outcome_of",
    "result_of",
    "run_worker",
]
