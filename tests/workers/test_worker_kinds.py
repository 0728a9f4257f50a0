"""Every kind a local batch runs also runs on queue workers: an omni video, a motion control
and an image generation of two images, enqueued by ``animate --manifest --redis``, made once
each by a cluster of worker processes at the paths a local run writes; a rerun creates none.

Exactly once is counted on the emulator, never from the workers' own reports.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
from pathlib import Path

import pytest
from PIL import Image

from .._helpers import CLI, png
from .._redis_server import RedisServer
from .._worker_cluster import Cluster, created
from .test_workers import _cli_env, _emulator

pytestmark = pytest.mark.timeout(90)

MANIFEST = (
    "kind,image,prompt,model,images,video_url,character_orientation,duration,n\n"
    "omni_video,,the cat of @image_1 on @image_2,kling-3.0-omni,cat.png;beach.png,,,5,\n"
    "motion_control,dancer.png,,kling-3.0,,https://example.com/moves.mp4,video,,\n"
    "images,,a red kite over the sea,kling-v3,,,,,2\n"
)


def _manifest(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name, color in (("beach", (200, 120, 40)), ("cat", (40, 120, 200)), ("dancer", (9, 9, 9))):
        (folder / f"{name}.png").write_bytes(png(640, 360, color))
    manifest = folder / "mixed.csv"
    manifest.write_text(MANIFEST, encoding="utf-8")
    return manifest


def _files(folder: Path) -> list[str]:
    """Every file a run left in its output folder (its own records aside), relative."""
    return sorted(
        p.relative_to(folder).as_posix()
        for p in folder.rglob("*")
        if p.is_file() and not any(part.startswith(".") for part in p.relative_to(folder).parts)
    )


def _run(command: list[str]) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(command, env=_cli_env(), capture_output=True, timeout=60)


async def test_omni_motion_and_image_jobs_run_on_workers_as_a_local_run_makes_them(
    redis_server: RedisServer, tmp_path: Path
) -> None:
    manifest = _manifest(tmp_path / "in")
    out = tmp_path / "out"
    animate = [*CLI, "animate", "--manifest", str(manifest), "--out", str(out), "--json"]
    with _emulator((0.2, 0.4)) as emu:
        cluster = Cluster(redis_server.url, out, emu.url, tmp_path / "logs", count=2)
        cluster.start()
        try:
            await cluster.wait_ready()
            first = await asyncio.to_thread(_run, [*animate, "--redis", redis_server.url])
            again = await asyncio.to_thread(_run, [*animate, "--redis", redis_server.url])
        finally:
            codes = cluster.stop()
        seen = created(emu)
        routes = {r: n for r, n in emu.stats()["requests_by_route"].items() if r[:4] == "POST"}
    assert first.returncode == 0, first.stderr.decode()[-2000:] + cluster.log(0)[-2000:]
    outcomes = [json.loads(line) for line in first.stdout.decode().splitlines()]
    statuses = {r["name"]: r["status"] for r in outcomes if r["event"] == "outcome"}
    assert statuses == dict.fromkeys(("cat", "dancer", "mixed-4"), "succeeded")
    assert seen["creates"] == 3  # one create per job, both runs together: none by the rerun
    assert seen["duplicate_creates"] == 0
    assert routes == {
        "POST /omni-video/kling-3.0-omni": 1,
        "POST /motion-control/kling-3.0": 1,
        "POST /v1/images/generations": 1,
    }
    pictures = sorted((out / "mixed-4").iterdir())
    assert len(pictures) == 2
    for picture in pictures:
        with Image.open(picture) as decoded:
            decoded.verify()
    # a rerun: every job found done, nothing created
    assert again.returncode == 0, again.stderr.decode()[-2000:]
    rerun = [json.loads(line) for line in again.stdout.decode().splitlines()]
    assert [r["status"] for r in rerun if r["event"] == "outcome"] == ["skipped"] * 3
    assert codes == [0, 0]
    # the same manifest run locally writes the same files at the same relative paths
    local = tmp_path / "local"
    with _emulator((0.2, 0.4)) as emu:
        env_run = await asyncio.to_thread(
            _run,
            [
                *CLI,
                "animate",
                "--manifest",
                str(manifest),
                "--out",
                str(local),
                "--base-url",
                emu.url,
            ],
        )
    assert env_run.returncode == 0, env_run.stderr.decode()[-2000:] + env_run.stdout.decode()
    assert _files(out) == _files(local)
    assert _files(out) == ["cat.mp4", "dancer.mp4", "mixed-4/0.png", "mixed-4/1.png"]
