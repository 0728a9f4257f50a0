"""Image jobs in a batch: each job's images land in a folder of its own (claimed like a
video's name), created exactly once; a rerun creates and downloads nothing, and one after
a crash mid-download fetches only the missing images. An image task of n images holds n
slots of its family's window (the local one, or the shared one of ``RedisGovernor``): with
an account limit of 4, jobs of 3 images never draw a 1303 from the engine's own counting."""

from __future__ import annotations

import io
from pathlib import Path

from PIL import Image

import kling_async as kling
from kling_async.governor import ConcurrencyWindow
from kling_async.states import JobState
from kling_async.store import Journal

from .._helpers import StartEmulator, fast_client, test_account
from .._redis_server import RedisServer
from .test_batch import run


def _images_in(folder: Path) -> list[str]:
    names = sorted(p.name for p in folder.iterdir())
    for name in names:
        with Image.open(io.BytesIO((folder / name).read_bytes())) as image:
            image.load()  # decodable
    return names


async def test_image_and_video_jobs_in_one_batch_each_created_once(
    start_emulator: StartEmulator, tmp_path: Path
) -> None:
    emu, _ = await start_emulator(video_bytes=1000)
    jobs = [
        kling.ImageGeneration(prompt="a red fox in snow", n=2),
        kling.ImageGeneration(prompt="a blue whale", n=3, model="kling-v2-1"),
        kling.TextToVideo(prompt="a lighthouse at night", model="kling-v2-6"),
        kling.TextToVideo(prompt="a harbour at dawn", model="kling-v2-6"),
    ]
    out = tmp_path / "out"
    async with fast_client(emu) as client:
        outcomes, _ = await run(client, jobs, out)
        assert sorted(o.status.value for o in outcomes) == ["succeeded"] * 4, outcomes
        assert emu.stats()["create_requests"] == 4
        folders = {o.job.n: o.path for o in outcomes if isinstance(o.job, kling.ImageGeneration)}
        assert folders[2] is not None
        assert folders[3] is not None
        assert _images_in(folders[2]) == ["0.png", "1.png"]
        assert _images_in(folders[3]) == ["0.png", "1.png", "2.png"]
        videos = [o.path for o in outcomes if isinstance(o.job, kling.TextToVideo)]
        assert all(p is not None and p.is_file() and p.suffix == ".mp4" for p in videos)
        assert not list(out.rglob("*.part*"))

        # a rerun: nothing created, nothing downloaded, the same paths
        before = emu.stats()["requests"]
        again, _ = await run(client, jobs, out)
        assert sorted(o.status.value for o in again) == ["skipped"] * 4
        assert {o.path for o in again} == {o.path for o in outcomes}
        assert emu.stats()["create_requests"] == 4
        assert emu.stats()["requests"] == before  # not even a look at a task


async def test_a_rerun_after_a_lost_image_fetches_only_the_missing_one(
    start_emulator: StartEmulator, tmp_path: Path
) -> None:
    emu, _ = await start_emulator()
    job = kling.ImageGeneration(prompt="three pears", n=3)
    out = tmp_path / "out"
    async with fast_client(emu) as client:
        (first,), _ = await run(client, [job], out)
        assert first.status is kling.OutcomeStatus.SUCCEEDED
        assert first.path is not None
        kept = (first.path / "0.png").stat().st_mtime_ns
        (first.path / "2.png").unlink()  # as if the run had died before its last image
        # the journal still says 'done': a done job whose output is incomplete is only
        # re-fetched when the journal says 'finished' (what a crash mid-download leaves)
        journal = Journal(out / ".kling-journal.db", folder=out)
        await journal.open()
        try:
            await journal.update(first.job_id, JobState.FINISHED)
        finally:
            await journal.close()
        (second,), _ = await run(client, [job], out)
        assert second.status is kling.OutcomeStatus.SUCCEEDED
        assert second.path == first.path
        assert _images_in(first.path) == ["0.png", "1.png", "2.png"]
        assert (first.path / "0.png").stat().st_mtime_ns == kept  # not fetched again
        assert emu.stats()["create_requests"] == 1


async def test_image_jobs_hold_n_slots_and_never_exceed_the_account(
    start_emulator: StartEmulator, tmp_path: Path
) -> None:
    emu, _ = await start_emulator(test_account(concurrency_limit=4), duration=(0.2, 0.4))
    jobs = [kling.ImageGeneration(prompt=f"still life {i}", n=3) for i in range(5)]
    async with fast_client(emu) as client:
        outcomes, summary = await run(client, jobs, tmp_path / "out")
        assert [o.status.value for o in outcomes] == ["succeeded"] * 5, outcomes
        stats = emu.stats()
        assert stats["max_in_flight"] == 3  # one task of 3 at a time: 6 would be over 4
        assert stats.get("concurrency_limited_1303", 0) == 0
        assert summary.concurrency_limited == 0
        assert stats["create_requests"] == 5


async def test_the_window_counts_slots_and_lets_an_oversized_task_go_alone() -> None:
    window = ConcurrencyWindow(initial=4)
    assert window.has_room(3)
    window.take(3)
    assert window.has_room(1)
    assert not window.has_room(2)
    await window.answered(3)
    await window.release(count=3)
    assert window.in_flight == 0
    assert window.has_room(9)  # more than the limit, but nothing else in flight
    window.take(9)
    assert not window.has_room(1)
    await window.over_limit(9)
    assert window.in_flight == 0
    assert window.limited == 1


