"""The batch engine against the emulator: right outcomes, exactly-once, resume, budget."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import signal
import subprocess
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

import kling_async as kling
from kling_async.emulator import Emulator

from .._helpers import SCRIPT, StartEmulator, fast_client, png, test_account

FAST_POLL = kling.PollPolicy(min_interval=0.05, max_interval=1.0)


def make_images(folder: Path, count: int, start: int = 0) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i in range(start, start + count):
        path = folder / f"img{i:03d}.png"
        path.write_bytes(png(400, 300, (i % 256, (7 * i) % 256, 90)))
        paths.append(path)
    return paths


def jobs_for(paths: list[Path], prompt: str = "gentle motion") -> list[kling.ImageToVideo]:
    return [kling.ImageToVideo(image=p, prompt=prompt) for p in paths]


async def run(client: Any, jobs: Any, out: Path, **options: Any) -> tuple[list[kling.Outcome], Any]:
    options.setdefault("poll", FAST_POLL)
    batch = client.batch(jobs, output_dir=out, **options)
    outcomes = [o async for o in batch]
    return outcomes, batch.summary


async def check_files(emu: Emulator, outcomes: list[kling.Outcome], out: Path) -> None:
    for o in outcomes:
        if o.status is kling.OutcomeStatus.SUCCEEDED:
            assert o.path is not None
            assert o.task is not None
            assert o.path.read_bytes() == await emu.file_bytes(o.task.videos[0].id), o.name
    leftovers = [p.name for p in out.iterdir() if p.name.endswith((".part", ".part.json"))]
    assert leftovers == []


async def test_batch_under_hidden_limits_random_failures_and_faults(
    start_emulator: StartEmulator, tmp_path: Path
) -> None:
    # on the virtual clock: the 1303 and 1302 counts depend on the schedule, not on the load
    # of the machine (with real 0.1-0.4 s tasks a loaded run drew 18 1303s)
    emu, _ = await start_emulator(
        test_account(concurrency_limit=3),
        clock=kling.VirtualClock(),
        duration=(5.0, 20.0),
        rate_limit=40,
        rate_burst=5,
        failure_rate=0.2,
        seed=21,
        video_bytes=300_000,
        faults={"5000": 0.04, "5002": 0.04, "drop": 0.04, "lost_create": 0.05, "truncate": 0.1},
    )
    jobs = jobs_for(make_images(tmp_path / "in", 30))
    async with fast_client(
        emu,
        retry=kling.RetryPolicy(attempts=10, initial_backoff=0.02, max_backoff=0.2, jitter=0.02),
    ) as client:
        outcomes, summary = await run(client, jobs, tmp_path / "out")
    stats = emu.stats()
    assert len(outcomes) == 30
    assert len({o.job_id for o in outcomes}) == 30
    by_status = {s: [o for o in outcomes if o.status is s] for s in kling.OutcomeStatus}
    # the right outcome for each: succeeded exactly where the emulator's task succeeded
    assert len(by_status[kling.OutcomeStatus.SUCCEEDED]) == stats["tasks_succeeded"]
    assert len(by_status[kling.OutcomeStatus.FAILED]) == stats["tasks_failed"]
    for o in by_status[kling.OutcomeStatus.FAILED]:
        assert isinstance(o.error, kling.TaskFailedError)
    assert (stats["creates"], stats["duplicate_creates"]) == (30, 0)
    assert stats["max_in_flight"] <= 3
    # the initial overshoot (a window of 8 against 3) and a probe or two, for 30 jobs
    assert stats["concurrency_limited_1303"] <= 15
    assert stats["rate_limited_1302"] <= 10
    assert summary.counts["succeeded"] + summary.counts["failed"] == 30
    await check_files(emu, outcomes, tmp_path / "out")


async def test_rerun_skips_done_work_even_renamed_and_a_new_prompt_is_a_new_job(
    start_emulator: StartEmulator, tmp_path: Path
) -> None:
    emu, _ = await start_emulator(video_bytes=1000)
    paths = make_images(tmp_path / "in", 5)
    out = tmp_path / "out"
    async with fast_client(emu) as client:
        first, _ = await run(client, jobs_for(paths), out)
        assert {o.status for o in first} == {kling.OutcomeStatus.SUCCEEDED}
        renamed = []
        for p in paths:
            renamed.append(p.with_name("renamed-" + p.name))
            shutil.copy(p, renamed[-1])
        second, summary = await run(client, jobs_for(renamed), out)
        assert {o.status for o in second} == {kling.OutcomeStatus.SKIPPED}
        assert summary.counts == {"skipped": 5}
        third, _ = await run(client, jobs_for(paths[:2], prompt="a new prompt"), out)
        assert {o.status for o in third} == {kling.OutcomeStatus.SUCCEEDED}
    assert emu.stats()["creates"] == 7
    names = sorted(p.name for p in out.iterdir() if p.suffix == ".mp4")
    assert len(names) == 7  # the new jobs got names of their own, nothing overwritten
    assert "img000.mp4" in names


async def test_bad_jobs_do_not_stop_the_batch(
    start_emulator: StartEmulator, tmp_path: Path
) -> None:
    emu, _ = await start_emulator(video_bytes=1000)
    paths = make_images(tmp_path / "in", 4)
    tiny = tmp_path / "in" / "tiny.png"
    tiny.write_bytes(png(100, 100))
    jobs = [
        *jobs_for(paths[:2]),
        kling.ImageToVideo(image=tiny),
        kling.ImageToVideo(image=tmp_path / "missing.png"),
        *jobs_for(paths[2:]),
    ]
    async with fast_client(emu) as client:
        outcomes, summary = await run(client, jobs, tmp_path / "out")
    invalid = sorted(o.name for o in outcomes if o.status is kling.OutcomeStatus.INVALID)
    assert invalid == ["missing", "tiny"]
    for o in outcomes:
        if o.status is kling.OutcomeStatus.INVALID:
            assert isinstance(o.error, kling.ValidationError)
    assert summary.counts["succeeded"] == 4
    assert emu.stats()["create_requests"] == 4  # nothing was sent for the bad ones


async def test_async_input_is_pulled_with_back_pressure(
    start_emulator: StartEmulator, tmp_path: Path
) -> None:
    emu, _ = await start_emulator(
        test_account(concurrency_limit=2), duration=(0.2, 0.2), video_bytes=1000
    )
    image = png(400, 300)
    pulled = 0

    async def produce() -> AsyncIterator[kling.ImageToVideo]:
        nonlocal pulled
        for i in range(200):
            pulled += 1
            yield kling.ImageToVideo(image=image, prompt=f"job {i}")

    async with fast_client(emu) as client:
        batch = client.batch(
            produce(), output_dir=tmp_path / "out", poll=FAST_POLL, prefetch=4, max_in_flight=2
        )
        async with batch:
            first = await anext(aiter(batch))
            assert first.status is kling.OutcomeStatus.SUCCEEDED
            assert pulled < 40, f"pulled {pulled} of 200 jobs before the first one finished"
    assert emu.stats()["creates"] < 20


async def test_preparers_stay_a_bounded_step_ahead_and_dispatches_wake_them(
    start_emulator: StartEmulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # the ready line and the preparers' count are the engine's inner parts, watched here
    from kling_async.batch._prepare import PREPARERS
    from kling_async.batch._ready import ReadyLine

    emu, _ = await start_emulator(
        test_account(concurrency_limit=2), duration=(0.05, 0.05), video_bytes=1000
    )
    image = png(400, 300)
    overshoot = [0]
    put = ReadyLine.put

    def watched(self: ReadyLine, work: Any, *, first: bool = False) -> None:
        put(self, work, first=first)
        overshoot[0] = max(overshoot[0], len(self) - self.bound())

    monkeypatch.setattr(ReadyLine, "put", watched)
    jobs = [kling.ImageToVideo(image=image, prompt=f"job {i}") for i in range(60)]
    async with fast_client(emu) as client:
        outcomes, _ = await asyncio.wait_for(
            run(client, jobs, tmp_path / "out", max_in_flight=2), 60
        )
    assert [o.status.value for o in outcomes].count("succeeded") == 60  # none left waiting
    # a preparer adds at most the job it holds beyond the bound (which a 1303 may lower by
    # one or two under jobs already ready); without back-pressure all 60 would be ready
    assert overshoot[0] <= PREPARERS + 2, overshoot[0]


async def test_long_lived_engine_for_pipelines(
    start_emulator: StartEmulator, tmp_path: Path
) -> None:
    emu, _ = await start_emulator(video_bytes=1000)
    paths = make_images(tmp_path / "in", 6)
    async with (
        fast_client(emu) as client,
        kling.BatchEngine(client, tmp_path / "out", poll=FAST_POLL) as engine,
    ):

        async def producer() -> None:
            for p in paths:
                await engine.submit(kling.ImageToVideo(image=p))
                await asyncio.sleep(0.02)
            await engine.finish()

        feeding = asyncio.create_task(producer())
        finished = [o async for o in engine.outcomes()]
        await feeding
    assert sorted(o.name for o in finished) == [p.stem for p in paths]
    assert all(o.path is not None and o.path.exists() for o in finished)


async def test_budget_guard_max_units_and_used_up_pack(
    start_emulator: StartEmulator, tmp_path: Path
) -> None:
    # kling-v2-6 std 5 s: 0.3 units a second
    assert kling.estimate_units(jobs_for(make_images(tmp_path / "e", 3))) == 4.5
    emu, _ = await start_emulator(test_account(units=3.0), video_bytes=1000)
    paths = make_images(tmp_path / "in", 5)
    async with fast_client(emu) as client:
        capped, _ = await run(client, jobs_for(paths), tmp_path / "a", max_units=1.5)
        assert [o.status.value for o in capped].count("succeeded") == 1
        assert sum("max_units" in str(o.error) for o in capped) == 4
        outcomes, summary = await run(client, jobs_for(paths), tmp_path / "b")
    # the account had 3 units: 1.5 already spent above, one more job, then 1102 halts creates
    statuses = sorted(o.status.value for o in outcomes)
    assert statuses.count("succeeded") == 1
    assert statuses.count("failed") == 4
    assert summary.halted is not None
    assert "used up" in summary.halted
    # no retry storm: only the creates already on their way when the first 1102 came were
    # refused, each once; after the halt nothing more was sent
    stats = emu.stats()
    refused = stats["errors_by_code"]["1102"]
    assert 1 <= refused <= 4
    assert stats["create_requests"] == stats["creates"] + refused


async def test_cancelled_batch_resumes_without_duplicates(
    start_emulator: StartEmulator, tmp_path: Path
) -> None:
    emu, _ = await start_emulator(
        test_account(concurrency_limit=4), duration=(0.3, 0.6), video_bytes=200_000
    )
    jobs = jobs_for(make_images(tmp_path / "in", 16))
    out = tmp_path / "out"
    async with fast_client(emu) as client:
        batch = client.batch(jobs, output_dir=out, poll=FAST_POLL)
        seen = 0
        async with batch:  # leaving early stops the engine at once (as Ctrl-C does)
            async for _ in batch:
                seen += 1
                if seen == 3:
                    break
        assert emu.stats()["creates"] < 16
        outcomes, _summary = await run(client, jobs, out)
    statuses = [o.status.value for o in outcomes]
    assert statuses.count("skipped") >= 3
    assert statuses.count("succeeded") + statuses.count("skipped") == 16
    stats = emu.stats()
    assert (stats["creates"], stats["duplicate_creates"]) == (16, 0)
    await check_files(emu, [o for o in outcomes if o.status.value == "succeeded"], out)


async def _with_callbacks(
    start_emulator: StartEmulator, tmp_path: Path, count: int, poll: Any, **emulator: Any
) -> tuple[list[kling.Outcome], float, dict[str, Any], list[str]]:
    """``count`` jobs whose tasks end by signed callbacks to a receiver feeding the engine
    (``callbacks=True``; polling only as the fallback): the outcomes, the seconds taken, the
    emulator's stats and the statuses the callbacks said."""
    import base64

    from aiohttp import web

    from kling_async.webhooks import webhook_handler

    secret = "whsec_" + base64.b64encode(b"k" * 32).decode()
    notified: list[str] = []
    engine_ref: list[kling.BatchEngine] = []

    async def on_task(task: kling.Task) -> None:
        notified.append(task.raw_status)
        await engine_ref[0].notify(task)

    app = web.Application()
    app.router.add_post("/hook", webhook_handler(on_task, secret))
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    emulator.setdefault("duration", (0.1, 0.2))
    emu, _ = await start_emulator(video_bytes=1000, webhook_secret=secret, **emulator)
    paths = make_images(tmp_path / "in", count)
    hook = f"http://127.0.0.1:{port}/hook"
    jobs = [kling.ImageToVideo(image=p, callback_url=hook) for p in paths]
    try:
        async with fast_client(emu) as client:
            engine = kling.BatchEngine(client, tmp_path / "out", poll=poll, callbacks=True)
            engine_ref.append(engine)
            started = time.monotonic()
            async with engine:
                for job in jobs:
                    await engine.submit(job)
                await engine.finish()
                outcomes = [o async for o in engine.outcomes()]
            elapsed = time.monotonic() - started
    finally:
        await runner.cleanup()
    return outcomes, elapsed, emu.stats(), notified


