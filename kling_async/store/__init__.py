"""Job stores: where a batch records each job, so that it is created once and resumed.

One contract (``JobStore``; see ``_contract`` for what every store keeps), two stores that
keep it: ``Journal`` (SQLite, one output folder, one run at a time) and ``RedisJobStore``
(shared by the workers of a queue; needs the ``workers`` extra and is loaded only when
asked for). ``read_journal`` / ``read_redis`` read either without touching it, as a
``StoreSnapshot``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ._contract import (
    MAX_CLAIM_TRIES,
    SCHEMA_VERSION,
    JobRecord,
    JobStore,
    Spend,
    default_salt,
    inside,
)
from ._masked import masked
from ._outputs import finished_at
from ._sqlite import JOURNAL_NAME, Journal
from ._sqlite_read import (
    StoreSnapshot,
    read_failed,
    read_journal,
    recorded_external_ids,
    recorded_outputs,
)

if TYPE_CHECKING:
    from ._outage import RedisOutage, RedisOutageError
    from ._redis import RedisJobStore, worker_id
    from ._redis_budget import SharedBudget
    from ._redis_read import read_redis

#: Names that load redis-py: imported on first use (``kling_async.store`` itself never does).
_ON_REDIS = {
    "RedisJobStore": "._redis",
    "worker_id": "._redis",
    "read_redis": "._redis_read",
    "SharedBudget": "._redis_budget",
    "RedisOutage": "._outage",
    "RedisOutageError": "._outage",
}


def __getattr__(name: str) -> Any:
    module = _ON_REDIS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(module, __name__), name)


__all__ = [
    "JOURNAL_NAME",
    "MAX_CLAIM_TRIES",
    "SCHEMA_VERSION",
    "JobRecord",
    "JobStore",
    "Journal",
    "RedisJobStore",
    "RedisOutage",
    "RedisOutageError",
    "SharedBudget",
    "Spend",
    "StoreSnapshot",
    "default_salt",
    "finished_at",
    "inside",
    "masked",
    "read_failed",
    "read_journal",
    "read_redis",
    "recorded_external_ids",
    "recorded_outputs",
    "worker_id",
]