async def test_a_job_of_more_images_than_the_account_holds_fails_once_not_forever(
    start_emulator: StartEmulator, tmp_path: Path
) -> None:
    emu, _ = await start_emulator(test_account(concurrency_limit=4))
    jobs = [kling.ImageGeneration(prompt="nine plums", n=9), kling.ImageGeneration(prompt="a plum")]
    async with fast_client(emu) as client:
        outcomes, _ = await run(client, jobs, tmp_path / "out")
    by_n = {o.job.n: o for o in outcomes if isinstance(o.job, kling.ImageGeneration)}
    assert by_n[1].status is kling.OutcomeStatus.SUCCEEDED
    assert by_n[9].status is kling.OutcomeStatus.FAILED
    assert isinstance(by_n[9].error, kling.ValidationError)
    assert "needs 9 parallel-task slots" in str(by_n[9].error)
    assert emu.stats()["concurrency_limited_1303"] <= 2  # refused alone, then not sent again


async def test_a_redis_governed_batch_holds_n_shared_slots_for_an_image_job(
    start_emulator: StartEmulator, tmp_path: Path, redis_server: RedisServer
) -> None:
    """An image job of 3 beside single-image and video jobs on an account of limit 4: the
    shared window takes its 3 slots at once and counts them, beside the others."""
    emu, _ = await start_emulator(test_account(concurrency_limit=4), duration=(0.2, 0.4))
    jobs: list[kling.Job] = [
        kling.ImageGeneration(prompt="three figs", n=3),
        *(kling.ImageGeneration(prompt=f"a fig {i}") for i in range(3)),
        *(kling.TextToVideo(prompt=f"an orchard {i}", model="kling-v2-6") for i in range(5)),
    ]
    governor = kling.RedisGovernor(redis_server.url)
    async with fast_client(emu, governor=governor) as client:
        outcomes, summary = await run(client, jobs, tmp_path / "out")
    assert [o.status.value for o in outcomes] == ["succeeded"] * len(jobs), outcomes
    (three,) = (o for o in outcomes if isinstance(o.job, kling.ImageGeneration) and o.job.n == 3)
    assert three.path is not None
    assert _images_in(three.path) == ["0.png", "1.png", "2.png"]
    stats = emu.stats()
    assert stats["max_in_flight"] <= 4
    assert all(held <= 4 for held in stats["max_in_flight_by_family"].values())
    # slow start grows each family's window past the account's 4 until one 1303 (one per
    # family at most); that 1303 teaches the limit in slots: counting leases, the image
    # family would learn 2 or 3 (the task of 3 and a single image hold 4 slots)
    assert stats.get("concurrency_limited_1303", 0) == summary.concurrency_limited <= 2
    print(f"\nlearned {summary.learned_limits}, {summary.concurrency_limited} 1303s")
    assert all(limit is None or limit >= 4 for limit in summary.learned_limits.values())
    assert stats["create_requests"] == len(jobs) + summary.concurrency_limited


async def test_under_redis_a_job_of_more_images_than_the_account_holds_fails_once(
    start_emulator: StartEmulator, tmp_path: Path, redis_server: RedisServer
) -> None:
    emu, _ = await start_emulator(test_account(concurrency_limit=4))
    jobs = [kling.ImageGeneration(prompt="nine plums", n=9), kling.ImageGeneration(prompt="a plum")]
    governor = kling.RedisGovernor(redis_server.url)
    async with fast_client(emu, governor=governor) as client:
        outcomes, _ = await run(client, jobs, tmp_path / "out")
    by_n = {o.job.n: o for o in outcomes if isinstance(o.job, kling.ImageGeneration)}
    assert by_n[1].status is kling.OutcomeStatus.SUCCEEDED
    assert by_n[9].status is kling.OutcomeStatus.FAILED
    assert isinstance(by_n[9].error, kling.ValidationError)
    assert "needs 9 parallel-task slots" in str(by_n[9].error)  # the local governor's error
    assert emu.stats()["concurrency_limited_1303"] <= 2  # refused alone, then not sent again


async def test_a_named_image_job_gets_its_folder_in_a_sub_folder(
    start_emulator: StartEmulator, tmp_path: Path
) -> None:
    emu, _ = await start_emulator()
    out = tmp_path / "out"
    (out / "sets").mkdir(parents=True)
    (out / "sets" / "figs").write_bytes(b"someone else's file")  # the name is taken
    job = kling.ImageGeneration(prompt="two figs", n=2)
    async with fast_client(emu) as client:
        (outcome,), _ = await run(client, [job], out, name=lambda _: "sets/figs")
    assert outcome.status is kling.OutcomeStatus.SUCCEEDED
    assert outcome.path is not None
    assert outcome.path.parent == out / "sets"
    assert outcome.path.name.startswith("figs-")  # a free name, as a video's would be
    assert _images_in(outcome.path) == ["0.png", "1.png"]
    assert (out / "sets" / "figs").read_bytes() == b"someone else's file"
