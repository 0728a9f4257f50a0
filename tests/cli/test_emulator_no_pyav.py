"""Without PyAV (a plain ``pip install kling-async``): the demo and the emulator still hand out
playable mp4s — the bundled sample clip — and say so in one line, never with a traceback."""

from __future__ import annotations

import asyncio
import io
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import aiohttp
import av
import pytest
from click.testing import CliRunner

from kling_async.cli import _emulator_cmd
from kling_async.cli._emulator_cmd import emulator_command
from kling_async.emulator import NO_PYAV, EmulatorConfig

from .._helpers import sample_paths

#: Runs the command line in a Python where ``import av`` raises ImportError.
NO_AV = [
    sys.executable,
    "-c",
    "import sys; sys.modules['av'] = None; from kling_async.cli import main; main()",
]


def assert_playable(data: bytes, size: tuple[int, int]) -> None:
    """An mp4 (its ``ftyp`` box first) that PyAV decodes, at ``size``."""
    assert data[4:8] == b"ftyp"
    with av.open(io.BytesIO(data)) as container:
        frames = list(container.decode(video=0))
    assert len(frames) == 120  # the clip: 5 s at 24 fps
    assert (frames[0].width, frames[0].height) == size


def test_demo_without_pyav_writes_the_sample_clip_and_says_so(tmp_path: Path) -> None:
    out = tmp_path / "videos"
    done = subprocess.run(
        [*NO_AV, "demo", "--out", str(out)], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert "Traceback" not in done.stderr + done.stdout
    assert (done.stdout + done.stderr).count(NO_PYAV) == 1
    assert f"3 videos in {out.resolve()}" in done.stdout
    # each sample gets the clip nearest its shape: sunset is wide, lighthouse tall, planet square
    sizes = {"sunset": (480, 270), "lighthouse": (270, 480), "planet": (360, 360)}
    for image in sample_paths():
        assert_playable((out / f"{image.stem}.mp4").read_bytes(), sizes[image.stem])


async def test_emulator_command_without_pyav_serves_the_clip_for_render() -> None:
    args = ["emulator", "--render", "--duration", "0.05:0.05", "--api-key", "k"]
    proc = await asyncio.create_subprocess_exec(
        *NO_AV, *args, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    try:
        assert proc.stdout is not None
        env = {}
        for _ in range(4):  # KLING_BASE_URL, the keys: bounded by the shell contract
            line = await asyncio.wait_for(proc.stdout.readline(), 30)
            name, _, value = line.decode().strip().partition("=")
            env[name] = value
        base, auth = env["KLING_BASE_URL"], {"Authorization": "Bearer k"}
        async with aiohttp.ClientSession() as s:
            body = {"model_name": "kling-v2-6", "prompt": "a kite", "aspect_ratio": "9:16"}
            async with s.post(f"{base}/v1/videos/text2video", json=body, headers=auth) as r:
                task_url = f"{base}/v1/videos/text2video/{(await r.json())['data']['task_id']}"
            for _ in range(100):  # bounded: 100 polls of 0.05 s
                async with s.get(task_url, headers=auth) as r:
                    task = (await r.json())["data"]
                if task["task_status"] == "succeed":
                    break
                await asyncio.sleep(0.05)
            async with s.get(task["task_result"]["videos"][0]["url"]) as r:
                assert r.status == 200
                data = await r.read()
        assert_playable(data, (270, 480))
    finally:
        if proc.returncode is None:
            proc.send_signal(signal.SIGINT)
        try:
            _, err = await asyncio.wait_for(proc.communicate(), 30)
        except TimeoutError:
            proc.kill()
            await proc.wait()
            raise
    assert proc.returncode == 0
    assert err.decode().splitlines() == [NO_PYAV]  # one line, no traceback


@pytest.mark.parametrize(
    ("args", "says"),
    [
        ([], "videos: a bundled sample clip for every task (--render to animate the images)"),
        (["--video-bytes", "1000"], "videos: 1000 filler bytes each, not playable (--video-bytes)"),
        (["--render"], "videos: rendered from each task's image (H.264 mp4)"),
    ],
)
def test_emulator_command_says_what_its_videos_are(
    monkeypatch: pytest.MonkeyPatch, args: list[str], says: str
) -> None:
    served: list[EmulatorConfig] = []

    async def serve(config: EmulatorConfig, announce: Any) -> None:  # instead of serving forever
        served.append(config)

    monkeypatch.setattr(_emulator_cmd, "serve", serve)
    result = CliRunner().invoke(emulator_command, args)
    assert result.exit_code == 0, result.output
    assert result.stderr.splitlines() == [says]
    assert result.stdout == ""  # stdout is the shell contract: KLING_* lines only
    (config,) = served
    assert (config.render, config.video_bytes) == ("--render" in args, 1000 if args[1:] else None)
