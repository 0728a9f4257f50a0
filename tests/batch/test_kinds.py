"""Every kind of video job in one batch: image and text to video (both wires), omni video
(reference images, a base video) and motion control, each created exactly once, its video
downloaded under its name, and nothing created again by a rerun. Jobs' identities of the
kinds 0.1 already ran stay what they were, so a journal from then never bills twice."""

from __future__ import annotations

from pathlib import Path

import pytest

import kling_async as kling
from kling_async.batch import content_hash, default_unit_cost
from kling_async.models import Element, Shot, Voice
from kling_async.validation import AnyRequest
from kling_async.video_requests import ReferenceImage, ReferenceVideo

from .._helpers import StartEmulator, fast_client, png, test_account
from .test_batch import check_files, run


def _image(folder: Path, name: str, color: tuple[int, int, int]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.png"
    path.write_bytes(png(640, 360, color))
    return path


def _mixed(folder: Path) -> list[AnyRequest]:
    beach = _image(folder, "beach", (200, 120, 40))
    cat = _image(folder, "cat", (40, 120, 200))
    dancer = _image(folder, "dancer", (120, 200, 40))
    return [
        kling.ImageToVideo(
            image=beach,
            model="kling-3.0",
            elements=[Element(101), Element(102)],
            multi_prompt=[Shot("waves @element_1", 2), Shot("gulls", 2), Shot("sunset", 1)],
            duration=5,
        ),
        kling.OmniVideo(
            model="kling-3.0-omni",
            prompt="the cat of @image_1 walks on the beach of @image_2",
            images=[ReferenceImage(cat), beach],
            duration=5,
        ),
        kling.OmniVideo(
            model="kling-o1",
            prompt="make @video_1 look like autumn",
            video=ReferenceVideo("https://example.com/base.mp4", "base"),
        ),
        kling.MotionControl(
            model="kling-3.0",
            image=dancer,
            video_url="https://example.com/moves.mp4",
            character_orientation="video",
        ),
        kling.TextToVideo(prompt="a lighthouse at night", model="kling-v2-6"),
    ]


async def test_every_video_kind_runs_in_one_batch_once_and_a_rerun_creates_nothing(
    start_emulator: StartEmulator, tmp_path: Path
) -> None:
    emu, _ = await start_emulator(video_bytes=1000)
    jobs = _mixed(tmp_path / "in")
    out = tmp_path / "out"
    async with fast_client(emu) as client:
        outcomes, summary = await run(client, jobs, out)
        assert sorted(o.status.value for o in outcomes) == ["succeeded"] * 5, outcomes
        await check_files(emu, outcomes, out)
        by_kind = {type(o.job).__name__ + (o.job.model or ""): o for o in outcomes}
        # names come from the job's first local image; the rest from its content hash
        assert by_kind["ImageToVideokling-3.0"].name == "beach"
        assert by_kind["OmniVideokling-3.0-omni"].name == "cat"
        assert by_kind["MotionControlkling-3.0"].name == "dancer"
        assert by_kind["OmniVideokling-o1"].name.startswith("job-")
        assert emu.stats()["create_requests"] == 5
        assert summary.counts["succeeded"] == 5
        again, _ = await run(client, jobs, out)
        assert sorted(o.status.value for o in again) == ["skipped"] * 5, again
    assert emu.stats()["create_requests"] == 5
    assert len(list(out.glob("*.mp4"))) == 5


async def test_an_omni_job_is_a_new_job_when_a_reference_image_changes(tmp_path: Path) -> None:
    cat = _image(tmp_path, "cat", (40, 120, 200))
    job = kling.OmniVideo(prompt="@image_1 sleeps", images=[cat], duration=5)
    before = content_hash(job)
    assert content_hash(kling.OmniVideo(prompt="@image_1 sleeps", images=[cat], duration=5)) == (
        before
    )
    cat.write_bytes(png(640, 360, (1, 2, 3)))
    assert content_hash(job) != before
    labelled = kling.OmniVideo(
        prompt="@image_1 sleeps", images=[ReferenceImage(cat, id="pet")], duration=5
    )
    assert content_hash(labelled) != content_hash(job)


#: Identities 0.1 computed for these jobs: a journal it wrote must find its jobs again.
PINNED = [
    (
        kling.ImageToVideo(
            image=b"\x89PNG fake bytes", prompt="a cat", model="kling-v3", duration=5
        ),
        "0f9a4e74f38dac7375bc59afc65fb431e72124cf22bce4d07ac1b1f73c0ffa6d",
    ),
    (
        kling.ImageToVideo(
            image="https://example.com/a.png",
            image_tail=b"tail",
            model="kling-v2-6",
            mode="pro",
            sound=True,
            voices=[Voice("v1")],
            duration=10,
        ),
        "3b8b5fd3cf094bb3dee48e41ae5d863ca21bec49638b145b0d631c9d224e397f",
    ),
    (
        kling.TextToVideo(
            prompt="a dog",
            model="kling-v3",
            duration=8,
            aspect_ratio="9:16",
            multi_prompt=[Shot("one", 4), Shot("two", 4)],
        ),
        "da4535f78005e70ba8c3c668f6049c539e2524b8d341db0f0194c5ed4b0d2f1e",
    ),
    (
        kling.ImageToVideo(
            image=b"img", model="kling-3.0", elements=[Element(12)], external_task_id="x1"
        ),
        "635c501a6dfa2e25dbfc0e7eedaf254f71e89448bfeb8d9cbdebc9581c82e637",
    ),
]


@pytest.mark.parametrize(("job", "identity"), PINNED)
def test_identities_of_the_kinds_0_1_ran_are_unchanged(job: AnyRequest, identity: str) -> None:
    assert content_hash(job) == identity


@pytest.mark.parametrize(
    ("job", "units"),
    [
        # kling-pricing-video: 3.0 Omni 1080p with a video input 1.2/s; O1 720p 0.6/s
        (
            kling.OmniVideo(
                mode="pro", prompt="x", duration=10, video=ReferenceVideo("https://e/v.mp4")
            ),
            12.0,
        ),
        (kling.OmniVideo(model="kling-o1", prompt="x", duration=5), 3.0),
        # a base video's length is not known: counted at the model's longest (O1: 10 s)
        (
            kling.OmniVideo(
                model="kling-o1", prompt="x", video=ReferenceVideo("https://e/v.mp4", "base")
            ),
            9.0,
        ),
        # motion control: the reference video's longest (30 s; 10 s keeping the image's way)
        (kling.MotionControl(model="kling-3.0", mode="pro", character_orientation="video"), 36.0),
        (kling.MotionControl(model="kling-2.6", character_orientation="image"), 5.0),
        # kling-pricing-image: Image 3.0 8 a picture; 2.1 text to image 4, image to image 8
        (kling.ImageGeneration(prompt="x", n=4), 32.0),
        (kling.ImageGeneration(model="kling-v2-1", prompt="x", n=2), 8.0),
        (kling.ImageGeneration(model="kling-v2-1", image="https://e/i.png", n=2), 16.0),
    ],
)
def test_every_kind_has_its_expected_units(job: AnyRequest, units: float) -> None:
    assert default_unit_cost(job) == pytest.approx(units)


async def test_creates_on_their_way_hold_no_more_image_bytes_than_the_budget(
    start_emulator: StartEmulator, tmp_path: Path
) -> None:
    """Memory follows ``create_memory``, not ``max_in_flight`` times image size: 16 jobs of
    1 MiB images with room for all at once hold at most 2.5 MiB of images on their way
    (without the budget every create read its image at once)."""
    folder = tmp_path / "in"
    folder.mkdir()
    jobs = []
    for i in range(16):
        path = folder / f"big{i:02d}.png"
        path.write_bytes(png(640, 360, (i, 9, 9)) + bytes(1 << 20))  # 1 MiB after the image
        jobs.append(kling.ImageToVideo(image=path, model="kling-v2-6"))
    budget = 5 << 19  # 2.5 MiB: two images at a time
    emu, _ = await start_emulator(test_account(concurrency_limit=16), video_bytes=1000)
    async with fast_client(emu) as client:
        engine = kling.BatchEngine(
            client, tmp_path / "out", max_in_flight=16, initial_window=16, create_memory=budget
        )
        async with engine:
            for job in jobs:
                await engine.submit(job)
            await engine.finish()
            outcomes = [o async for o in engine.outcomes()]
        peak = engine.submitter.budget.peak
    assert [o.status.value for o in outcomes] == ["succeeded"] * 16
    assert (1 << 20) < peak <= budget
    assert emu.stats()["create_requests"] == 16
