"""Where a task's callbacks go is not what its job makes: ``animate --listen HOST:0`` tells
Kling another port each run, and a rerun must resume, not make (and pay) every video again."""

from __future__ import annotations

from pathlib import Path

import kling_async as kling
from kling_async.batch import content_hash
from kling_async.store import Journal

from .._helpers import StartEmulator, fast_client, png
from .test_batch import run


def test_the_callback_url_is_not_part_of_a_jobs_identity() -> None:
    def job(**changes: str) -> kling.ImageToVideo:
        fields = {"image": "https://img.test/a.png", "prompt": "waves", **changes}
        return kling.ImageToVideo(**fields)

    plain = content_hash(job())
    assert content_hash(job(callback_url="http://127.0.0.1:41234/kling")) == plain
    assert content_hash(job(callback_url="https://my-host.example/kling")) == plain
    assert content_hash(job(prompt="calm")) != plain  # what it makes still counts


async def test_a_job_an_older_version_recorded_with_its_callback_url_is_not_made_again(
    start_emulator: StartEmulator, tmp_path: Path
) -> None:
    """Versions before 0.2 counted the callback URL in a job's identity: a journal they wrote
    holds the job under that identity, and the rerun finds it there (0 creates)."""
    emu, _ = await start_emulator(video_bytes=1000)
    image = tmp_path / "cat.png"
    image.write_bytes(png())
    job = kling.ImageToVideo(image=image, callback_url="https://hooks.example/kling")
    out = tmp_path / "out"
    async with fast_client(emu) as client:
        task = await client.image_to_video.create(job)
        done = await client.image_to_video.wait(task, timeout=30)
        old_id = content_hash(job, with_callback_url=True)
        assert old_id != content_hash(job)
        journal = await Journal(out / ".kling-journal.db", out).open()
        try:  # what the older version left: the task made and recorded, its video not fetched
            await journal.get_or_claim(old_id, "cat", "image2video")
            await journal.update(old_id, kling.JobState.FINISHED, task_id=done.task_id, attempts=1)
        finally:
            await journal.close()
        outcomes, _ = await run(client, [job], out)
    [outcome] = outcomes
    assert outcome.status is kling.OutcomeStatus.SUCCEEDED, outcome
    assert outcome.job_id == old_id
    assert outcome.task_id == done.task_id
    assert emu.stats()["create_requests"] == 1  # the one made above: none by the rerun
    assert (out / "cat.mp4").is_file()
