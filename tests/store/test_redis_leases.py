"""The Redis job store's leases: a job is one worker's at a time, a dead worker's job is taken
over once its lease runs out, and a worker whose lease ran out can write nothing (so cannot
send a create another worker now owns). What both stores keep is in ``test_contract.py``."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest

from kling_async.batch import external_id_for
from kling_async.errors import JobClaimedError, LeaseLostError
from kling_async.states import JobState
from kling_async.store import RedisJobStore

from .._redis_server import RedisServer

pytestmark = pytest.mark.timeout(60)
JOB_ID = "a" * 64


def store(redis: RedisServer, folder: Path, owner: str, lease: float = 5.0) -> RedisJobStore:
    return RedisJobStore(redis.url, folder, owner=owner, lease=lease)


async def test_a_job_is_claimed_by_one_worker_at_a_time(
    redis_server: RedisServer, tmp_path: Path
) -> None:
    a = await store(redis_server, tmp_path, "a").open()
    b = await store(redis_server, tmp_path, "b").open()
    try:
        results = await asyncio.gather(
            *(s.get_or_claim(JOB_ID, "cat", "image2video") for s in (a, b) for _ in range(5)),
            return_exceptions=True,
        )
        winners = {id(r) for r in results if not isinstance(r, BaseException)}
        refused = [r for r in results if isinstance(r, JobClaimedError)]
        assert len(winners) == 5
        assert len(refused) == 5
        assert a.salt == b.salt != ""  # both derive the same external ids
        holder = "a" if JOB_ID in a.held else "b"
        assert {r.holder for r in refused} == {holder}
        record = await (a if holder == "a" else b).get_or_claim(JOB_ID, "cat", "image2video")
        assert (record.state, record.output) == ("pending", "cat.mp4")
    finally:
        await a.close()
        await b.close()


async def test_a_dead_workers_job_is_resumed_and_the_stale_worker_cannot_write(
    redis_server: RedisServer, tmp_path: Path
) -> None:
    # a worker that stops renewing its leases, as a dead one does
    a = await RedisJobStore(
        redis_server.url, tmp_path, owner="a", lease=0.6, renew_every=3600
    ).open()
    b = await store(redis_server, tmp_path, "b", lease=5).open()
    try:
        await a.get_or_claim(JOB_ID, "cat", "image2video")
        external = external_id_for(a.salt, JOB_ID, 0)
        await a.update(JOB_ID, JobState.SUBMITTING, external_task_id=external, attempts=1, cost=5.0)
        with pytest.raises(JobClaimedError):
            await b.get_or_claim(JOB_ID, "cat", "image2video")
        deadline = time.monotonic() + 5
        while True:  # bounded: the lease runs out after 0.6 s
            try:
                record = await b.get_or_claim(JOB_ID, "cat", "image2video")
                break
            except JobClaimedError:
                assert time.monotonic() < deadline, "the lease never ran out"
                await asyncio.sleep(0.1)
        assert (record.state, record.external_task_id, record.attempts) == (
            JobState.SUBMITTING,
            external,
            1,
        )
        assert await b.committed_units() == 5.0
        # the stale worker wakes up: nothing it writes lands (so it cannot send the create)
        with pytest.raises(LeaseLostError):
            await a.update(JOB_ID, JobState.SUBMITTING, external_task_id="other")
        assert (await b.record(JOB_ID) or {})["external_task_id"] == external
    finally:
        await a.close()
        await b.close()


async def test_two_workers_claiming_jobs_of_one_name_at_once_never_share_an_output(
    redis_server: RedisServer, tmp_path: Path
) -> None:
    a = await store(redis_server, tmp_path, "a").open()
    b = await store(redis_server, tmp_path, "b").open()
    try:
        records = await asyncio.gather(
            *(
                (a if n % 2 else b).get_or_claim(f"{n:02d}" * 32, "beach/b1", "image2video")
                for n in range(20)
            )
        )
    finally:
        await a.close()
        await b.close()
    outputs = [r.output for r in records]
    assert len(set(outputs)) == 20
    assert "beach/b1.mp4" in outputs
    assert all(o is not None and o.startswith("beach/b1") for o in outputs)
