"""The command line as a user runs it: a subprocess against the emulator."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from kling_async.emulator import EmulatorConfig, EmulatorThread

from .._helpers import CLI, FRESH_CLI, png, python_output, test_account


@pytest.fixture
def emu() -> Iterator[EmulatorThread]:
    config = EmulatorConfig(
        accounts=[test_account(concurrency_limit=4)],
        duration=(0.2, 0.5),
        video_bytes=400_000,
        seed=8,
    )
    with EmulatorThread(config) as running:
        yield running


def env_for(emu: EmulatorThread | None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("KLING_")}
    if emu is not None:
        env |= {"KLING_BASE_URL": emu.url, "KLING_API_KEY": "test-api-key-abcdef"}
    return env


def cli(
    *args: str, emu: EmulatorThread | None, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*CLI, *args], capture_output=True, text=True, timeout=timeout, env=env_for(emu)
    )


def images(folder: Path, count: int) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    out = []
    for i in range(count):
        path = folder / f"shot{i:02d}.png"
        path.write_bytes(png(480, 320, (20 * i % 256, 120, 80)))
        out.append(path)
    return out


def test_folder_and_manifest_with_json_output(emu: EmulatorThread, tmp_path: Path) -> None:
    shots = images(tmp_path / "shots", 3)
    (tmp_path / "shots" / "tiny.png").write_bytes(png(120, 120))
    manifest = tmp_path / "manifest.csv"
    manifest.write_text(
        "image,prompt,camera,model,mode,duration,external_id\n"
        "extra/a.png,four k,,kling-v3,4k,3,my-a\n"
        "extra/b.png,ten seconds,,,pro,10,\n"
        "extra/missing.png,nope,,,,,\n"
        "extra/a.png,bad camera,spin,,,,\n"
    )
    images(tmp_path / "extra", 0)
    (tmp_path / "extra" / "a.png").write_bytes(png(480, 320, (1, 2, 3)))
    (tmp_path / "extra" / "b.png").write_bytes(png(480, 320, (4, 5, 6)))
    out = tmp_path / "videos"
    done = cli(
        "animate",
        str(tmp_path / "shots"),
        "--manifest",
        str(manifest),
        "--out",
        str(out),
        "--prompt",
        "gentle motion",
        "--json",
        emu=emu,
    )
    assert done.returncode == 1, done.stderr  # one invalid image and two broken rows
    records = [json.loads(line) for line in done.stdout.splitlines()]
    outcomes = {r["name"]: r for r in records if r["event"] == "outcome"}
    invalid_rows = [r for r in records if r["event"] == "invalid"]
    summary = records[-1]
    assert summary["event"] == "summary"
    assert {n: r["status"] for n, r in outcomes.items()} == {
        "a": "succeeded",
        "b": "succeeded",
        **{s.stem: "succeeded" for s in shots},
    }
    # refused before the run: a bad row; an image missing or too small to be prepared
    tiny = str(tmp_path / "shots" / "tiny.png")
    assert [r["source"] for r in invalid_rows] == ["manifest.csv:5", "manifest.csv:4", tiny]
    assert "camera" in invalid_rows[0]["error"]
    assert "spin" in invalid_rows[0]["error"]
    assert "no such file" in invalid_rows[1]["error"]
    assert "300 px" in invalid_rows[2]["error"]
    assert outcomes["a"]["units"] == 9  # kling-v3 4k: 3 units a second
    assert outcomes["b"]["units"] == 5  # kling-v2-6 pro: 0.5 units a second
    for name in ("a", "b", *[s.stem for s in shots]):
        assert Path(outcomes[name]["path"]).stat().st_size == 400_000
    stats = emu.stats()
    assert (stats["creates"], stats["duplicate_creates"]) == (5, 0)
    task = emu.emulator.state.store.find(emu.config.accounts[0], "image2video", "my-a")
    assert task is not None
    assert (task.spec.model, task.spec.mode, task.spec.duration) == ("kling-v3", "4k", "3")
    rerun = cli(
        "animate",
        str(tmp_path / "shots"),
        "--out",
        str(out),
        "--prompt",
        "gentle motion",
        "--json",
        emu=emu,
    )
    assert rerun.returncode == 4  # nothing left that can be done: tiny.png is invalid
    again = [json.loads(x) for x in rerun.stdout.splitlines()[:-1]]
    statuses = [r["status"] if r["event"] == "outcome" else r["event"] for r in again]
    assert sorted(statuses) == ["invalid", "skipped", "skipped", "skipped"]
    assert emu.stats()["creates"] == 5


def test_dry_run_sends_nothing_and_needs_no_credentials(tmp_path: Path) -> None:
    images(tmp_path / "shots", 2)
    (tmp_path / "shots" / "wide.png").write_bytes(png(1600, 500))
    done = cli(
        "animate",
        str(tmp_path / "shots"),
        "--out",
        str(tmp_path / "v"),
        "--dry-run",
        "--mode",
        "pro",
        "--duration",
        "10",
        emu=None,
    )
    assert done.returncode == 1  # one invalid input
    assert done.stdout.count("would send") == 2
    assert "wide.png" in done.stdout
    assert "aspect ratio" in done.stdout
    assert "estimated 10 units" in done.stdout  # 2 x kling-v2-6 pro 10 s
    assert not (tmp_path / "v").exists()
    as_json = cli(
        "animate",
        str(tmp_path / "shots" / "shot00.png"),
        "--out",
        str(tmp_path / "v"),
        "--dry-run",
        "--json",
        emu=None,
    )
    assert as_json.returncode == 0
    last = json.loads(as_json.stdout.splitlines()[-1])
    assert last == {
        "event": "estimate",
        "valid": 1,
        "invalid": 0,
        "units": 1.5,
        "units_cost": {"amount": 0.21, "currency": "USD"},  # 1.5 units at $0.14
    }


def test_plain_output_is_sane_when_not_a_terminal(emu: EmulatorThread, tmp_path: Path) -> None:
    images(tmp_path / "shots", 2)
    done = cli("animate", str(tmp_path / "shots"), "--out", str(tmp_path / "v"), emu=emu)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert sum(line.startswith("succeeded ") for line in lines) == 2
    assert "\x1b[" not in done.stdout  # no terminal escapes into a pipe
    assert "Summary" in done.stdout
    assert "| succeeded" in done.stdout
    assert done.stderr == ""


@pytest.mark.parametrize(
    ("args", "code", "words"),
    [
        (["animate", "--out", "v"], 2, "give image files"),
        (["animate", "nowhere/", "--out", "v"], 2, "does not exist"),
        (["animate", "IMG", "--out", "v", "--camera", "spin"], 2, "spin"),
        (["animate", "IMG", "--out", "v"], 2, "KLING_ACCESS_KEY"),
        (["status", "123"], 2, "KLING_ACCESS_KEY"),
    ],
)
def test_usage_and_configuration_errors_exit_2(
    tmp_path: Path, args: list[str], code: int, words: str
) -> None:
    image = images(tmp_path, 1)[0]
    done = cli(*[str(image) if a == "IMG" else a for a in args], emu=None)
    assert done.returncode == code
    assert words in done.stderr
    assert "Traceback" not in done.stderr


def test_single_task_verbs(emu: EmulatorThread, tmp_path: Path) -> None:
    image = images(tmp_path, 1)[0]
    submitted = cli(
        "submit", str(image), "--prompt", "hi", "--external-id", "cli-1", "--json", emu=emu
    )
    assert submitted.returncode == 0, submitted.stderr
    task = json.loads(submitted.stdout)
    assert task["status"] == "submitted"
    assert task["external_task_id"] == "cli-1"
    waited = cli("wait", "cli-1", "--json", "--poll-interval", "0.5", emu=emu)
    assert waited.returncode == 0, waited.stderr
    assert json.loads(waited.stdout)["status"] == "succeeded"
    status = cli("status", task["task_id"], emu=emu)
    assert "succeeded" in status.stdout
    assert "video" in status.stdout
    fetched = cli("download", "cli-1", "--out", str(tmp_path / "one.mp4"), emu=emu)
    assert fetched.returncode == 0
    assert (tmp_path / "one.mp4").stat().st_size == 400_000
    listed = cli("list", "--json", emu=emu)
    assert [json.loads(x)["task_id"] for x in listed.stdout.splitlines()] == [task["task_id"]]
    account = cli("account", "--json", emu=emu)
    assert json.loads(account.stdout)["packs"][0]["status"] == "online"
    missing = cli("status", "nope", emu=emu)
    assert missing.returncode == 1
    assert "error: [1201]" in missing.stderr
    assert "hint:" in missing.stderr


def _interrupt_then_resume(emu: EmulatorThread, tmp_path: Path, sig: signal.Signals) -> None:
    images(tmp_path / "shots", 16)
    out = tmp_path / "videos"
    args = [*CLI, "animate", str(tmp_path / "shots"), "--out", str(out), "--json"]
    for new_creates in (3, 5):
        proc = subprocess.Popen(
            args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env_for(emu)
        )
        # stop it once it has sent a few creates of its own (never while it is still starting)
        target = emu.stats()["create_requests"] + new_creates
        deadline = time.monotonic() + 30
        while emu.stats()["create_requests"] < target and time.monotonic() < deadline:
            time.sleep(0.02)
        proc.send_signal(sig)
        _, err = proc.communicate(timeout=30)
        if sig == signal.SIGINT:
            assert proc.returncode == 130, err
            assert "Run the same command again to resume" in err
            assert "Traceback" not in err
        else:
            assert proc.returncode == -signal.SIGKILL
    done = subprocess.run(args, capture_output=True, text=True, timeout=120, env=env_for(emu))
    assert done.returncode == 0, done.stderr
    records = [json.loads(x) for x in done.stdout.splitlines()]
    statuses = [r["status"] for r in records if r["event"] == "outcome"]
    assert len(statuses) == 16
    assert set(statuses) <= {"succeeded", "skipped"}
    stats = emu.stats()
    assert (stats["creates"], stats["duplicate_creates"]) == (16, 0)
    finals = [p for p in out.iterdir() if p.suffix == ".mp4"]
    assert len(finals) == 16
    assert all(p.stat().st_size == 400_000 for p in finals)
    assert [p.name for p in out.iterdir() if ".part" in p.name] == []


def test_ctrl_c_then_resume(emu: EmulatorThread, tmp_path: Path) -> None:
    _interrupt_then_resume(emu, tmp_path, signal.SIGINT)


def test_kill_9_then_resume(emu: EmulatorThread, tmp_path: Path) -> None:
    _interrupt_then_resume(emu, tmp_path, signal.SIGKILL)


def test_two_runs_on_one_folder_the_second_exits_2_naming_the_holder(
    emu: EmulatorThread, tmp_path: Path
) -> None:
    images(tmp_path / "in", 8)
    out = tmp_path / "out"
    args = ["animate", str(tmp_path / "in"), "--out", str(out), "--plain"]
    # started from scratch: the test stops it (SIGSTOP reaches no forked process) and looks
    # for its pid in the second run's message
    first = subprocess.Popen(
        [*FRESH_CLI, *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env_for(emu),
    )
    lock = out / ".kling-journal.db.lock"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and not (lock.exists() and lock.read_text()):
        time.sleep(0.02)
    # Hold the first run still (its lock stays held) so a loaded machine cannot let it end
    # before the second one starts: the test is about the overlap, not about who is faster.
    first.send_signal(signal.SIGSTOP)
    try:
        second = cli(*args, emu=emu, timeout=60)
    finally:
        first.send_signal(signal.SIGCONT)
    _, first_err = first.communicate(timeout=120)
    assert first.returncode == 0, first_err
    assert second.returncode == 2, second.stderr
    assert f"pid {first.pid}" in second.stderr
    assert "in use by another run" in second.stderr
    assert "Traceback" not in second.stderr
    stats = emu.stats()
    assert (stats["creates"], stats["duplicate_creates"]) == (8, 0)
    assert len(list(out.glob("*.mp4"))) == 8


def test_the_command_line_loads_no_server_redis_or_video_library_until_asked() -> None:
    """Every kling-async command starts by importing the CLI: the emulator's server, redis,
    SAQ and PyAV load only in the commands that use them (they were ~0.3 s of each start)."""
    code = (
        "import json, sys, kling_async.cli\n"
        "heavy = ('aiohttp.web', 'redis', 'saq', 'av', 'kling_async.emulator._server')\n"
        "print(json.dumps([m for m in heavy if m in sys.modules]))\n"
    )
    assert json.loads(python_output(code)) == []
