"""``wait()`` and ``generate()`` look early and back off, and learn from the tasks they have
seen end how long tasks of that kind take (no fixed 30 s before the first look)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import kling_async as kling
from kling_async.emulator import EmulatorConfig

from .._helpers import API_KEY, StartEmulator, png, test_account


async def test_ten_generate_calls_end_within_one_and_a_half_the_longest_task(
    start_emulator: StartEmulator, tmp_path: Path
) -> None:
    clock = kling.VirtualClock()
    emu, _ = await start_emulator(
        test_account(), clock=clock, duration=EmulatorConfig().duration, video_bytes=1000
    )
    image = png()
    async with kling.KlingClient(api_key=API_KEY, base_url=emu.url, clock=clock) as client:
        start = clock.monotonic()
        await asyncio.gather(
            *(
                client.image_to_video.generate(
                    image=image, prompt=f"take {i}", output=tmp_path / f"{i}.mp4"
                )
                for i in range(10)
            )
        )
        elapsed = clock.monotonic() - start
    longest = max(emu.stats()["durations"])
    assert len(list(tmp_path.glob("*.mp4"))) == 10
    assert elapsed <= 1.5 * longest, (elapsed, longest)


async def test_a_second_generate_looks_first_when_the_first_one_ended(
    start_emulator: StartEmulator, tmp_path: Path
) -> None:
    clock = kling.VirtualClock()
    emu, _ = await start_emulator(test_account(), clock=clock, duration=(6.0, 6.0))
    async with kling.KlingClient(api_key=API_KEY, base_url=emu.url, clock=clock) as client:
        await client.image_to_video.generate(image=png(), prompt="a", output=tmp_path / "a.mp4")
        first = emu.stats()["single_queries"]
        await client.image_to_video.generate(image=png(), prompt="b", output=tmp_path / "b.mp4")
        second = emu.stats()["single_queries"] - first
    # the first: looks at 1, 2.5, 4.75, 8.1 s (it ended at 6); the second looks at 6 s first
    assert first >= 3
    assert second <= 2
