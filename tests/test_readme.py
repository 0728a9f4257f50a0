"""Every Python block of the README runs here, or is an excerpt of a tested example."""

from __future__ import annotations

import re
import textwrap
from pathlib import Path
from typing import Any

import pytest

import kling_async as kling
from kling_async._samples import SAMPLES_DIR, sample_paths

from ._helpers import API_KEY, StartEmulator

ROOT = Path(__file__).parent.parent
BLOCKS = re.findall(r"```python\n(.*?)```", (ROOT / "README.md").read_text(), re.S)
EXAMPLES = {p.name: p.read_text() for p in (ROOT / "examples").glob("*.py")}


def _runnable(block: str) -> bool:
    return "kling_emulator" not in block  # the pytest fixture block is an excerpt, checked below


def test_the_readme_has_the_blocks_this_file_knows() -> None:
    assert len(BLOCKS) == 5
    assert sum(map(_runnable, BLOCKS)) == 4


def test_excerpt_blocks_stand_in_an_example() -> None:
    for block in (b for b in BLOCKS if not _runnable(b)):
        lines = [line.strip() for line in block.splitlines() if line.strip()]
        homes = [
            name
            for name, text in EXAMPLES.items()
            if all(line in {x.strip() for x in text.splitlines()} for line in lines)
        ]
        assert homes, f"README block is not an excerpt of any example:\n{block}"


@pytest.mark.parametrize("index", [i for i, b in enumerate(BLOCKS) if _runnable(b)])
async def test_runnable_blocks_run_against_the_emulator(
    index: int, start_emulator: StartEmulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    emu, _ = await start_emulator(video_bytes=1000)
    monkeypatch.setenv("KLING_BASE_URL", emu.url)
    monkeypatch.setenv("KLING_API_KEY", API_KEY)
    monkeypatch.delenv("KLING_ACCESS_KEY", raising=False)
    monkeypatch.delenv("KLING_SECRET_KEY", raising=False)
    # the blocks use the client's defaults; poll quickly so the test does not wait 30 s
    quick = kling.WaitPolicy(first_poll=0.05, min_interval=0.05)
    monkeypatch.setattr("kling_async.client.WaitPolicy", lambda: quick)
    monkeypatch.chdir(tmp_path)
    (tmp_path / "imgs").mkdir()
    for sample in sample_paths():
        (tmp_path / "imgs" / sample.name).write_bytes(sample.read_bytes())
    namespace: dict[str, Any] = {
        "Path": Path,
        "kling": kling,
        "image": SAMPLES_DIR / "sunset.png",
        "output": tmp_path / "out.mp4",
        "print": lambda *a: None,
    }
    source = "async def __block():\n" + textwrap.indent(BLOCKS[index], "    ")
    exec(compile(source, f"README block {index}", "exec"), namespace)  # noqa: S102
    await namespace["__block"]()
    if "client.download" in BLOCKS[index]:
        assert (tmp_path / "out.mp4").stat().st_size == 1000
    if "client.batch" in BLOCKS[index]:
        assert sorted(p.name for p in (tmp_path / "videos").glob("*.mp4")) == [
            "lighthouse.mp4",
            "planet.mp4",
            "sunset.mp4",
        ]
