"""The job store on Redis: the job store's contract (``_contract``) shared by every worker of
one queue, kept as the SQLite journal keeps it (the same states, relative outputs with their
sub-folders, name claims, committed units, salt and schema version).

Keys, under ``kling:<namespace>:`` (job ids are content hashes; nothing secret is stored):

- ``meta`` (hash): ``salt`` and ``schema`` (``SCHEMA_VERSION``), set once by the first store
  that opens (``HSETNX``), so every worker derives the same external ids; ``folder``, the
  output folder as the first worker saw it (``kling-async report`` shows it).
- ``job:<job_id>`` (hash): the ``JobRecord`` fields, each JSON-encoded, and ``updated``.
- ``lease:<job_id>`` (string, with a TTL): the id of the worker that holds the job. Only the
  holder may change the job; a worker that dies stops renewing, the lease runs out and the
  job can be claimed again (and is then resumed from its recorded state: a ``submitting``
  job is looked up by its external id, never created blindly again).
- ``outputs`` (hash): output (a path relative to the folder) -> job id, so two jobs never
  get the same file.
- ``jobs`` (set): every job id, for ``committed_units``.
- ``worker:<owner>`` (string, with a TTL): a live worker, renewed with its leases.

Every write is one Lua script: the ownership check and the change are atomic, so a worker
whose lease ran out (a long pause, a partition) cannot write a stale ``submitting`` — and so
cannot send a create another worker now owns (``LeaseLostError`` comes before the POST).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import logging
import os
import secrets
import socket
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

import attrs
from redis import asyncio as aioredis
from redis.exceptions import RedisError

from .._tasks import cancel_and_wait
from ..errors import JobClaimedError, JournalError, LeaseLostError
from ..states import COMMITTED, JobState
from ._contract import (
    MAX_CLAIM_TRIES,
    SCHEMA_VERSION,
    JobRecord,
    Spend,
    candidate_outputs,
    check_update,
    default_salt,
    inside,
    on_disk,
)
from ._masked import masked
from ._outage import RedisOutage
from ._outputs import done_output, mark_done

log = logging.getLogger("kling_async.workers")

T = TypeVar("T")

#: A new job's state, as stored (every field is JSON-encoded but name, kind and output).
_PENDING = json.dumps(JobState.PENDING.value)
#: A job found finished in the folder's record of outputs (Redis had forgotten it).
_DONE = json.dumps(JobState.DONE.value)

_CLAIM = """
local holder = redis.call('GET', KEYS[2])
if holder and holder ~= ARGV[1] then
  return {'held', holder, tostring(redis.call('PTTL', KEYS[2]))}
end
if redis.call('EXISTS', KEYS[1]) == 0 then
  if ARGV[5] == '' then return {'new'} end
  if redis.call('HSETNX', KEYS[3], ARGV[5], ARGV[6]) == 0 then return {'taken'} end
  redis.call('HSET', KEYS[1], 'name', ARGV[3], 'kind', ARGV[4], 'state', ARGV[8],
             'output', ARGV[5], 'attempts', '0', 'generation', '0', 'updated', ARGV[7])
  redis.call('SADD', KEYS[4], ARGV[6])
end
redis.call('SET', KEYS[2], ARGV[1], 'PX', ARGV[2])
local out = redis.call('HGETALL', KEYS[1])
table.insert(out, 1, 'ok')
return out
"""
_UPDATE = """
if redis.call('GET', KEYS[2]) ~= ARGV[1] then return 0 end
if redis.call('EXISTS', KEYS[1]) == 0 then return -1 end
redis.call('HSET', KEYS[1], unpack(ARGV, 3))
redis.call('PEXPIRE', KEYS[2], ARGV[2])
return 1
"""
_RENEW = """
local kept = 0
for i, key in ipairs(KEYS) do
  if redis.call('GET', key) == ARGV[1] then
    redis.call('PEXPIRE', key, ARGV[2])
    kept = kept + 1
  end
end
return kept
"""
_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""
_RENAME = """
if redis.call('GET', KEYS[2]) ~= ARGV[1] then return 'lost' end
local owner = redis.call('HGET', KEYS[3], ARGV[2])
if owner and owner ~= ARGV[3] then return 'taken' end
redis.call('HSET', KEYS[3], ARGV[2], ARGV[3])
redis.call('HSET', KEYS[1], 'output', ARGV[2])
return 'ok'
"""


def worker_id() -> str:
    """A worker's name: host, process and a random part (a restarted pid is another worker)."""
    return f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(3)}"