async def test_completion_by_verified_callback(
    start_emulator: StartEmulator, tmp_path: Path
) -> None:
    slow_poll = kling.PollPolicy(min_interval=5, max_interval=5)
    outcomes, elapsed, stats, notified = await _with_callbacks(
        start_emulator, tmp_path, 5, slow_poll
    )
    assert {o.status for o in outcomes} == {kling.OutcomeStatus.SUCCEEDED}
    assert elapsed < 4  # ended by callbacks, long before the 5 s fallback poll
    assert stats["list_queries"] + stats["single_queries"] == 0
    assert notified.count("succeed") == 5  # every end arrived signed and was verified


async def test_the_fallback_poll_looks_only_at_tasks_whose_callback_is_overdue(
    start_emulator: StartEmulator, tmp_path: Path
) -> None:
    """A batch longer than the fallback interval whose callbacks all come in time makes no
    status query (it used to poll every ``max_interval`` whatever the tasks' age)."""
    poll = kling.PollPolicy(min_interval=0.5, max_interval=2.5)
    account = test_account(concurrency_limit=3)
    outcomes, elapsed, stats, notified = await _with_callbacks(
        start_emulator, tmp_path, 24, poll, accounts=[account], duration=(0.2, 0.4)
    )
    assert {o.status for o in outcomes} == {kling.OutcomeStatus.SUCCEEDED}
    assert elapsed > 2.5  # long enough that a poll every max_interval would have come
    assert stats["list_queries"] + stats["single_queries"] == 0
    assert notified.count("succeed") == 24


