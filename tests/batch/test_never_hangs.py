"""The batch never hangs and never bills twice, whatever fails (issue: the faults the engine
did not expect). One test per failure seen; each runs under a hard time bound, and the
matrix's figures (hangs, duplicate creates, files written outside the output folder) are
printed in the reliability section at the end of the run."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import sqlite3
import time
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

import kling_async as kling
from kling_async.emulator import Emulator

from .._helpers import StartEmulator, fast_client, png, test_account
from .._proxy import HostileProxy, deep_json, is_create, rewrite_json

FAST_POLL = kling.PollPolicy(min_interval=0.05, max_interval=0.5)
MATRIX = "never-hangs matrix"


@pytest.fixture
def matrix(campaign_report: dict[str, dict[str, Any]]) -> dict[str, Any]:
    return campaign_report.setdefault(
        MATRIX,
        {"scenarios": 0, "hangs": 0, "duplicate creates": 0, "files written outside": 0},
    )


@contextlib.asynccontextmanager
async def bounded(matrix: dict[str, Any], seconds: float = 30) -> AsyncIterator[None]:
    """A scenario: counted, and a hang if it does not end within ``seconds``."""
    matrix["scenarios"] += 1
    try:
        async with asyncio.timeout(seconds):
            yield
    except TimeoutError:
        matrix["hangs"] += 1
        raise AssertionError(f"hung: no end within {seconds} s") from None


def record(matrix: dict[str, Any], emu: Emulator, expected_creates: int, outside: Path) -> None:
    stats = emu.stats()
    matrix["duplicate creates"] += stats["duplicate_creates"] + max(
        0, stats["creates"] - expected_creates
    )
    matrix["files written outside"] += sum(1 for p in outside.rglob("*") if p.is_file())


async def until(condition: Callable[[], bool], seconds: float = 10) -> None:
    """Wait (bounded in count and time) until ``condition()`` holds."""
    for _ in range(int(seconds / 0.02)):
        if condition():
            return
        await asyncio.sleep(0.02)
    raise AssertionError(f"condition not met within {seconds} s")


def images(folder: Path, count: int, prefix: str = "img") -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    out = []
    for i in range(count):
        path = folder / f"{prefix}{i:03d}.png"
        path.write_bytes(png(400, 300, (i % 256, (11 * i) % 256, 77)))
        out.append(path)
    return out


def jobs(paths: list[Path], **fields: Any) -> list[kling.ImageToVideo]:
    fields.setdefault("prompt", "calm")
    return [kling.ImageToVideo(image=p, **fields) for p in paths]


async def run(client: Any, todo: Any, out: Path, **options: Any) -> list[kling.Outcome]:
    options.setdefault("poll", FAST_POLL)
    async with client.batch(todo, output_dir=out, **options) as batch:
        return [o async for o in batch]


def statuses(outcomes: list[kling.Outcome]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for o in outcomes:
        counts[o.status.value] = counts.get(o.status.value, 0) + 1
    return counts


@pytest.fixture
def outside(tmp_path: Path) -> Iterator[Path]:
    """A folder nothing may be written to (the output folder's neighbour)."""
    folder = tmp_path / "outside"
    folder.mkdir()
    return folder


# -- every exception is that job's outcome ----------------------------------------------
async def test_an_image_deleted_before_its_create_fails_that_job_only(
    start_emulator: StartEmulator, tmp_path: Path, matrix: dict[str, Any], outside: Path
) -> None:
    emu, _ = await start_emulator(video_bytes=1000)
    paths = images(tmp_path / "in", 4)
    doomed = paths[1]

    def unit_cost(job: kling.ImageToVideo) -> float:
        # the user's own code (or another process) deletes the file after validation
        if job.image == doomed:
            with contextlib.suppress(FileNotFoundError):
                doomed.unlink()
        return 1.0

    async with bounded(matrix), fast_client(emu) as client:
        outcomes = await run(client, jobs(paths), tmp_path / "out", unit_cost=unit_cost)
    assert statuses(outcomes) == {"succeeded": 3, "failed": 1}
    failed = next(o for o in outcomes if o.status is kling.OutcomeStatus.FAILED)
    assert failed.name == "img001"
    assert emu.stats()["creates"] == 3  # nothing was sent for the deleted image
    record(matrix, emu, 3, outside)


@pytest.mark.parametrize("garble", ["not json", "deep json", "bad task id", "empty task id"])
async def test_an_unreadable_create_answer_is_unconfirmed_and_the_rerun_reconciles(
    start_emulator: StartEmulator,
    tmp_path: Path,
    matrix: dict[str, Any],
    outside: Path,
    garble: str,
) -> None:
    emu, _ = await start_emulator(video_bytes=1000)
    paths = images(tmp_path / "in", 3)
    bodies = {
        "not json": lambda body: b"<html>502 from a middlebox</html>",
        "deep json": lambda body: deep_json(),
        "bad task id": lambda body: rewrite_json(
            body, lambda b: {**b, "data": {**b["data"], "task_id": "a/b"}}
        ),
        "empty task id": lambda body: rewrite_json(
            body, lambda b: {**b, "data": {**b["data"], "task_id": ""}}
        ),
    }
    garbled = 0

    def rule(method: str, path: str, status: int, body: bytes) -> bytes | None:
        nonlocal garbled
        if is_create(method, path) and status == 200 and garbled < 1:
            garbled += 1
            return bodies[garble](body)  # type: ignore[no-untyped-call]
        return None

    async with bounded(matrix), HostileProxy(emu.url) as proxy:
        proxy.rules.append(rule)
        async with fast_client(emu, base_url=proxy.url) as client:
            first = await run(client, jobs(paths), tmp_path / "out")
    # the task was created behind the garbled answer: the job is unconfirmed, not failed
    # for good, and the journal keeps its external id
    unconfirmed = [o for o in first if o.status is kling.OutcomeStatus.FAILED]
    if garble in ("bad task id", "empty task id"):  # the lookup sees the same odd id
        assert len(unconfirmed) <= 1
    else:  # the lookup by external id found it at once
        assert unconfirmed == []
    for o in unconfirmed:
        assert isinstance(o.error, kling.CreateUnconfirmedError)
        assert o.error.external_task_id.startswith("kling-async-")
    async with bounded(matrix), fast_client(emu) as client:
        second = await run(client, jobs(paths), tmp_path / "out")
    assert statuses(second).get("failed", 0) == 0
    assert emu.stats()["creates"] == 3
    assert emu.stats()["duplicate_creates"] == 0
    record(matrix, emu, 3, outside)


async def test_one_unreadable_task_on_the_list_page_does_not_stall_the_rest(
    start_emulator: StartEmulator, tmp_path: Path, matrix: dict[str, Any], outside: Path
) -> None:
    emu, _ = await start_emulator(video_bytes=1000, duration=(0.2, 0.4))
    paths = images(tmp_path / "in", 6)

    def rule(method: str, path: str, status: int, body: bytes) -> bytes | None:
        if method == "GET" and path == "/v1/videos/image2video" and status == 200:

            def spoil(b: Any) -> Any:
                items = b["data"]
                if items:  # the newest task's item is unreadable on every page
                    items[0] = {**items[0], "task_status": {"odd": True}, "created_at": "x"}
                return b

            return rewrite_json(body, spoil)
        return None

    async with bounded(matrix), HostileProxy(emu.url) as proxy:
        proxy.rules.append(rule)
        async with fast_client(emu, base_url=proxy.url) as client:
            outcomes = await run(client, jobs(paths), tmp_path / "out")
    assert statuses(outcomes) == {"succeeded": 6}
    record(matrix, emu, 6, outside)


async def test_a_task_that_never_ends_times_out_and_a_rerun_resumes_it(
    start_emulator: StartEmulator, tmp_path: Path, matrix: dict[str, Any], outside: Path
) -> None:
    emu, _ = await start_emulator(video_bytes=1000, duration=(3.0, 3.0))
    paths = images(tmp_path / "in", 2)
    poll = kling.PollPolicy(min_interval=0.05, max_interval=0.3, task_timeout=0.8)
    async with bounded(matrix), fast_client(emu) as client:
        started = time.monotonic()
        first = await run(client, jobs(paths), tmp_path / "out", poll=poll)
        assert time.monotonic() - started < 3.0
    assert statuses(first) == {"failed": 2}
    for o in first:
        assert isinstance(o.error, kling.TaskTimeoutError)
    async with bounded(matrix), fast_client(emu) as client:
        second = await run(client, jobs(paths), tmp_path / "out")
    assert statuses(second) == {"succeeded": 2}
    assert emu.stats()["creates"] == 2  # resumed by task id, not created again
    record(matrix, emu, 2, outside)


async def test_a_locked_journal_write_fails_the_jobs_without_sending(
    start_emulator: StartEmulator,
    tmp_path: Path,
    matrix: dict[str, Any],
    outside: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from kling_async.store import Journal

    monkeypatch.setattr(Journal, "busy_timeout", 0.3)  # 5 s a write
    emu, _ = await start_emulator(video_bytes=1000)
    paths = images(tmp_path / "in", 2)
    out = tmp_path / "out"
    blocker: sqlite3.Connection | None = None

    def unit_cost(job: kling.ImageToVideo) -> float:
        nonlocal blocker
        if blocker is None:  # another program holds the journal's write lock
            blocker = sqlite3.connect(out / ".kling-journal.db", isolation_level=None)
            blocker.execute("BEGIN EXCLUSIVE")
        return 1.0

    try:
        async with bounded(matrix, 60), fast_client(emu) as client:
            outcomes = await run(client, jobs(paths), out, unit_cost=unit_cost)
    finally:
        if blocker is not None:
            blocker.execute("ROLLBACK")
            blocker.close()
    assert statuses(outcomes) == {"failed": 2}
    for o in outcomes:
        assert isinstance(o.error, kling.JournalError), o.error
        assert "locked" in str(o.error)
    assert emu.stats()["create_requests"] == 0  # no create goes out unjournaled
    record(matrix, emu, 0, outside)


# -- one run per output folder ------------------------------------------------------------
async def test_a_second_run_on_the_same_folder_is_refused_naming_the_holder(
    start_emulator: StartEmulator, tmp_path: Path, matrix: dict[str, Any], outside: Path
) -> None:
    emu, _ = await start_emulator(video_bytes=1000)
    out = tmp_path / "out"
    async with bounded(matrix), fast_client(emu) as client:
        async with kling.BatchEngine(client, out) as first:
            with pytest.raises(kling.JournalLockedError) as caught:
                await kling.BatchEngine(client, out).start()
            assert f"pid {os.getpid()}" in caught.value.holder
            assert first.journal.lock_path.exists()
        # released with the first run: a new one may start
        async with kling.BatchEngine(client, out):
            pass
    record(matrix, emu, 0, outside)


# -- paths ---------------------------------------------------------------------------------
async def test_planted_files_and_links_are_never_overwritten_or_followed(
    start_emulator: StartEmulator, tmp_path: Path, matrix: dict[str, Any], outside: Path
) -> None:
    emu, _ = await start_emulator(video_bytes=1000)
    paths = images(tmp_path / "in", 3)
    out = tmp_path / "out"
    out.mkdir()
    victim = outside / "victim.txt"
    victim.write_text("keep me")
    (out / "img000.mp4.part").symlink_to(victim)  # a link where the .part would go
    (out / "img001.mp4").write_text("an unrelated file")
    async with bounded(matrix), fast_client(emu) as client:
        job_ids = [await kling.batch.job_identity(j) for j in jobs(paths)]
        (out / f"img001-{job_ids[1][:8]}.mp4").write_text("another unrelated file")
        outcomes = await run(client, jobs(paths), out)
    assert statuses(outcomes) == {"succeeded": 3}
    assert victim.read_text() == "keep me"
    assert (out / "img001.mp4").read_text() == "an unrelated file"
    assert (out / f"img001-{job_ids[1][:8]}.mp4").read_text() == "another unrelated file"
    written = {o.path for o in outcomes}
    assert all(p is not None and p.parent == out for p in written)
    assert out / f"img001-{job_ids[1][:8]}-2.mp4" in written
    victim.unlink()  # the only file outside, and it is the test's own
    record(matrix, emu, 3, outside)


async def test_a_rerun_from_another_directory_writes_inside_the_folder(
    start_emulator: StartEmulator,
    tmp_path: Path,
    matrix: dict[str, Any],
    outside: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    emu, _ = await start_emulator(video_bytes=1000, duration=(0.4, 0.6))
    paths = images(tmp_path / "in", 2)
    (tmp_path / "a").mkdir()
    monkeypatch.chdir(tmp_path / "a")
    async with bounded(matrix), fast_client(emu) as client:
        engine = kling.BatchEngine(client, "out", poll=FAST_POLL)
        async with engine:
            for job in jobs(paths):
                await engine.submit(job)
            # stop while the tasks run: their rows say 'submitted'
            await until(lambda: engine.states["running"] >= 2)
    monkeypatch.chdir(outside)  # the rerun starts elsewhere, naming the same folder
    async with bounded(matrix), fast_client(emu) as client:
        outcomes = await run(client, jobs(paths), tmp_path / "a" / "out")
    assert statuses(outcomes) == {"succeeded": 2}
    assert sorted(p.name for p in (tmp_path / "a" / "out").glob("*.mp4")) == [
        "img000.mp4",
        "img001.mp4",
    ]
    record(matrix, emu, 2, outside)


async def test_long_names_are_capped_in_bytes_and_saved(
    start_emulator: StartEmulator, tmp_path: Path, matrix: dict[str, Any], outside: Path
) -> None:
    emu, _ = await start_emulator(video_bytes=1000)
    folder = tmp_path / "in"
    folder.mkdir()
    name = "夕" * 82  # 246 bytes: a legal file name, too long once '.mp4.part.json' is added
    image = folder / f"{name}.png"
    image.write_bytes(png(400, 300))
    async with bounded(matrix), fast_client(emu) as client:
        outcomes = await run(client, jobs([image]), tmp_path / "out")
    assert statuses(outcomes) == {"succeeded": 1}
    saved = outcomes[0].path
    assert saved is not None
    assert saved.exists()
    assert len(saved.name.encode()) <= 200 + len(".mp4")
    assert saved.stem == "夕" * 66  # 198 bytes: whole characters only
    record(matrix, emu, 1, outside)


# -- what the user abandoned ----------------------------------------------------------------
async def test_breaking_out_of_a_batch_stops_creating(
    start_emulator: StartEmulator, tmp_path: Path, matrix: dict[str, Any], outside: Path
) -> None:
    emu, _ = await start_emulator(
        test_account(concurrency_limit=5), video_bytes=1000, duration=(0.3, 0.6)
    )
    paths = images(tmp_path / "in", 60)
    async with bounded(matrix), fast_client(emu) as client:
        # creates the client began (a create on the wire at the break reaches the emulator,
        # which runs on this loop, a little later: it was sent before, not after)
        began = 0
        request = client.request

        async def counted(method: str, path: str, *, kind: Any, **rest: Any) -> Any:
            nonlocal began
            began += kind == "create"
            return await request(method, path, kind=kind, **rest)

        client.request = counted  # type: ignore[method-assign]
        async for _outcome in client.batch(jobs(paths), output_dir=tmp_path / "out"):
            break  # the README's pattern: leave at the first outcome
        at_break = began
        await asyncio.sleep(1.0)
        after = emu.stats()["create_requests"]
    assert began == at_break, f"{began - at_break} creates begun after the loop was left"
    assert after <= at_break < 60  # none arrived that was not begun before the break
    record(matrix, emu, after, outside)


async def test_an_abandoned_run_is_closed_by_its_owner(
    start_emulator: StartEmulator, tmp_path: Path, matrix: dict[str, Any], outside: Path
) -> None:
    """Nothing cleans up in ``__del__``. A run read without ``async with`` and left with a
    ``break`` is an async generator its event loop owns: the loop closes it (``aclose``),
    which closes the engine. One read under ``async with`` is closed by the block, even
    while its iterator is still held."""
    emu, _ = await start_emulator(
        test_account(concurrency_limit=3), video_bytes=1000, duration=(0.3, 0.6)
    )
    paths = images(tmp_path / "in", 12)

    def engine_tasks() -> list[str]:
        names = (t.get_name() for t in asyncio.all_tasks())
        return [n for n in names if n.startswith(("kling-batch", "kling-submit"))]

    async with bounded(matrix), fast_client(emu) as client:
        todo = {folder: jobs(paths, prompt=f"run {folder}") for folder in ("a", "b")}
        left = client.batch(todo["a"], output_dir=tmp_path / "a", poll=FAST_POLL)
        async for _outcome in left:
            break  # the loop's iterator is dropped here; nobody calls aclose
        async with asyncio.timeout(10):
            await left.engine.wait_closed()
        assert engine_tasks() == []

        held = client.batch(todo["b"], output_dir=tmp_path / "b", poll=FAST_POLL)
        async with held:
            reading = aiter(held)
            first = await anext(reading)
            assert held.engine.running
        assert not held.engine.running  # the block closed the run, its iterator held or not
        assert engine_tasks() == []
        with pytest.raises(StopAsyncIteration):
            await anext(reading)  # closed with the run
        assert first.status is kling.OutcomeStatus.SUCCEEDED
        # both folders carry on where they stopped, nothing created twice
        for folder, todo_there in todo.items():
            again = await run(client, todo_there, tmp_path / folder)
            assert sum(statuses(again).get(s, 0) for s in ("succeeded", "skipped")) == 12
    assert emu.stats()["duplicate_creates"] == 0
    record(matrix, emu, 24, outside)


async def test_an_engine_used_without_async_with_starts_itself(
    start_emulator: StartEmulator, tmp_path: Path, matrix: dict[str, Any], outside: Path
) -> None:
    emu, _ = await start_emulator(video_bytes=1000)
    paths = images(tmp_path / "in", 3)
    async with bounded(matrix), fast_client(emu) as client:
        engine = kling.BatchEngine(client, tmp_path / "out", poll=FAST_POLL)
        for job in jobs(paths):
            await engine.submit(job)
        await engine.finish()
        outcomes = [o async for o in engine.outcomes()]
        await engine.close()
        with pytest.raises(RuntimeError, match="finish"):
            await engine.submit(jobs(paths)[0])
        closed = kling.BatchEngine(client, tmp_path / "out2")
        await closed.close()
        with pytest.raises(RuntimeError, match="closed"):
            await closed.submit(jobs(paths)[0])
    assert statuses(outcomes) == {"succeeded": 3}
    record(matrix, emu, 3, outside)


# -- money across runs ------------------------------------------------------------------------
async def test_a_lost_journal_still_reconciles_by_derived_external_ids(
    start_emulator: StartEmulator, tmp_path: Path, matrix: dict[str, Any], outside: Path
) -> None:
    emu, _ = await start_emulator(
        test_account(concurrency_limit=3), video_bytes=1000, duration=(0.8, 1.0)
    )
    paths = images(tmp_path / "in", 6)
    out = tmp_path / "out"
    async with bounded(matrix), fast_client(emu) as client:
        engine = kling.BatchEngine(client, out, poll=FAST_POLL)
        async with engine:
            for job in jobs(paths):
                await engine.submit(job)
            # creates beyond the three slots met 1303 (provably not created) and went out
            # again later: stop once every job has its task
            await until(lambda: emu.stats()["creates"] == 6 and engine.concurrency_limited > 0)
    for p in out.glob(".kling-journal*"):
        p.unlink()  # the journal is lost (a wiped disk, a fresh container)
    async with bounded(matrix), fast_client(emu) as client:  # this time without a 1303
        outcomes = await run(client, jobs(paths), out, max_in_flight=3)
    assert statuses(outcomes) == {"succeeded": 6}
    stats = emu.stats()
    assert (stats["creates"], stats["duplicate_creates"]) == (6, 0)
    # every job's derived id was refused as taken, and its task found: the ids of jobs that
    # met a 1303 first are derived as if it had not happened
    assert stats["errors_by_code"].get("1201", 0) == 6
    record(matrix, emu, 6, outside)


async def test_external_ids_with_url_characters_reconcile_to_their_own_tasks(
    start_emulator: StartEmulator, tmp_path: Path, matrix: dict[str, Any], outside: Path
) -> None:
    emu, _ = await start_emulator(video_bytes=1000)
    paths = images(tmp_path / "in", 2)
    todo = [
        kling.ImageToVideo(image=paths[0], prompt="a", external_task_id="job"),
        kling.ImageToVideo(image=paths[1], prompt="b", external_task_id="job?x=1#frag"),
    ]
    emu.inject("lost_create", count=2, route="create")  # both are found by their ids
    async with bounded(matrix), fast_client(emu) as client:
        outcomes = await run(client, todo, tmp_path / "out")
    assert statuses(outcomes) == {"succeeded": 2}
    by_external = {o.job.external_task_id: o.task for o in outcomes}
    assert by_external["job"] is not None
    assert by_external["job?x=1#frag"] is not None
    assert by_external["job"].task_id != by_external["job?x=1#frag"].task_id
    assert by_external["job?x=1#frag"].external_task_id == "job?x=1#frag"
    record(matrix, emu, 2, outside)


async def test_max_units_counts_what_earlier_runs_committed(
    start_emulator: StartEmulator, tmp_path: Path, matrix: dict[str, Any], outside: Path
) -> None:
    emu, _ = await start_emulator(video_bytes=1000)
    paths = images(tmp_path / "in", 12)
    out = tmp_path / "out"
    each = kling.batch.default_unit_cost(jobs(paths)[0])
    spent = []
    for round_ in range(4):  # four resumed runs, three new images each, a budget of 4 jobs
        todo = jobs(paths[3 * round_ : 3 * round_ + 3])
        async with bounded(matrix), fast_client(emu) as client:
            outcomes = await run(client, todo, out, max_units=4 * each)
        spent.append(statuses(outcomes).get("succeeded", 0))
        for o in outcomes:
            if o.status is kling.OutcomeStatus.FAILED:
                assert isinstance(o.error, kling.batch.NotSentError)
                assert "across runs" in str(o.error)
    assert spent == [3, 1, 0, 0]
    assert emu.stats()["creates"] == 4
    assert emu.stats()["units_charged"] == pytest.approx(4 * each)
    record(matrix, emu, 4, outside)


# -- the journal itself ------------------------------------------------------------------------
async def test_a_corrupt_journal_is_a_clear_error(
    start_emulator: StartEmulator, tmp_path: Path, matrix: dict[str, Any], outside: Path
) -> None:
    emu, _ = await start_emulator(video_bytes=1000)
    out = tmp_path / "out"
    out.mkdir()
    (out / ".kling-journal.db").write_bytes(b"this is not a database" * 100)
    async with bounded(matrix), fast_client(emu) as client:
        with pytest.raises(kling.JournalError) as caught:
            await run(client, jobs(images(tmp_path / "in", 1)), out)
    message = str(caught.value)
    assert ".kling-journal.db" in message
    assert "move it aside" in message
    assert not isinstance(caught.value, sqlite3.Error)
    assert emu.stats()["create_requests"] == 0
    record(matrix, emu, 0, outside)


async def test_an_old_journal_is_migrated_and_resumed(
    start_emulator: StartEmulator, tmp_path: Path, matrix: dict[str, Any], outside: Path
) -> None:
    emu, _ = await start_emulator(video_bytes=1000)
    paths = images(tmp_path / "in", 2)
    out = tmp_path / "out"
    out.mkdir()
    async with fast_client(emu) as client:
        done = await client.image_to_video.generate(
            image=paths[0], prompt="calm", output=out / "img000.mp4"
        )
        ids = [await kling.batch.job_identity(j) for j in jobs(paths)]
    # a journal as kling-async 0.1 wrote it: no version, paths relative to another directory
    conn = sqlite3.connect(out / ".kling-journal.db")
    conn.executescript(
        """CREATE TABLE jobs (job_id TEXT PRIMARY KEY, name TEXT NOT NULL, kind TEXT NOT NULL,
        state TEXT NOT NULL, external_task_id TEXT, task_id TEXT, output TEXT UNIQUE,
        error TEXT, units REAL, attempts INTEGER NOT NULL DEFAULT 0, updated REAL NOT NULL);"""
    )
    conn.execute(
        "INSERT INTO jobs VALUES (?, 'img000', 'image2video', 'done', NULL, 't', "
        "'elsewhere/out/img000.mp4', NULL, 1, 1, 0)",
        (ids[0],),
    )
    conn.commit()
    conn.close()
    async with bounded(matrix), fast_client(emu) as client:
        outcomes = await run(client, jobs(paths), out)
    assert statuses(outcomes) == {"skipped": 1, "succeeded": 1}
    assert done.exists()
    version = sqlite3.connect(out / ".kling-journal.db").execute("PRAGMA user_version")
    assert version.fetchone()[0] == 3  # 0.1 -> 2 -> 3 (money columns)
    record(matrix, emu, 2, outside)


# -- bad input rows ------------------------------------------------------------------------------
async def test_bad_manifest_rows_are_invalid_outcomes_not_an_abort(
    tmp_path: Path, matrix: dict[str, Any]
) -> None:
    from kling_async.cli.inputs import BadRow, read_manifest

    matrix["scenarios"] += 1
    images(tmp_path, 2)
    manifest = tmp_path / "rows.jsonl"
    rows = [
        json.dumps({"image": "img000.png"}),
        '{"image": "x\\u0000y.png"}',
        '{"image": ' + "[" * 50_000 + "]" * 50_000 + "}",
        json.dumps({"image": "img001.png"}),
    ]
    manifest.write_text("\n".join(rows) + "\n")
    read = list(read_manifest(manifest))
    assert len(read) == 4
    bad = [r for r in read if isinstance(r, BadRow)]
    assert [b.source for b in bad] == ["rows.jsonl:2", "rows.jsonl:3"]
    assert "NUL" in bad[0].reason or "null" in bad[0].reason


async def test_a_failed_lookup_leaves_the_create_unconfirmed_for_the_rerun(
    start_emulator: StartEmulator, tmp_path: Path, matrix: dict[str, Any], outside: Path
) -> None:
    emu, _ = await start_emulator(video_bytes=1000)
    paths = images(tmp_path / "in", 1)
    emu.inject("lost_create", route="create")  # created, the answer lost...
    emu.inject("5000", count=20, route="query")  # ...and the lookup by its id fails too
    async with bounded(matrix), fast_client(emu) as client:
        first = await run(client, jobs(paths), tmp_path / "out")
    assert statuses(first) == {"failed": 1}
    error = first[0].error
    assert isinstance(error, kling.CreateUnconfirmedError)
    emu.clear_faults()
    async with bounded(matrix), fast_client(emu) as client:
        second = await run(client, jobs(paths), tmp_path / "out")
    assert statuses(second) == {"succeeded": 1}
    assert second[0].task is not None
    assert second[0].task.external_task_id == error.external_task_id  # found, not re-created
    assert emu.stats()["creates"] == 1
    record(matrix, emu, 1, outside)


async def test_a_job_that_breaks_preparation_is_invalid_and_the_batch_goes_on(
    start_emulator: StartEmulator, tmp_path: Path, matrix: dict[str, Any], outside: Path
) -> None:
    emu, _ = await start_emulator(video_bytes=1000)
    paths = images(tmp_path / "in", 2)
    todo = [jobs(paths)[0], kling.ImageToVideo(image="x\x00y.png", prompt="calm"), jobs(paths)[1]]
    async with bounded(matrix), fast_client(emu) as client:
        outcomes = await run(client, todo, tmp_path / "out")
    assert statuses(outcomes) == {"succeeded": 2, "invalid": 1}
    bad = next(o for o in outcomes if o.status is kling.OutcomeStatus.INVALID)
    assert isinstance(bad.error, kling.ValidationError)
    record(matrix, emu, 2, outside)


async def test_a_name_taken_by_a_file_and_by_a_suffixed_job_gets_the_next_free_one(
    start_emulator: StartEmulator, tmp_path: Path, matrix: dict[str, Any], outside: Path
) -> None:
    emu, _ = await start_emulator(video_bytes=1000)
    folder = tmp_path / "in"
    [plain] = images(folder, 1, prefix="x")
    job_id = await kling.batch.job_identity(jobs([plain])[0])
    other = folder / f"{plain.stem}-{job_id[:8]}.png"  # an image named like x's suffixed name
    other.write_bytes(png(420, 300, (1, 2, 3)))
    out = tmp_path / "out"
    async with bounded(matrix), fast_client(emu) as client:
        first = await run(client, jobs([other]), out)
        (out / f"{plain.stem}.mp4").write_text("unrelated")
        second = await run(client, jobs([plain]), out)
        third = await run(client, jobs([plain]), out)  # and again: no IntegrityError
    assert [o.status.value for o in (*first, *second, *third)] == [
        "succeeded",
        "succeeded",
        "skipped",
    ]
    assert second[0].path == out / f"{plain.stem}-{job_id[:8]}-2.mp4"
    assert (out / f"{plain.stem}.mp4").read_text() == "unrelated"
    record(matrix, emu, 2, outside)