class RedisJobStore:
    """A ``JobStore`` on Redis, for one worker (``owner``) of a shared queue.

    It makes its Redis connection pool in ``open`` and closes it in ``close``; between them a
    task renews the leases of the jobs it holds every ``renew_every`` (``lease / 3``) seconds.
    ``release`` gives a job up once its outcome is known.
    """

    def __init__(
        self,
        url: str,
        folder: Path,
        *,
        namespace: str = "default",
        owner: str | None = None,
        lease: float = 30.0,
        renew_every: float | None = None,
        outage: RedisOutage | None = None,
    ) -> None:
        if lease <= 0:
            raise ValueError("lease: must be a positive number of seconds")
        self.url = url
        self.folder = folder
        self.namespace = namespace
        self.owner = owner or worker_id()
        self.lease = lease
        #: Seconds between renewals of the leases (a third of ``lease`` unless given; a
        #: test makes a worker that stops renewing, as a dead one does, with a long one).
        self.renew_every = lease / 3 if renew_every is None else renew_every
        self.salt = ""
        #: Waits out a Redis that stops answering once open (shared with the worker's queue).
        self.outage = outage or RedisOutage(url)
        self._prefix = f"kling:{namespace}:"
        self._redis: aioredis.Redis | None = None
        self._held: set[str] = set()
        #: The name, kind and output of each job claimed here (a lost record is made again).
        self._claimed: dict[str, tuple[str, str, str]] = {}
        self._renewer: asyncio.Task[None] | None = None

    def __repr__(self) -> str:  # the URL may carry a password: never shown
        return f"RedisJobStore(namespace={self.namespace!r}, owner={self.owner!r})"

    def key(self, *parts: str) -> str:
        """The Redis key of ``parts`` in this store's namespace."""
        return self._prefix + ":".join(parts)

    async def _patiently(self, what: str, call: Callable[[], Awaitable[T]]) -> T:
        """``await call()``, waiting out an outage of Redis (``RedisOutage``)."""
        return await self.outage.call(call, what=f"job store: {what}")

    @property
    def redis(self) -> aioredis.Redis:
        if self._redis is None:
            raise JournalError(self, "is closed")
        return self._redis

    # -- open / close -----------------------------------------------------------------
    async def open(self, *, salt: str | None = None) -> RedisJobStore:
        if self._redis is not None:
            return self
        client = aioredis.Redis.from_url(self.url)
        meta = self.key("meta")
        try:
            async with client.pipeline(transaction=True) as pipe:
                pipe.hsetnx(meta, "salt", salt or default_salt(self.folder))
                pipe.hsetnx(meta, "schema", str(SCHEMA_VERSION))
                pipe.hsetnx(meta, "folder", str(self.folder.resolve()))
                pipe.hmget(meta, ["salt", "schema"])
                *_, (stored, schema) = await pipe.execute()
        except (RedisError, OSError) as exc:
            await client.aclose()
            raise JournalError(
                self,
                f"Redis at {masked(self.url)} cannot be reached or used ({type(exc).__name__})",
            ) from None
        except BaseException:
            await client.aclose()
            raise
        if int(_text(schema)) > SCHEMA_VERSION:
            await client.aclose()
            raise JournalError(
                self,
                f"was written by a newer kling-async (schema {_text(schema)}; this one knows "
                f"up to {SCHEMA_VERSION}); upgrade kling-async, or use another namespace",
            )
        self.salt = _text(stored)
        self._redis = client
        self.outage.reached()
        await self._announce()
        self._renewer = asyncio.create_task(self._renew_loop(), name="kling-store-leases")
        return self

    async def close(self) -> None:
        renewer, self._renewer = self._renewer, None
        await cancel_and_wait(renewer)
        client = self._redis
        if client is None:
            return
        try:
            for job_id in sorted(self._held):  # stopping: others may take them at once
                with contextlib.suppress(RedisError, OSError):
                    await self.release(job_id, wait=False)
            with contextlib.suppress(RedisError, OSError):
                await _done(client.delete(self.key("worker", self.owner)))
        finally:
            self._redis = None
            await client.aclose()

    # -- leases -----------------------------------------------------------------------
    @property
    def held(self) -> frozenset[str]:
        """The jobs this store holds a lease on."""
        return frozenset(self._held)

    async def _announce(self) -> None:
        """Say this worker is alive (``worker:<owner>``, expiring with its leases)."""
        key = self.key("worker", self.owner)
        await _done(self.redis.set(key, repr(time.time()), px=self._lease_ms()))

    async def live_workers(self) -> list[str]:
        """The workers of this namespace whose leases are being renewed."""
        found = [_text(k) async for k in self.redis.scan_iter(match=self.key("worker", "*"))]
        return sorted(k.removeprefix(self.key("worker", "")) for k in found)

    async def _renew_loop(self) -> None:
        while True:
            await asyncio.sleep(self.renew_every)
            try:
                await self._patiently("announce", self._announce)
                await self.renew()
            except (RedisError, OSError) as exc:
                log.warning("could not renew the leases (%s); trying again", type(exc).__name__)

    async def renew(self) -> int:
        """Extend every lease this worker still holds; returns how many it holds."""
        held = sorted(self._held)
        if not held:
            return 0
        keys = [self.key("lease", j) for j in held]
        kept = await self._patiently(
            "renew",
            lambda: _done(self.redis.eval(_RENEW, len(keys), *keys, self.owner, self._lease_ms())),
        )
        return int(kept)

    async def release(self, job_id: str, *, wait: bool = True) -> None:
        """Give the job up (its outcome is known, or this worker stops). ``wait=False``:
        one try, an outage not waited out (a lease not given back runs out by itself)."""
        self._held.discard(job_id)
        self._claimed.pop(job_id, None)
        lease = self.key("lease", job_id)

        async def once() -> Any:
            return await _done(self.redis.eval(_RELEASE, 1, lease, self.owner))

        await (self._patiently("release", once) if wait else once())

    def _lease_ms(self) -> int:
        return max(1, int(self.lease * 1000))

    # -- the contract -----------------------------------------------------------------
    async def committed_units(self) -> float:
        return await self._patiently("committed units", self._committed_units)

    async def _committed_units(self) -> float:
        ids = sorted(_text(v) for v in await _done(self.redis.smembers(self.key("jobs"))))
        total = 0.0
        async with self.redis.pipeline(transaction=False) as pipe:
            for job_id in ids:
                pipe.hmget(self.key("job", job_id), ["state", "units", "cost"])
            rows = await pipe.execute()
        for state, units, cost in rows:
            if state is not None and json.loads(state) in COMMITTED:
                value = _load(units) if units is not None else None
                if value is None:
                    value = _load(cost) if cost is not None else None
                total += float(value or 0)
        return total

    async def committed_spend(self) -> Spend:
        return await self._patiently("committed spend", self._committed_spend)

    async def _committed_spend(self) -> Spend:
        ids = sorted(_text(v) for v in await _done(self.redis.smembers(self.key("jobs"))))
        async with self.redis.pipeline(transaction=False) as pipe:
            for job_id in ids:
                pipe.hgetall(self.key("job", job_id))
            rows = await pipe.execute()
        spend = Spend()
        for job_id, raw in zip(ids, rows, strict=True):
            fields = {_text(k): _text(v) for k, v in raw.items()}
            if "state" in fields and json.loads(fields["state"]) in COMMITTED:
                spend = spend.add(record_of(job_id, fields))
        return spend

    async def task_owner(self, external_task_id: str) -> str | None:
        return await self._patiently("task owner", lambda: self._task_owner(external_task_id))

    async def _task_owner(self, external_task_id: str) -> str | None:
        ids = sorted(_text(v) for v in await _done(self.redis.smembers(self.key("jobs"))))
        async with self.redis.pipeline(transaction=False) as pipe:
            for job_id in ids:
                pipe.hmget(self.key("job", job_id), ["external_task_id", "task_id"])
            rows = await pipe.execute()
        for job_id, (external, task) in zip(ids, rows, strict=True):
            held = _load(external) if external is not None else None
            if held == external_task_id and task is not None and _load(task) is not None:
                return job_id
        return None

    async def get_or_claim(
        self, job_id: str, name: str, kind: str, suffix: str = ".mp4"
    ) -> JobRecord:
        """The job's record, claimed for this worker (lease). Raises ``JobClaimedError`` when
        another live worker holds it. A new job gets ``<name><suffix>``, else
        ``<name>-<id8><suffix>``... : a name no job and no file in the folder has.

        A job Redis has no record of whose finished video the folder's record of outputs
        names (``_outputs``: Redis lost its data) is recorded ``done`` with that file."""
        reply = await self._claim(job_id, name, kind, "")
        if reply[0] == "new":
            found = await asyncio.to_thread(done_output, self.folder, job_id)
            if found is not None:
                reply = await self._claim(job_id, name, kind, found, _DONE)
        candidates = candidate_outputs(job_id, name, suffix)
        while reply[0] in ("new", "taken"):
            candidate = next(candidates, None)
            if candidate is None:
                raise JournalError(
                    self, f"no free file name for {name!r} after {MAX_CLAIM_TRIES} tries"
                )
            if await asyncio.to_thread(on_disk, self.folder, candidate):
                continue
            reply = await self._claim(job_id, name, kind, candidate)
        if reply[0] == "held":
            raise JobClaimedError(job_id, reply[1], int(reply[2]) / 1000)
        self._held.add(job_id)
        record = record_of(job_id, dict(zip(reply[1::2], reply[2::2], strict=True)))
        if record.output is None or not inside(self.folder, record.output):
            # written by something else than this SDK: never write there; a new name
            output = await self._rename(job_id, record.name, suffix)
            record = attrs.evolve(record, output=output)
        assert record.output is not None
        self._claimed[job_id] = (record.name, record.kind, record.output)
        return record

    async def _rename(self, job_id: str, name: str, suffix: str) -> str:
        """Give the job (held by this worker) the first free output, as a new job gets."""
        keys = (self.key("job", job_id), self.key("lease", job_id), self.key("outputs"))

        async def rename(output: str) -> Any:
            return await _done(
                self.redis.eval(_RENAME, len(keys), *keys, self.owner, output, job_id)
            )

        for candidate in candidate_outputs(job_id, name, suffix):
            if await asyncio.to_thread(on_disk, self.folder, candidate):
                continue
            reply = _text(await self._patiently("rename", functools.partial(rename, candidate)))
            if reply == "ok":
                return candidate
            if reply == "lost":
                self._held.discard(job_id)
                raise LeaseLostError(job_id)
        raise JournalError(self, f"no free file name for {name!r} after {MAX_CLAIM_TRIES} tries")

    async def _claim(
        self, job_id: str, name: str, kind: str, candidate: str, state: str = _PENDING
    ) -> list[str]:
        keys = (
            self.key("job", job_id),
            self.key("lease", job_id),
            self.key("outputs"),
            self.key("jobs"),
        )
        args = (
            self.owner,
            self._lease_ms(),
            name,
            kind,
            candidate,
            job_id,
            repr(time.time()),
            state,
        )
        reply = await self._patiently(
            "claim", lambda: _done(self.redis.eval(_CLAIM, len(keys), *keys, *args))
        )
        return [_text(v) for v in reply]

    async def update(self, job_id: str, state: str, **fields: Any) -> None:
        """Change the job's state (and fields) if this worker still holds it; raises
        ``LeaseLostError`` (nothing written) when it does not.

        ``done`` first records the video in the folder's record of outputs (``_outputs``);
        when Redis has lost both the job's record and its lease meanwhile (a restart without
        persistence) and no other worker claimed it since, the record is made again, done."""
        check_update(state, fields)
        pairs: list[str] = ["state", json.dumps(str(state)), "updated", repr(time.time())]
        for key, value in fields.items():
            pairs += [key, json.dumps(value)]
        claimed = self._claimed.get(job_id)
        if state == JobState.DONE and claimed is not None:
            await asyncio.to_thread(mark_done, self.folder, job_id, claimed[2])
        done = await self._update(job_id, pairs)
        if done != 1 and state == JobState.DONE and claimed is not None:
            name, kind, output = claimed
            if (await self._claim(job_id, name, kind, output, _DONE))[0] == "ok":
                done = await self._update(job_id, pairs)  # ours again: the fields too
        if done != 1:
            self._held.discard(job_id)
            raise LeaseLostError(job_id)

    async def _update(self, job_id: str, pairs: list[str]) -> int:
        keys = (self.key("job", job_id), self.key("lease", job_id))
        args: list[str | int] = [self.owner, self._lease_ms(), *pairs]
        done = await self._patiently(
            "update", lambda: _done(self.redis.eval(_UPDATE, 2, *keys, *args))
        )
        return int(done)

    async def has(self, job_id: str) -> bool:
        key = self.key("job", job_id)
        return bool(await self._patiently("has", lambda: _done(self.redis.exists(key))))

    async def record(self, job_id: str) -> dict[str, Any] | None:
        """The job's stored fields (decoded), whoever holds it; None if unknown."""
        key = self.key("job", job_id)
        raw = await self._patiently("record", lambda: _done(self.redis.hgetall(key)))
        if not raw:
            return None
        fields = {_text(k): _text(v) for k, v in raw.items()}
        return {k: (v if k in ("name", "kind", "output") else _load(v)) for k, v in fields.items()}


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _load(value: Any) -> Any:
    return json.loads(_text(value))


def _field(fields: dict[str, str], name: str) -> Any:
    raw = fields.get(name)
    return None if raw is None else json.loads(raw)


def record_of(job_id: str, fields: dict[str, str]) -> JobRecord:
    """A job's record from its hash (``job:<job_id>``, decoded to text)."""
    return JobRecord(
        job_id=job_id,
        name=fields["name"],
        kind=fields["kind"],
        state=json.loads(fields["state"]),
        external_task_id=_field(fields, "external_task_id"),
        task_id=_field(fields, "task_id"),
        output=fields.get("output"),
        error=_field(fields, "error"),
        units=_field(fields, "units"),
        attempts=int(_field(fields, "attempts") or 0),
        generation=int(_field(fields, "generation") or 0),
        cost=_field(fields, "cost"),
        charged=_field(fields, "charged"),
        currency=_field(fields, "currency"),
    )


async def _done(value: Awaitable[T] | T) -> T:
    """redis-py types its commands for both clients (a value or an awaitable of it)."""
    if isinstance(value, Awaitable):
        return await value
    return value
