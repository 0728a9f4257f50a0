"""Redis going away under the workers and the follower (issue #26, item 7): an outage within
the grace is waited out by both; a Redis that comes back empty (no persistence) has not made
the finished videos forgotten — the output folder's record of outputs knows them.

A real redis-server, shut down and started again on the same socket (``restart_redis``);
real worker processes; the emulator counts the creates.
"""

from __future__ import annotations

import asyncio
import json
import re
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from .._helpers import CLI
from .._redis_server import RedisServer, restart_redis, stop_redis
from .._worker_cluster import Cluster, created, make_images
from .test_workers import _cli_env, _emulator  # the emulator and environment they run on

pytestmark = pytest.mark.timeout(150)

#: ``<name>-<id8>.mp4``: a second file for a job whose video was already there.
_RENAMED = re.compile(r"-[0-9a-f]{8}(-\d+)?\.mp4$")


def _animate(folder: Path, out: Path, url: str, *extra: str) -> list[str]:
    return [*CLI, "animate", str(folder), "--out", str(out), "--redis", url, "--json", *extra]


def _outcomes(stdout: bytes) -> list[dict[str, object]]:
    records = [json.loads(line) for line in stdout.decode().splitlines() if line.strip()]
    return [r for r in records if r.get("event") == "outcome"]


async def _follower(
    command: list[str],
) -> tuple[asyncio.subprocess.Process, asyncio.Task[tuple[bytes, bytes]]]:
    """``animate --redis`` started, and the task that reads what it prints until it ends."""
    process = await asyncio.create_subprocess_exec(
        *command, env=_cli_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    return process, asyncio.create_task(process.communicate())


async def _until(check: object, timeout: float, what: str) -> None:
    """Wait (bounded) until ``check()`` holds."""
    assert callable(check)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"not within {timeout} s: {what}")


@dataclass
class _Run:
    """What a run of ``animate --redis`` through a restart of Redis left."""

    code: int | None
    outcomes: list[dict[str, object]]
    stderr: str
    #: Whether each worker was still running at the end, and its exit code on SIGTERM.
    alive: list[bool]
    codes: list[int | None]
    logs: list[str]
    seen: dict[str, Any]
    videos: list[str]
    #: With ``rerun``: the first run's exit code, the creates and files it left.
    before: tuple[int | None, int, list[Path]] | None = None


async def _through_a_restart(
    redis_server: RedisServer,
    tmp_path: Path,
    jobs: int,
    *,
    keep_data: bool,
    down: float,
    rerun: bool = False,
) -> _Run:
    """``jobs`` jobs on 2 workers (tasks of 2-3 s) followed by ``animate --redis``; once two
    videos are made, Redis shuts down, stays down ``down`` s and starts again. ``rerun``:
    the first run ends before the restart, and the same command runs again after it."""
    make_images(tmp_path / "in", jobs)
    out = tmp_path / "out"
    server = redis_server
    before = None
    with _emulator((2.0, 3.0)) as emu:
        cluster = Cluster(server.url, out, emu.url, tmp_path / "logs", count=2, lease=10.0)
        cluster.start()
        try:
            await cluster.wait_ready()
            command = _animate(tmp_path / "in", out, server.url)
            follower, follow = await _follower(command)
            if rerun:
                await asyncio.wait_for(follow, 120)
                files = sorted(p.relative_to(out) for p in out.rglob("*") if p.is_file())
                before = (follower.returncode, created(emu)["creates"], files)
            else:
                await _until(lambda: len(list(out.glob("*.mp4"))) >= 2, 60, "the first videos")
            server = await asyncio.to_thread(restart_redis, server, keep_data=keep_data, down=down)
            if rerun:
                follower, follow = await _follower(command)
            stdout, stderr = await asyncio.wait_for(follow, 120)
            alive = [p.poll() is None for p in cluster.processes]
        finally:
            codes = cluster.stop()
            if server is not redis_server:
                stop_redis(server)
        seen = created(emu)
    return _Run(
        follower.returncode,
        _outcomes(stdout),
        stderr.decode(),
        alive,
        codes,
        [cluster.log(i) for i in range(2)],
        seen,
        sorted(p.name for p in out.rglob("*.mp4")),
        before,
    )


