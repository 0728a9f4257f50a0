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
    try:  # a FIFO read would block for ever: 30 s is a hang, not a slow start on a busy machine
        out, err = proc.communicate(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, err = proc.communicate()
        pytest.fail(f"animate {' '.join(args)} still running after 30 s:\n{out}\n{err}")
    done = subprocess.CompletedProcess(proc.args, proc.returncode, out, err)
    return done, time.monotonic() - started


@pytest.mark.parametrize("dry_run", [False, True])
def test_a_fifo_a_huge_sparse_file_and_a_socket_are_invalid_at_once(
    emu: EmulatorThread, hostile: Path, tmp_path: Path, dry_run: bool
) -> None:
    extra = ["--dry-run"] if dry_run else []
    done, took = _run([str(hostile), "--out", str(tmp_path / "out"), "--json", *extra], emu)
    assert took < 30
    records = events(done.stdout)
    invalid = {
        r["source"]: r["error"] for r in records if "invalid" in (r.get("status"), r["event"])
    }
    assert invalid.keys() == {str(hostile / n) for n in ("fifo.png", "sparse.png", "sock.png")}
    assert "named pipe (FIFO), not a regular file" in invalid[str(hostile / "fifo.png")]
    assert "socket, not a regular file" in invalid[str(hostile / "sock.png")]
    # refused for its size before a byte is read (by preparation, or by validation with
    # --no-prepare): the reason names the size
    assert f"{2 * 1024**3} bytes" in invalid[str(hostile / "sparse.png")]
    if dry_run:
        sent = [r["source"] for r in records if r["event"] == "would_send"]
        assert sent == [str(hostile / "good.png")]
        assert emu.stats()["create_requests"] == 0
    else:
        assert (tmp_path / "out" / "good.mp4").exists(), done.stdout + done.stderr
        assert records[-1]["counts"]["succeeded"] == 1
    assert done.returncode != 0  # the invalid inputs say the run was not all well


def _manifest(tmp_path: Path, rows: list[tuple[str, str]]) -> Path:
    folder = tmp_path / "in"
    folder.mkdir(exist_ok=True)
    lines = ["image,external_id"]
    for name, external_id in rows:
        color = (200, 40, 40) if name == "a" else (40, 40, 200)
        (folder / f"{name}.png").write_bytes(png(480, 320, color))
        lines.append(f"{folder / f'{name}.png'},{external_id}")
    manifest = tmp_path / f"manifest-{'-'.join(n for n, _ in rows)}.csv"
    manifest.write_text("\n".join(lines) + "\n")
    return manifest


@pytest.mark.parametrize("model", ["kling-v2-6", "kling-3.0-turbo"])
@pytest.mark.parametrize("dry_run", [False, True])
def test_two_rows_with_one_external_id_are_both_invalid_and_nothing_is_sent(
    emu: EmulatorThread, tmp_path: Path, model: str, dry_run: bool
) -> None:
    manifest = _manifest(tmp_path, [("a", "same-id"), ("b", "same-id")])
    extra = ["--dry-run"] if dry_run else []
    args = ["--manifest", str(manifest), "--out", str(tmp_path / "out"), "--model", model]
    done, _ = _run([*args, "--json", *extra], emu)
    assert done.returncode != 0, done.stdout + done.stderr
    records = events(done.stdout)
    invalid = {
        r["source"]: r["error"] for r in records if "invalid" in (r.get("status"), r["event"])
    }
    a, b = f"{manifest.name}:2", f"{manifest.name}:3"  # the rows
    assert invalid.keys() == {a, b}
    assert f"'same-id' — is also the id of {b}" in invalid[a]
    assert f"'same-id' — is also the id of {a}" in invalid[b]
    assert emu.stats()["create_requests"] == 0
    assert list((tmp_path / "out").glob("*.mp4")) == []


@pytest.mark.parametrize("model", ["kling-v2-6", "kling-3.0-turbo"])
def test_a_rerun_with_an_id_the_journal_holds_for_another_job_is_invalid(
    emu: EmulatorThread, tmp_path: Path, model: str
) -> None:
    out = ["--out", str(tmp_path / "out"), "--model", model, "--json"]
    first, _ = _run(["--manifest", str(_manifest(tmp_path, [("a", "kept-id")])), *out], emu)
    assert first.returncode == 0, first.stdout + first.stderr
    creates = emu.stats()["create_requests"]
    again, _ = _run(["--manifest", str(_manifest(tmp_path, [("b", "kept-id")])), *out], emu)
    assert again.returncode != 0, again.stdout + again.stderr
    records = events(again.stdout)
    [bad] = [r for r in records if "invalid" in (r.get("status"), r["event"])]
    assert bad["source"] == "manifest-b.csv:2"
    assert "'kept-id' — the journal records it for another job (a" in bad["error"]
    assert emu.stats()["create_requests"] == creates
    assert sorted(p.name for p in (tmp_path / "out").glob("*.mp4")) == ["a.mp4"]
