"""A caller's ``external_task_id`` names one job: an id another task has is reported as
``ExternalIdTakenError`` (never "may have reached the server"), two jobs of a batch with one
id and different content get one invalid, and a task found by an id is never taken for a job
whose content it was not made for — on both wires."""

from __future__ import annotations

from pathlib import Path

import pytest

import kling_async as kling
from kling_async.batch import content_hash
from kling_async.errors import ExternalIdTakenError
from kling_async.store import Journal

from .._helpers import StartEmulator, fast_client, png
from .test_batch import run

MODELS = ["kling-v2-6", "kling-3.0-turbo"]


def _two(tmp_path: Path, model: str, external_id: str) -> list[kling.ImageToVideo]:
    folder = tmp_path / "in"
    folder.mkdir(exist_ok=True)
    jobs = []
    for name, color in (("a", (200, 40, 40)), ("b", (40, 40, 200))):
        path = folder / f"{name}.png"
        path.write_bytes(png(480, 320, color))
        jobs.append(kling.ImageToVideo(image=path, model=model, external_task_id=external_id))
    return jobs


@pytest.mark.parametrize("model", MODELS)
async def test_an_id_another_task_has_is_external_id_taken_and_a_rerun_never_adopts_it(
    start_emulator: StartEmulator, tmp_path: Path, model: str
) -> None:
    emu, _ = await start_emulator(video_bytes=1000)
    a, b = _two(tmp_path, model, "shared-id-1")
    async with fast_client(emu) as client:
        first, _ = await run(client, [a], tmp_path / "out-a")
        assert [o.status for o in first] == [kling.OutcomeStatus.SUCCEEDED]
        for _ in range(2):  # the run, then its rerun
            outcomes, _ = await run(client, [b], tmp_path / "out-b")
            [outcome] = outcomes
            assert outcome.status is kling.OutcomeStatus.FAILED, outcome
            assert isinstance(outcome.error, ExternalIdTakenError), repr(outcome.error)
            assert "external_task_id 'shared-id-1' is used by another task" in str(outcome.error)
    assert list((tmp_path / "out-b").glob("*.mp4")) == []


@pytest.mark.parametrize("model", MODELS)
async def test_two_jobs_with_one_id_and_different_content_make_one_video_not_two_names(
    start_emulator: StartEmulator, tmp_path: Path, model: str
) -> None:
    emu, _ = await start_emulator(video_bytes=1000)
    jobs = _two(tmp_path, model, "shared-id-2")
    async with fast_client(emu) as client:
        outcomes, _ = await run(client, jobs, tmp_path / "out")
    statuses = sorted(o.status.value for o in outcomes)
    assert statuses == ["invalid", "succeeded"], outcomes
    [bad] = [o for o in outcomes if o.status is kling.OutcomeStatus.INVALID]
    assert isinstance(bad.error, kling.ValidationError)
    assert bad.error.field == "external_task_id"
    assert emu.stats()["create_requests"] == 1
    assert len(list((tmp_path / "out").glob("*.mp4"))) == 1


@pytest.mark.parametrize("model", MODELS)
async def test_a_task_found_by_id_for_a_job_of_other_content_is_not_adopted(
    start_emulator: StartEmulator, tmp_path: Path, model: str
) -> None:
    """The journal records the task under ``a``'s content; a crashed run left ``b`` as
    'submitting' under the same id: the rerun must not give ``b`` the video of ``a``."""
    emu, _ = await start_emulator(video_bytes=1000)
    a, b = _two(tmp_path, model, "shared-id-3")
    out = tmp_path / "out"
    async with fast_client(emu) as client:
        first, _ = await run(client, [a], out)
        assert [o.status for o in first] == [kling.OutcomeStatus.SUCCEEDED]
        journal = await Journal(out / ".kling-journal.db").open()
        try:
            b_id = content_hash(b)
            await journal.get_or_claim(b_id, "b", "image2video")
            await journal.update(
                b_id, kling.JobState.SUBMITTING, external_task_id="shared-id-3", attempts=1
            )
        finally:
            await journal.close()
        outcomes, _ = await run(client, [b], out)  # the id's owner is known from the journal
        both, _ = await run(client, [a, b], out)  # and when it is in the batch too
    [alone] = outcomes
    assert alone.status is kling.OutcomeStatus.FAILED, alone
    assert "'shared-id-3' — is used by another task" in str(alone.error)
    [again] = [o for o in both if o.name == "b"]  # refused as found, or as the batch's twin id
    assert again.status is not kling.OutcomeStatus.SUCCEEDED, again
    assert "'shared-id-3' — is" in str(again.error)
    assert [o.status for o in both if o.name == "a"] == [kling.OutcomeStatus.SKIPPED]
    assert not (out / "b.mp4").exists()
    assert emu.stats()["creates"] == 1