async def test_a_redis_outage_of_5_s_is_waited_out_by_the_follower_and_the_workers(
    redis_server: RedisServer, tmp_path: Path
) -> None:
    """Redis shuts down (saving), stays down 5 s and comes back with its data while 12 jobs
    run on 2 workers and ``animate --redis`` follows them. Before: the follower exited 2 on
    its first connection error. Now both say once that Redis is unreachable and once that
    it is back, and every job ends made, once."""
    jobs = 12
    run = await _through_a_restart(redis_server, tmp_path, jobs, keep_data=True, down=5.0)
    assert run.code == 0, run.stderr[-3000:]
    assert len(run.outcomes) == jobs
    assert {o["status"] for o in run.outcomes} <= {"succeeded", "skipped"}
    assert run.stderr.count("is unreachable") == 1, run.stderr[-3000:]
    assert run.stderr.count("is back after") == 1, run.stderr[-3000:]
    assert redis_server.url in run.stderr  # the URL is named (it carries no password here)
    assert run.alive == [True, True], run.logs
    assert run.codes == [0, 0]  # still working, and stopped cleanly by SIGTERM
    for log in run.logs:
        assert log.count("is unreachable") == 1, log
        assert log.count("is back after") == 1, log
    assert run.seen["creates"] == jobs  # nothing created twice for the outage
    assert run.seen["duplicate_creates"] == 0
    assert run.videos == [f"img-{i:04d}.mp4" for i in range(jobs)]


async def test_redis_coming_back_empty_mid_run_duplicates_no_video(
    redis_server: RedisServer, tmp_path: Path
) -> None:
    """Redis restarts without persistence while 12 jobs run on 2 workers: the follower and
    the workers go on, every job is made once and reported made, none gets a second file."""
    jobs = 12
    run = await _through_a_restart(redis_server, tmp_path, jobs, keep_data=False, down=2.0)
    assert run.code == 0, run.stderr[-3000:]
    assert len(run.outcomes) == jobs
    # the jobs finished before the restart lost their queue records and were enqueued again;
    # their second run found them done: made in this run all the same (they were reported
    # 'skipped' before the follower read the record of outputs)
    assert [o["status"] for o in run.outcomes] == ["succeeded"] * jobs, run.outcomes
    assert run.seen["creates"] == jobs
    assert run.seen["duplicate_creates"] == 0
    assert run.videos == [f"img-{i:04d}.mp4" for i in range(jobs)]
    assert run.alive == [True, True], run.logs
    assert run.codes == [0, 0]


async def test_after_redis_comes_back_empty_a_rerun_makes_and_downloads_nothing(
    redis_server: RedisServer, tmp_path: Path
) -> None:
    """Every video made; Redis restarts without persistence (the queue and the job store
    forgotten). The same ``animate --redis`` again: before, finished jobs were made again and
    downloaded as ``name-<id8>.mp4``; now each is recognised from the output folder's record
    of outputs: skipped, with its own file, nothing created, no new file."""
    jobs = 6
    run = await _through_a_restart(
        redis_server, tmp_path, jobs, keep_data=False, down=1.0, rerun=True
    )
    assert run.before is not None
    code, creates, files = run.before
    assert code == 0
    assert creates == jobs
    assert run.code == 0, run.stderr[-3000:]
    assert len(run.outcomes) == jobs
    assert [o["status"] for o in run.outcomes] == ["skipped"] * jobs, run.outcomes
    out = tmp_path / "out"
    assert sorted(str(o["path"]) for o in run.outcomes) == sorted(
        str(out / f"img-{i:04d}.mp4") for i in range(jobs)
    )
    assert run.seen["creates"] == jobs  # nothing made again
    assert not [name for name in run.videos if _RENAMED.search(name)]
    assert sorted(p.relative_to(out) for p in out.rglob("*") if p.is_file()) == files
    assert run.alive == [True, True]
    assert run.codes == [0, 0]


async def test_past_the_grace_the_follower_and_a_worker_stop_in_one_line(
    redis_server: RedisServer, tmp_path: Path
) -> None:
    """Redis goes away for good: the follower and a worker (grace 2 s) each wait 2 s, then
    stop with exit 2 and one line naming the URL and how long they waited."""
    make_images(tmp_path / "in", 2)
    out = tmp_path / "out"
    with _emulator((30.0, 31.0)) as emu:
        grace = ("--redis-grace", "2")
        cluster = Cluster(redis_server.url, out, emu.url, tmp_path / "logs", count=1, extra=grace)
        cluster.start()
        try:
            await cluster.wait_ready()
            command = _animate(tmp_path / "in", out, redis_server.url, *grace)
            follower, follow = await _follower(command)
            await _until(lambda: created(emu)["creates"] >= 2, 60, "both tasks created")
            await asyncio.to_thread(stop_redis, redis_server)
            _, stderr = await asyncio.wait_for(follow, 60)
            worker = cluster.processes[0]
            await _until(lambda: worker.poll() is not None, 60, "the worker stopped")
        finally:
            cluster.stop()
    err = stderr.decode()
    assert follower.returncode == 2, err[-3000:]
    shown = f"Redis at {redis_server.url} has not answered for"
    assert shown in err, err[-3000:]
    assert "(grace 2 s)" in err
    assert err.count("is unreachable") == 1
    assert worker.returncode == 2, cluster.log(0)
    assert shown in cluster.log(0)
