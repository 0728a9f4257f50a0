"""``kling-async demo``: animate the bundled samples on an in-process emulator with the batch
engine. Each sample gets its own camera move (camera control needs kling-v1-5, pro, 5 s)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from ._samples import sample_paths
from .batch import OutcomeStatus, PollPolicy
from .client import KlingClient
from .emulator import Emulator, EmulatorConfig
from .models import CameraControl, ImageToVideo

#: One camera move per sample, so the demo shows what ``camera_control`` does.
CAMERA_MOVES: dict[str, str] = {
    "sunset": "zoom_in",
    "lighthouse": "tilt_up",
    "planet": "roll_clockwise",
}


def demo_jobs() -> list[ImageToVideo]:
    return [
        ImageToVideo(
            image=image,
            prompt=f"a gentle camera move over the {image.stem}",
            model="kling-v1-5",
            mode="pro",
            duration=5,
            camera_control=CameraControl.preset(CAMERA_MOVES.get(image.stem, "zoom_in")),
        )
        for image in sample_paths()
    ]


async def run_demo(out_dir: Path, echo: Callable[[str], None] = print) -> list[Path]:
    """Start an emulator with rendering on, animate every sample, return the mp4 paths."""
    config = EmulatorConfig(render=True, duration=(1.0, 2.5))
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
                move = CAMERA_MOVES.get(outcome.name, "")
                echo(f"  {outcome.name:<12} {move:<16} {outcome.status.value:<10} {outcome.path}")
                if outcome.status in (OutcomeStatus.SUCCEEDED, OutcomeStatus.SKIPPED):
                    assert outcome.path is not None
                    paths.append(outcome.path)
                else:
                    echo(f"    error: {outcome.error}")
    return paths