def test_killed_batch_resumes_without_duplicates_or_partial_files(tmp_path: Path) -> None:
    from kling_async.emulator import EmulatorConfig, EmulatorThread

    config = EmulatorConfig(
        accounts=[test_account(concurrency_limit=4)],
        duration=(0.2, 0.5),
        seed=5,
        video_bytes=2_000_000,
        faults={"slow": 0.3},
        slow_seconds=0.3,
    )
    images = tmp_path / "in"
    make_images(images, 24)
    out = tmp_path / "out"
    runner = Path(__file__).parent.parent / "batch_runner.py"
    env = {k: v for k, v in os.environ.items() if not k.startswith("KLING_")}
    with EmulatorThread(config) as emu:
        args = [*SCRIPT, str(runner), emu.url, "test-api-key-abcdef", str(images), str(out)]
        for kill_after in (4, 10, 16):
            proc = subprocess.Popen(args, stdout=subprocess.PIPE, text=True, env=env)
            deadline = time.monotonic() + 30
            while emu.stats()["create_requests"] < kill_after and time.monotonic() < deadline:
                if proc.poll() is not None:
                    break
                time.sleep(0.02)
            proc.send_signal(signal.SIGKILL)
            proc.wait(10)
        done = subprocess.run(args, capture_output=True, text=True, timeout=120, env=env)
        assert done.returncode == 0, done.stderr
        stats = emu.stats()
    lines = done.stdout.split()
    assert lines.count("succeeded") + lines.count("skipped") == 24
    assert (stats["creates"], stats["duplicate_creates"]) == (24, 0)
    finals = sorted(p.name for p in out.iterdir() if p.suffix == ".mp4")
    assert len(finals) == 24
    assert all((out / n).stat().st_size == 2_000_000 for n in finals)
    assert [p.name for p in out.iterdir() if ".part" in p.name] == []


