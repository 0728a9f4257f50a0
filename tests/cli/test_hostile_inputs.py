"""Hostile things in an input folder — a FIFO, a 2 GB sparse file, a Unix socket, each named
like an image — and one manifest's two rows under one ``external_id``: ``animate`` ends at
once, names each bad input with its reason, and makes one video per input, never one video
under two names."""

from __future__ import annotations

import os
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from kling_async.emulator import EmulatorThread

from .._helpers import CLI, png
from .test_animate import env_for, events, start


@pytest.fixture
def emu() -> Iterator[EmulatorThread]:
    with start() as running:
        yield running


@pytest.fixture
def hostile(tmp_path: Path) -> Iterator[Path]:
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "good.png").write_bytes(png(480, 320))
    os.mkfifo(folder / "fifo.png")
    (folder / "sparse.png").touch()
    os.truncate(folder / "sparse.png", 2 * 1024**3)
    sock = socket.socket(socket.AF_UNIX)
    sock.bind(str(folder / "sock.png"))
    try:
        yield folder
    finally:
        sock.close()


def _run(args: list[str], emu: EmulatorThread) -> tuple[subprocess.CompletedProcess[str], float]:
    started = time.monotonic()
    proc = subprocess.Popen(
        [*CLI, "animate", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env_for(emu),
    )
    try:
        out, err = proc.communicate(timeout=5)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, err = proc.communicate()
        pytest.fail(f"animate {' '.join(args)} still running after 5 s:\n{out}\n{err}")
    done = subprocess.CompletedProcess(proc.args, proc.returncode, out, err)
    return done, time.monotonic() - started


@pytest.mark.parametrize("dry_run", [False, True])
def test_a_fifo_a_huge_sparse_file_and_a_socket_are_invalid_at_once(
    emu: EmulatorThread, hostile: Path, tmp_path: Path, dry_run: bool
) -> None:
    extra = ["--dry-run"] if dry_run else []
    done, took = _run([str(hostile), "--out", str(tmp_path / "out"), "--json", *extra], emu)
    assert took < 5
    records = events(done.stdout)
    invalid = {
        r["source"]: r["error"] for r in records if "invalid" in (r.get("status"), r["event"])
    }
    assert invalid.keys() == {str(hostile / n) for n in ("fifo.png", "sparse.png", "sock.png")}
    assert "named pipe (FIFO), not a regular file" in invalid[str(hostile / "fifo.png")]
    assert "socket, not a regular file" in invalid[str(hostile / "sock.png")]
    assert f"{2 * 1024**3} bytes exceeds the" in invalid[str(hostile / "sparse.png")]
    if dry_run:
        sent = [r["source"] for r in records if r["event"] == "would_send"]
        assert sent == [str(hostile / "good.png")]
        assert emu.stats()["create_requests"] == 0
    else:
        assert (tmp_path / "out" / "good.mp4").exists(), done.stdout + done.stderr
        assert records[-1]["counts"]["succeeded"] == 1
    assert done.returncode != 0  # the invalid inputs say the run was not all well
