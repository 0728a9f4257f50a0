"""``kling-async demo``: animate the bundled samples on an in-process emulator with the SDK.

Each sample gets its own camera move (camera control needs kling-v1-5, pro, 5 s). The batch
engine will take over the fan-out once it lands; for now the samples run side by side through
``client.image_to_video.generate``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path

from ._samples import sample_paths
from .client import KlingClient
from .emulator import Emulator, EmulatorConfig
from .models import CameraControl, Task
from .resources import WaitPolicy

#: One camera move per sample, so the demo shows what ``camera_control`` does.
CAMERA_MOVES: dict[str, str] = {
    "sunset": "zoom_in",
    "lighthouse": "tilt_up",
    "planet": "roll_clockwise",
}


async def run_demo(out_dir: Path, echo: Callable[[str], None] = print) -> list[Path]:
    """Start an emulator with rendering on, animate every sample, return the mp4 paths."""
    config = EmulatorConfig(render=True, duration=(1.0, 2.5))
    async with Emulator(config) as emu:
        env = emu.credentials
        echo(f"emulator listening at {emu.url}")
        wait = WaitPolicy(first_poll=0.5, min_interval=0.25, max_interval=1.0, timeout=120)
        async with KlingClient(
            access_key=env["KLING_ACCESS_KEY"],
            secret_key=env["KLING_SECRET_KEY"],
            base_url=emu.url,
            wait=wait,
        ) as client:

            async def animate(image: Path) -> Path:
                move = CAMERA_MOVES.get(image.stem, "zoom_in")

                def progress(task: Task) -> None:
                    echo(f"  {image.name:<16} {move:<16} {task.status.value}")

                return await client.image_to_video.generate(
                    image=image,
                    prompt=f"a gentle camera move over the {image.stem}",
                    model="kling-v1-5",
                    mode="pro",
                    duration=5,
                    camera_control=CameraControl.preset(move),
                    output=out_dir / f"{image.stem}.mp4",
                    on_progress=progress,
                )

            paths = await asyncio.gather(*(animate(p) for p in sample_paths()))
    for path in paths:
        echo(f"  wrote {path}  ({path.stat().st_size:,} bytes)")
    return list(paths)