async def test_tasks_the_server_forgot_end_as_failed_not_as_a_hang(
    start_emulator: StartEmulator, tmp_path: Path
) -> None:
    emu, _ = await start_emulator(duration=(1.5, 1.5), video_bytes=1000)
    jobs = jobs_for(make_images(tmp_path / "in", 4))
    async with fast_client(emu) as client:
        collecting = asyncio.create_task(run(client, jobs, tmp_path / "out"))
        async with asyncio.timeout(10):
            while emu.stats()["creates"] < 4:  # noqa: ASYNC110  # bounded by the timeout
                await asyncio.sleep(0.02)
        emu.reset(everything=True)  # the server forgets every task
        async with asyncio.timeout(20):
            outcomes, _ = await collecting
    assert [o.status for o in outcomes] == [kling.OutcomeStatus.FAILED] * 4
    assert all("no longer knows" in str(o.error) for o in outcomes)


async def test_a_lost_video_whose_task_is_gone_is_made_again_on_the_next_run(
    start_emulator: StartEmulator, tmp_path: Path
) -> None:
    emu, _ = await start_emulator(video_bytes=1000)
    jobs = jobs_for(make_images(tmp_path / "in", 3))
    out = tmp_path / "out"
    async with fast_client(emu) as client:
        await run(client, jobs, out)
        (out / "img001.mp4").unlink()  # the video is lost ...
        emu.reset(everything=True)  # ... and the server forgot the task
        second, _ = await run(client, jobs, out)
        third, _ = await run(client, jobs, out)
    assert sorted(o.status.value for o in second) == ["failed", "skipped", "skipped"]
    lost = next(o for o in second if o.status.value == "failed")
    assert "gone from the server" in str(lost.error)
    assert sorted(o.status.value for o in third) == ["skipped", "skipped", "succeeded"]
    assert (out / "img001.mp4").stat().st_size == 1000


