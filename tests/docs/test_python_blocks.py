"""Every Python block of the README and of the docs site runs against an emulator here, or is
marked as an excerpt of an example (``<!-- excerpt: examples/NAME.py -->`` above it) whose
lines all stand in that example, which tests/docs/test_examples.py runs."""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Any

import pytest

import kling_async as kling
from kling_async.emulator import Emulator, EmulatorConfig

from .._helpers import API_KEY, SAMPLES_DIR, StartEmulator, sample_paths
from ._blocks import Block, blocks

BLOCKS = blocks("python")
RUNNABLE = [b for b in BLOCKS if b.excerpt_of is None]
EXCERPTS = [b for b in BLOCKS if b.excerpt_of is not None]


def test_the_blocks_are_found() -> None:
    # a floor, so that a broken fence pattern cannot pass by finding nothing
    assert len(RUNNABLE) >= 12
    assert len(EXCERPTS) >= 3
    assert {b.page for b in RUNNABLE} >= {"README.md", "docs/client.md", "docs/batches.md"}


def test_markers_name_only_excerpts() -> None:
    for block in BLOCKS:
        assert block.marker in ("",) or block.excerpt_of is not None, block.id


@pytest.mark.parametrize("block", EXCERPTS, ids=lambda b: b.id)
def test_excerpts_stand_in_their_example(block: Block) -> None:
    assert block.excerpt_of is not None
    assert block.excerpt_of.parent.name == "examples", f"{block.id}: not an example"
    example = {line.strip() for line in block.excerpt_of.read_text().splitlines()}
    missing = [line for line in (x.strip() for x in block.body.splitlines()) if line not in example]
    assert not [line for line in missing if line], f"{block.id}: not in {block.excerpt_of.name}"


@pytest.mark.parametrize("block", RUNNABLE, ids=lambda b: b.id)
async def test_runnable_blocks_run_against_the_emulator(
    block: Block, start_emulator: StartEmulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each block runs as the body of an async function, with the names its page's prose
    introduces: ``image`` (a sample image), ``output`` (a file to write), ``imgs/`` (the three
    samples) in the current folder, and ``kling``, ``Path``, ``Emulator``, ``EmulatorConfig``."""
    emu, _ = await start_emulator(video_bytes=1000, duration=(0.01, 0.03))
    monkeypatch.setenv("KLING_BASE_URL", emu.url)
    monkeypatch.setenv("KLING_API_KEY", API_KEY)
    monkeypatch.delenv("KLING_ACCESS_KEY", raising=False)
    monkeypatch.delenv("KLING_SECRET_KEY", raising=False)
    if "VirtualClock" not in block.body:  # on a virtual clock the defaults cost nothing
        # the blocks use the client's defaults; poll quickly so a test does not wait 30 s
        quick = kling.WaitPolicy(first_poll=0.02, min_interval=0.02)
        monkeypatch.setattr("kling_async.client.WaitPolicy", lambda: quick)
    monkeypatch.chdir(tmp_path)
    (tmp_path / "imgs").mkdir()
    for sample in sample_paths():
        (tmp_path / "imgs" / sample.name).write_bytes(sample.read_bytes())
    namespace: dict[str, Any] = {
        "Path": Path,
        "kling": kling,
        "Emulator": Emulator,
        "EmulatorConfig": EmulatorConfig,
        "image": SAMPLES_DIR / "sunset.png",
        "output": tmp_path / "out.mp4",
        "print": lambda *a, **k: None,
    }
    source = "async def __block():\n" + textwrap.indent(block.body, "    ")
    exec(compile(source, block.id, "exec"), namespace)  # noqa: S102
    await namespace["__block"]()
    if "client.download" in block.body or "output=output" in block.body:
        assert (tmp_path / "out.mp4").stat().st_size == 1000
    if "client.batch" in block.body and "imgs" in block.body:
        assert sorted(p.name for p in (tmp_path / "videos").glob("*.mp4")) == [
            "lighthouse.mp4",
            "planet.mp4",
            "sunset.mp4",
        ]
