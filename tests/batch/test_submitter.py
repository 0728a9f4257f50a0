"""The money path of the batch on its own: the submitter makes the one decision about a
create that made no task (the verdict, the units, the row), and the engine only routes it."""

from __future__ import annotations

from pathlib import Path

import attrs

import kling_async as kling
from kling_async.batch._submitter import Attempt, Created, Refused, Submitter, Verdict
from kling_async.states import JobState

# the submitter and its result types are the engine's inner parts, tested here on their own
from kling_async.store import Journal
from kling_async.validation import validate

from .._helpers import StartEmulator, fast_client, png


async def test_each_create_without_a_task_is_decided_once_with_its_row_and_units(
    start_emulator: StartEmulator, tmp_path: Path
) -> None:
    emu, _ = await start_emulator(video_bytes=1000)
    journal = Journal(tmp_path / "journal.db", folder=tmp_path)
    await journal.open()
    try:
        async with fast_client(emu) as client:
            submitter = Submitter(
                journal, attrs.evolve(client.retry, retry_concurrency_limit=False)
            )

            async def send(prompt: str) -> tuple[Attempt, object]:
                image = tmp_path / f"{prompt}.png"
                image.write_bytes(png(400, 300))
                job = kling.ImageToVideo(image=image, prompt=prompt)
                job_id = await kling.batch.job_identity(job)
                record = await journal.get_or_claim(job_id, prompt, "image2video")
                plan = await validate(job)
                attempt = Attempt(job, job_id, plan, record, client.image_to_video, cost=1.5)
                return attempt, await submitter.submit(attempt)

            async def row(attempt: Attempt) -> str:
                return (await journal.get_or_claim(attempt.job_id, "x", "image2video")).state

            # a 1303: nothing created; back in line, the row pending with its id kept
            emu.inject("1303", route="create")
            attempt, result = await send("limited")
            assert isinstance(result, Refused)
            assert (result.verdict, result.spent) == (Verdict.AGAIN, False)
            assert isinstance(result.error, kling.ConcurrencyLimitError)
            assert await row(attempt) == JobState.PENDING
            assert result.record.state == JobState.PENDING
            assert result.record.external_task_id == attempt.external_id

            # created, its answer lost, and the lookup by its id fails too: the units stay
            # spent and the row 'submitting' (the next run looks before it sends)
            emu.inject("lost_create", route="create")
            emu.inject("5000", count=20, route="query")
            attempt, result = await send("unconfirmed")
            emu.clear_faults()
            assert isinstance(result, Refused)
            assert (result.verdict, result.spent) == (Verdict.FAILED, True)
            assert isinstance(result.error, kling.CreateUnconfirmedError)
            assert await row(attempt) == JobState.SUBMITTING

            # broken before the POST (its image gone): nothing sent, the row as it was
            gone = tmp_path / "gone.png"
            gone.write_bytes(png(400, 300))
            job = kling.ImageToVideo(image=gone, prompt="gone")
            job_id = await kling.batch.job_identity(job)
            record = await journal.get_or_claim(job_id, "gone", "image2video")
            plan = await validate(job)
            gone.unlink()
            attempt = Attempt(job, job_id, plan, record, client.image_to_video, cost=1.5)
            result = await submitter.submit(attempt)
            assert isinstance(result, Refused)
            assert (result.verdict, result.spent, attempt.sent) == (Verdict.FAILED, False, False)
            assert await row(attempt) == JobState.PENDING

            # and a create that goes through
            attempt, result = await send("fine")
            assert isinstance(result, Created)
            assert await row(attempt) == JobState.SUBMITTING  # 'submitted' is the engine's
    finally:
        await journal.close()
    stats = emu.stats()
    assert stats["creates"] == 2  # the unconfirmed one and the fine one
    assert stats["duplicate_creates"] == 0