async def test_an_unrelated_file_is_never_overwritten(
    start_emulator: StartEmulator, tmp_path: Path
) -> None:
    emu, _ = await start_emulator(video_bytes=1000)
    paths = make_images(tmp_path / "in", 1)
    out = tmp_path / "out"
    out.mkdir()
    (out / "img000.mp4").write_bytes(b"my own holiday video")
    async with fast_client(emu) as client:
        outcomes, _ = await run(client, jobs_for(paths), out)
    assert (out / "img000.mp4").read_bytes() == b"my own holiday video"
    path = outcomes[0].path
    assert path is not None
    assert path.name.startswith("img000-")
    assert path.stat().st_size == 1000


async def test_the_same_job_twice_in_one_batch_is_made_once(
    start_emulator: StartEmulator, tmp_path: Path
) -> None:
    emu, _ = await start_emulator(video_bytes=1000)
    paths = make_images(tmp_path / "in", 2)
    jobs = jobs_for([paths[0], paths[1], paths[0], paths[0]])
    async with fast_client(emu) as client:
        outcomes, _ = await run(client, jobs, tmp_path / "out")
    assert len(outcomes) == 4
    assert {o.status for o in outcomes} == {kling.OutcomeStatus.SUCCEEDED}
    assert len({o.path for o in outcomes}) == 2
    assert emu.stats()["creates"] == 2


