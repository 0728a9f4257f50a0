"""Every example runs against the emulator and produces what it promises."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from pathlib import Path

import av

ROOT = Path(__file__).parent.parent


def _clean_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("KLING_")}


def test_quickstart_writes_a_playable_video(tmp_path: Path) -> None:
    out = tmp_path / "q.mp4"
    done = subprocess.run(
        [
            sys.executable,
            str(ROOT / "examples" / "quickstart.py"),
            str(ROOT / "kling_async" / "samples" / "planet.png"),
            str(out),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        env=_clean_env(),
    )
    assert done.returncode == 0, done.stderr
    assert "submitted" in done.stdout
    assert f"saved {out}" in done.stdout
    with av.open(io.BytesIO(out.read_bytes())) as container:
        frames = list(container.decode(video=0))
    assert len(frames) == 122
    assert frames[0].width == frames[0].height == 512  # the planet sample is square
