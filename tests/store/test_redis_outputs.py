"""The Redis job store and the output folder's record of outputs (``OUT/.kling-outputs``):
after Redis lost its data (a restart without persistence, here ``FLUSHALL``), a job whose
video is finished in the folder is recorded done with that file again, never given a new
name; a job without a finished video is never taken for done. And an outage of Redis in the
middle of a store call is waited out (``RedisOutage``), saying so once each way."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

import pytest
from redis import asyncio as aioredis

from kling_async.states import JobState
from kling_async.store import RedisJobStore
from kling_async.store._outage import RedisOutage, RedisOutageError

from .._redis_server import RedisServer, restart_redis, stop_redis

pytestmark = pytest.mark.timeout(60)
JOB_ID = "b" * 64
OTHER = "c" * 64


async def _flush(redis: RedisServer) -> None:
    client = aioredis.Redis.from_url(redis.url)
    try:
        await client.flushall()
    finally:
        await client.aclose()


async def test_a_finished_video_is_known_from_the_folder_after_redis_forgot_it(
    redis_server: RedisServer, tmp_path: Path
) -> None:
    store = await RedisJobStore(redis_server.url, tmp_path, owner="w1").open()
    try:
        record = await store.get_or_claim(JOB_ID, "cat", "image2video")
        (tmp_path / "cat.mp4").write_bytes(b"v" * 100)
        await store.update(JOB_ID, JobState.DONE)
        await store.release(JOB_ID)
        fresh = await store.get_or_claim(OTHER, "dog", "image2video")
        await store.release(OTHER)
    finally:
        await store.close()
    assert record.output == "cat.mp4"
    assert (tmp_path / ".kling-outputs" / f"{JOB_ID}.json").exists()
    await _flush(redis_server)
    again = await RedisJobStore(redis_server.url, tmp_path, owner="w2").open()
    try:
        found = await again.get_or_claim(JOB_ID, "cat", "image2video")
        other = await again.get_or_claim(OTHER, "dog", "image2video")
    finally:
        await again.close()
    assert (found.state, found.output) == (JobState.DONE, "cat.mp4")  # no cat-bbbbbbbb.mp4
    assert (fresh.state, other.state, other.output) == ("pending", "pending", "dog.mp4")


async def test_a_file_changed_since_is_not_taken_for_the_jobs_video(
    redis_server: RedisServer, tmp_path: Path
) -> None:
    store = await RedisJobStore(redis_server.url, tmp_path, owner="w1").open()
    try:
        await store.get_or_claim(JOB_ID, "cat", "image2video")
        (tmp_path / "cat.mp4").write_bytes(b"v" * 100)
        await store.update(JOB_ID, JobState.DONE)
        await store.release(JOB_ID)
        (tmp_path / "cat.mp4").write_bytes(b"someone else's file")  # written over since
        await _flush(redis_server)
        record = await store.get_or_claim(JOB_ID, "cat", "image2video")
    finally:
        await store.close()
    assert record.state == "pending"  # made anew, beside the file that is not its video
    assert record.output == f"cat-{JOB_ID[:8]}.mp4"


async def test_a_video_finished_while_redis_forgot_the_job_is_recorded_done_by_its_worker(
    redis_server: RedisServer, tmp_path: Path
) -> None:
    """The job's record and lease vanish while its video downloads; the worker's ``done``
    makes the record again (no ``LeaseLostError``: the job is reported made, not skipped by a
    second run)."""
    store = await RedisJobStore(redis_server.url, tmp_path, owner="w1").open()
    try:
        await store.get_or_claim(JOB_ID, "cat", "image2video")
        await store.update(JOB_ID, JobState.SUBMITTED, task_id="t1")
        await _flush(redis_server)
        (tmp_path / "cat.mp4").write_bytes(b"v" * 100)
        await store.update(JOB_ID, JobState.DONE)
        stored = await store.record(JOB_ID)
    finally:
        await store.close()
    assert stored is not None
    assert (stored["state"], stored["output"]) == ("done", "cat.mp4")


async def test_a_store_call_waits_out_a_redis_restart_and_says_so_once_each_way(
    redis_server: RedisServer, tmp_path: Path
) -> None:
    lines: list[str] = []
    outage = RedisOutage(redis_server.url, grace=30, say=lines.append)
    store = await RedisJobStore(redis_server.url, tmp_path, owner="w1", outage=outage).open()
    server = redis_server
    try:
        restart = asyncio.create_task(
            asyncio.to_thread(restart_redis, redis_server, keep_data=True, down=2.0)
        )
        await asyncio.sleep(0.5)  # down now
        assert not await store.has(JOB_ID)  # answered once Redis is back
        server = await restart
        record = await store.get_or_claim(JOB_ID, "cat", "image2video")
    finally:
        await store.close()
        if server is not redis_server:
            stop_redis(server)
    assert record.state == "pending"
    assert [line.split(" is ")[1].split(" ")[0] for line in lines] == ["unreachable", "back"]
    assert all(f"Redis at {redis_server.url}" in line for line in lines)


async def test_past_the_grace_a_store_call_raises_naming_the_url_and_the_wait(
    redis_server: RedisServer, tmp_path: Path
) -> None:
    gone: list[RedisOutageError] = []
    outage = RedisOutage(redis_server.url + "?password=hunter2", grace=1.0, on_gone=gone.append)
    store = await RedisJobStore(redis_server.url, tmp_path, owner="w1", outage=outage).open()
    try:
        await asyncio.to_thread(stop_redis, redis_server)
        with pytest.raises(RedisOutageError) as raised:
            await store.has(JOB_ID)
    finally:
        await store.close()
    message = str(raised.value)
    assert re.search(r"has not answered for \d+ s \(grace 1 s\)", message), message
    assert "password=***" in message
    assert "hunter2" not in message
    assert gone == [raised.value]