async def test_a_task_the_batch_created_is_downloaded_fresh_and_a_rerun_resumes_its_part(
    start_emulator: StartEmulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A job created in this run has no partial video to look for (its name was claimed
    free): its download skips that look (one worker call fewer, ~0.1 ms of CPU). A job the
    journal has as finished (a rerun after a crash mid-download) may have one: that download
    looks, and resumes what it finds with a Range."""
    import sqlite3

    from kling_async import client as client_module
    from kling_async.download import _fetch  # private: counts the look for a partial file
    from kling_async.download import download as real

    fresh_flags: list[bool] = []

    async def spying(*args: Any, fresh: bool = False, **kwargs: Any) -> Path:
        fresh_flags.append(fresh)
        return await real(*args, fresh=fresh, **kwargs)

    monkeypatch.setattr(client_module, "download", spying)
    prepared = [0]
    prepare = _fetch.prepare_now

    def counted_prepare(*args: Any) -> Any:
        prepared[0] += 1
        return prepare(*args)

    monkeypatch.setattr(_fetch, "prepare_now", counted_prepare)
    emu, _ = await start_emulator()
    out = tmp_path / "out"
    jobs = jobs_for(make_images(tmp_path / "img", 4))
    async with fast_client(emu) as client:
        outcomes, _ = await asyncio.wait_for(run(client, jobs, out), 60)
    assert [o.status for o in outcomes] == [kling.OutcomeStatus.SUCCEEDED] * 4
    await check_files(emu, outcomes, out)
    assert fresh_flags == [True] * 4
    assert prepared[0] == 0

    # two jobs back to 'finished', their videos cut to a .part of a planted prefix (with
    # the server's ETag in its note): a rerun must resume those bytes, not refetch them
    victims = sorted(outcomes, key=lambda o: o.name)[:2]
    prefix = b"P" * 1000
    with sqlite3.connect(out / ".kling-journal.db") as db:
        for o in victims:
            assert o.path is not None
            assert o.task is not None
            db.execute("UPDATE jobs SET state = 'finished' WHERE output = ?", (o.path.name,))
            served = emu.state.store.videos[o.task.videos[0].id]
            etag = (await emu.state.videos.content(served)).etag
            o.path.unlink()
            Path(f"{o.path}.part").write_bytes(prefix)
            Path(f"{o.path}.part.json").write_text(json.dumps({"etag": etag}))
    fresh_flags.clear()
    async with fast_client(emu) as client:
        again, _ = await asyncio.wait_for(run(client, jobs, out), 60)
    statuses = sorted(o.status.value for o in again)
    assert statuses == ["skipped", "skipped", "succeeded", "succeeded"]
    assert fresh_flags == [False, False]
    assert prepared[0] == 2
    for o in victims:
        assert o.path is not None
        assert o.task is not None
        whole = await emu.file_bytes(o.task.videos[0].id)
        assert o.path.read_bytes() == prefix + whole[len(prefix) :]  # resumed after them


async def test_options_are_checked_once_and_may_come_typed(
    start_emulator: StartEmulator, tmp_path: Path
) -> None:
    emu, _ = await start_emulator(video_bytes=1000, duration=(0.1, 0.2))
    async with fast_client(emu) as client:
        for field, value in [
            ("downloads", 0),
            ("max_in_flight", 0),
            ("initial_window", 0),
            ("prefetch", 0),
            ("max_units", -1),
        ]:
            with pytest.raises(kling.ValidationError) as caught:
                kling.BatchEngine(client, tmp_path / "x", **{field: value})
            assert caught.value.field == field
        assert kling.batch.BatchOptions(poll=None).poll == kling.PollPolicy()
        options = kling.batch.BatchOptions(max_in_flight=1, poll=FAST_POLL)
        batch = client.batch(
            jobs_for(make_images(tmp_path / "in", 3)), tmp_path / "out", options=options
        )
        assert batch.engine.options is options
        async with batch:
            outcomes = [o async for o in batch]
    assert [o.status for o in outcomes] == [kling.OutcomeStatus.SUCCEEDED] * 3
    assert emu.stats()["max_in_flight"] == 1  # the typed options were the ones used
