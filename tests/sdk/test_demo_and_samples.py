"""make demo's job, and the bundled samples being exactly what the drawing code makes."""

from __future__ import annotations

import io
import subprocess
from pathlib import Path

import av
from PIL import Image, ImageChops

from kling_async._demo import demo_jobs
from kling_async._samples import DRAWINGS, sample_paths
from kling_async.emulator import NO_PYAV

from .._helpers import CLI


def test_committed_samples_are_the_drawings() -> None:
    paths = sample_paths()
    assert [p.stem for p in paths] == list(DRAWINGS)
    for path in paths:
        committed = Image.open(path).convert("RGB")
        drawn = DRAWINGS[path.stem]().convert("RGB")
        assert committed.size == drawn.size
        assert ImageChops.difference(committed, drawn).getbbox() is None, path.name
        assert path.stat().st_size < 50_000


def test_demo_command_writes_playable_videos(tmp_path: Path) -> None:
    out = tmp_path / "videos"
    done = subprocess.run(
        [*CLI, "demo", "--out", str(out)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert f"3 videos in {out.resolve()}" in done.stdout
    assert NO_PYAV not in done.stdout + done.stderr  # PyAV is here: it renders
    seconds = {Path(str(job.image)).stem: job.duration for job in demo_jobs()}
    assert sorted(seconds.values()) == [5, 5, 6]  # kling-v3's storyboard is 6 s
    for path in sample_paths():
        video = out / f"{path.stem}.mp4"
        assert video.exists()
        with av.open(io.BytesIO(video.read_bytes())) as container:
            frames = list(container.decode(video=0))
        assert len(frames) == seconds[path.stem] * 24 + 2  # the emulator renders 24 fps
    videos = sorted(p.name for p in out.iterdir() if not p.name.startswith(".kling-journal"))
    assert videos == sorted(f"{p.stem}.mp4" for p in sample_paths())
    again = subprocess.run(
        [*CLI, "demo", "--out", str(out)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert again.returncode == 0, again.stderr
    assert "kling-3.0-turbo (new API)" in done.stdout
    assert again.stdout.count("skipped") == 3  # the journal knows they are done
