"""``kling-async demo``: animate the bundled samples on an in-process emulator with the batch
engine, one live model each: kling-v2-6 with native audio and kling-v3 with a three-shot
storyboard on the legacy API, kling-3.0-turbo on the new one."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path

from ._samples import sample_paths
from .batch import OutcomeStatus, PollPolicy
from .client import KlingClient
from .emulator import Emulator, EmulatorConfig
from .emulator._render import NO_PYAV, have_pyav
from .models import ImageToVideo, Shot

#: What each sample shows: (what the demo line says, the request's fields).
DEMO_SETUPS: dict[str, tuple[str, dict[str, object]]] = {
    "sunset": ("kling-v2-6 pro+audio", {"model": "kling-v2-6", "mode": "pro", "sound": True}),
    "lighthouse": (
        "kling-v3 3 shots",
        {
            "model": "kling-v3",
            "duration": 6,
            "multi_prompt": (
                Shot("the lighthouse at dusk", 2),
                Shot("its lamp sweeps the sea", 2),
                Shot("waves on the rocks", 2),
            ),
        },
    ),
    "planet": ("kling-3.0-turbo (new API)", {"model": "kling-3.0-turbo", "duration": 5}),
}


def demo_jobs() -> list[ImageToVideo]:
    jobs = []
    for image in sample_paths():
        _, fields = DEMO_SETUPS.get(image.stem, ("", {}))
        jobs.append(
            ImageToVideo(image=image, prompt=f"gentle motion over the {image.stem}", **fields)  # type: ignore[arg-type]
        )
    return jobs


async def run_demo(out_dir: Path, echo: Callable[[str], None] = print) -> list[Path]:
    """Start an emulator with rendering on, animate every sample, return the mp4 paths.

    Without PyAV the emulator serves its bundled sample clip for every video, and says so.
    """
    render = await asyncio.to_thread(have_pyav)  # importing PyAV is slow: off the loop
    if not render:
        echo(NO_PYAV)
    config = EmulatorConfig(render=render, duration=(1.0, 2.5))
    paths: list[Path] = []
    journal = out_dir / ".kling-journal.db"
    videos = [out_dir / f"{image.stem}.mp4" for image in sample_paths()]
    if not all(v.exists() for v in videos):
        # each demo starts a new emulator: an old run's task ids mean nothing to it, so the
        # demo starts over, replacing its own videos
        for stale in (journal, *journal.parent.glob(journal.name + "-*"), *videos):
            stale.unlink(missing_ok=True)
    async with Emulator(config) as emu:
        echo(f"emulator listening at {emu.url}")
        client = KlingClient(api_key=emu.credentials["KLING_API_KEY"], base_url=emu.url)
        async with client:
            run = client.batch(demo_jobs(), output_dir=out_dir, poll=PollPolicy(min_interval=0.25))
            async for outcome in run:
                what = DEMO_SETUPS.get(outcome.name, ("", {}))[0]
                echo(f"  {outcome.name:<12} {what:<26} {outcome.status.value:<10} {outcome.path}")
                if outcome.status in (OutcomeStatus.SUCCEEDED, OutcomeStatus.SKIPPED):
                    assert outcome.path is not None
                    paths.append(outcome.path)
                else:
                    echo(f"    error: {outcome.error}")
    return paths
