"""Reading the Redis job store of a worker run without touching it, for ``kling-async
report DIR --redis URL``: the same ``StoreSnapshot`` a journal gives. Blocking (redis-py's
synchronous client): it reads keys and writes none, takes no lease and announces no worker.
"""

from __future__ import annotations

from pathlib import Path

from ..errors import JournalError
from ._contract import SCHEMA_VERSION
from ._masked import masked
from ._redis import record_of
from ._sqlite_read import StoreSnapshot


def read_redis(url: str, folder: Path, *, namespace: str = "default") -> StoreSnapshot:
    """Every job the Redis store of ``namespace`` holds, read as it stands. Raises
    ``JournalError`` when Redis cannot be used or the namespace has no store."""
    import redis  # the workers extra; loaded only when asked
    from redis.exceptions import RedisError

    where = f"{masked(url)} (namespace {namespace})"
    prefix = f"kling:{namespace}:"
    try:
        with redis.Redis.from_url(url, decode_responses=True) as client:
            meta = client.hgetall(prefix + "meta")
            ids = sorted(client.smembers(prefix + "jobs"))
            with client.pipeline(transaction=False) as pipe:
                for job_id in ids:
                    pipe.hgetall(f"{prefix}job:{job_id}")
                rows = pipe.execute()
            workers = sorted(
                key.removeprefix(prefix + "worker:")
                for key in client.scan_iter(match=prefix + "worker:*")
            )
    except (RedisError, OSError) as exc:
        raise JournalError(
            where, f"Redis cannot be reached or used ({type(exc).__name__})"
        ) from None
    if not meta and not ids:
        raise JournalError(where, "holds no job store: no worker has run with this namespace")
    schema = int(meta.get("schema", SCHEMA_VERSION))
    if schema > SCHEMA_VERSION:
        raise JournalError(
            where,
            f"was written by a newer kling-async (schema {schema}; this one reads up to "
            f"{SCHEMA_VERSION}); upgrade kling-async",
        )
    records = [record_of(job_id, row) for job_id, row in zip(ids, rows, strict=True) if row]
    updated = {job_id: float(row.get("updated", 0)) for job_id, row in zip(ids, rows, strict=True)}
    records.sort(key=lambda r: (updated[r.job_id], r.name))
    in_use = f"worker(s) {', '.join(workers)}" if workers else None
    wrote_to = meta.get("folder")
    if wrote_to and wrote_to != str(folder.resolve()):  # another mount of it, or a mistake
        where += f"; its workers write to {wrote_to}"
    return StoreSnapshot(where, folder, tuple(records), in_use)
