"""`kling-async generate`: one image (or a prompt) to one video file, as a user runs it: a
subprocess against an emulator on 127.0.0.1 port 0, no config file but the test's."""

from __future__ import annotations

import json
import os
import pty
import re
import select
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from kling_async.emulator import FAILURE_MESSAGES, EmulatorConfig, EmulatorThread

from .._helpers import API_KEY, CLI, png, test_account

VIDEO_BYTES = 30_000


def _start(**changes: Any) -> EmulatorThread:
    fields: dict[str, Any] = {
        "accounts": [test_account(units=1_000.0)],
        "duration": (0.2, 0.4),
        "video_bytes": VIDEO_BYTES,
        "seed": 17,
    }
    return EmulatorThread(EmulatorConfig(**fields | changes))


@pytest.fixture(scope="module")
def emu() -> Iterator[EmulatorThread]:
    with _start() as running:
        yield running


def generate(
    *args: str | Path, url: str | None, home: Path, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*CLI, "generate", *map(str, args)],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=_env(url, home),
    )


def _env(url: str | None, home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("KLING_")}
    env["XDG_CONFIG_HOME"] = str(home / "xdg")  # never the user's own config file
    if url is not None:
        env |= {"KLING_BASE_URL": url, "KLING_API_KEY": API_KEY}
    return env


def image(tmp_path: Path) -> Path:
    path = tmp_path / "cat.png"
    path.write_bytes(png(480, 320))
    return path


def test_an_image_becomes_an_mp4_with_progress_on_stderr(
    emu: EmulatorThread, tmp_path: Path
) -> None:
    out = tmp_path / "made" / "cat.mp4"  # a folder that is not there yet
    done = generate(
        image(tmp_path), "--prompt", "the cat blinks", "-o", out, url=emu.url, home=tmp_path
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == str(out)
    assert out.stat().st_size == VIDEO_BYTES
    assert not list(out.parent.glob("*.part"))
    lines = done.stderr.splitlines()
    assert lines[0] == "image to video (kling-v2-6 std 5 s): creating"
    task_id = re.fullmatch(r"task (\S+): succeeded after \d+ s", lines[-1])
    assert task_id is not None, lines
    assert len(lines) <= 4, lines  # a line per change of state
    routes = emu.stats()["requests_by_route"]
    assert routes["POST /v1/videos/image2video"] >= 1


def test_a_prompt_alone_becomes_a_text_to_video_mp4(emu: EmulatorThread, tmp_path: Path) -> None:
    before = emu.stats()["requests_by_route"].get("POST /v1/videos/text2video", 0)
    out = tmp_path / "boat.mp4"
    done = generate(
        "--prompt", "a paper boat", "--aspect-ratio", "9:16", "-o", out, "-q",
        url=emu.url, home=tmp_path,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""  # --quiet
    assert out.stat().st_size == VIDEO_BYTES
    assert emu.stats()["requests_by_route"]["POST /v1/videos/text2video"] == before + 1


def test_json_prints_one_final_record(emu: EmulatorThread, tmp_path: Path) -> None:
    out = tmp_path / "cat.mp4"
    done = generate(
        image(tmp_path), "--prompt", "p", "--mode", "pro", "-o", out, "--json",
        url=emu.url, home=tmp_path,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""  # no progress with --json
    (line,) = done.stdout.splitlines()
    record = json.loads(line)
    assert record["status"] == "succeeded"
    assert record["kind"] == "image2video"
    assert record["path"] == str(out)
    assert record["bytes"] == VIDEO_BYTES == out.stat().st_size
    assert record["external_task_id"]
    assert record["task_id"]
    assert len(record["videos"]) == 1


def test_a_failing_task_exits_1_with_the_reason(tmp_path: Path) -> None:
    out = tmp_path / "cat.mp4"
    with _start(failure_rate=1.0) as emu:
        done = generate(image(tmp_path), "--prompt", "p", "-o", out, url=emu.url, home=tmp_path)
        as_json = generate(
            image(tmp_path), "--prompt", "p", "-o", out, "--json", url=emu.url, home=tmp_path
        )
    assert done.returncode == 1, done.stderr
    errors = [line for line in done.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1
    assert "failed: " in errors[0]
    assert any(errors[0].endswith(reason) for reason in FAILURE_MESSAGES), errors
    assert "hint: Kling does not charge a failed task" in done.stderr
    assert done.stdout == ""
    assert not out.exists()
    assert as_json.returncode == 1
    record = json.loads(as_json.stdout)
    assert record["status"] == "failed"
    assert record["status_message"] in FAILURE_MESSAGES
    assert record["path"] is None


def test_a_missing_image_is_one_line_and_exit_2(tmp_path: Path) -> None:
    missing = tmp_path / "nope.png"
    done = generate(missing, "--prompt", "p", "-o", tmp_path / "x.mp4", url=None, home=tmp_path)
    assert done.returncode == 2
    assert done.stderr.splitlines() == [f"error: IMAGE {missing}: no such file"]
    assert done.stdout == ""


def test_usage_problems_exit_2_before_anything_is_sent(emu: EmulatorThread, tmp_path: Path) -> None:
    creates = emu.stats()["creates"]
    taken = tmp_path / "taken.mp4"
    taken.write_bytes(b"mine")
    img = image(tmp_path)
    cases = {
        "already exists; nothing was sent": [img, "--prompt", "p", "-o", taken],
        "--end-frame: needs an IMAGE": ["--prompt", "p", "--end-frame", img, "-o", "a.mp4"],
        "--aspect-ratio 9:16: text to video only": [img, "--aspect-ratio", "9:16", "-o", "b.mp4"],
        "--duration 7: kling-v2-6 makes videos of 5 or 10 seconds": [
            img, "--duration", "7", "-o", tmp_path / "c.mp4",
        ],
    }  # fmt: skip
    for said, args in cases.items():
        done = generate(*args, url=emu.url, home=tmp_path)
        assert done.returncode == 2, (said, done.stderr)
        assert said in done.stderr, (said, done.stderr)
    assert taken.read_bytes() == b"mine"
    assert emu.stats()["creates"] == creates


def test_a_timeout_exits_3_and_says_how_to_get_the_video_later(tmp_path: Path) -> None:
    out = tmp_path / "slow.mp4"
    args = [image(tmp_path), "--prompt", "p", "-o", out, "--timeout", "1"]
    with _start(duration=(30.0, 30.0)) as emu:
        done = generate(*args, url=emu.url, home=tmp_path)
        as_json = generate(*args, "--json", url=emu.url, home=tmp_path)
    assert done.returncode == 3, done.stderr
    assert "after 1 s (--timeout)" in done.stderr
    assert "`kling-async wait " in done.stderr
    assert f"--out {out}` fetches its video" in done.stderr
    assert not out.exists()
    record = json.loads(as_json.stdout)
    assert as_json.returncode == 3
    assert record["timed_out"] is True
    assert record["status"] in ("submitted", "processing")
    assert record["path"] is None


@pytest.mark.parametrize(
    ("signum", "code", "said"),
    [(signal.SIGINT, 130, "Interrupted."), (signal.SIGTERM, 143, "Terminated (SIGTERM).")],
)
def test_ctrl_c_or_sigterm_says_how_to_get_the_video_without_paying_again(
    tmp_path: Path, signum: int, code: int, said: str
) -> None:
    out = tmp_path / "cat.mp4"
    with _start(duration=(3.0, 3.0)) as emu:
        proc = subprocess.Popen(
            [*CLI, "generate", str(image(tmp_path)), "--prompt", "p", "-o", str(out)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=_env(emu.url, tmp_path),
        )
        # it waits on a task it knows: its progress (a line per change, stderr not a terminal)
        # has passed 'creating' (a look alone is not enough: a create whose answer came late
        # is looked up by its external id while it is still 'creating')
        assert proc.stderr is not None
        said_lines: list[str] = []
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            line = proc.stderr.readline()
            said_lines.append(line)
            if not line or (": " in line and not line.rstrip().endswith("creating")):
                break
        assert said_lines[-1], said_lines  # a line past 'creating', not the end of its output
        proc.send_signal(signum)
        _, rest = proc.communicate(timeout=30)
        err = "".join(said_lines) + rest
        assert proc.returncode == code, err
        last = err.splitlines()[-1]
        found = re.fullmatch(
            rf"{re.escape(said)} Task (\S+) goes on on Kling: `(.+?)` waits for it, then `(.+?)` "
            r"fetches its video; running generate again makes \(and pays for\) another video\.",
            last,
        )
        assert found is not None, err
        task_id, wait, download = found.groups()
        assert wait == f"kling-async wait {task_id}"
        assert download == f"kling-async download {task_id} --out {out}"
        for command in (wait, download):  # the hint works, and nothing is created again
            done = subprocess.run(
                [*CLI, *command.split()[1:]],
                capture_output=True,
                text=True,
                timeout=60,
                env=_env(emu.url, tmp_path),
            )
            assert done.returncode == 0, done.stderr
        assert out.stat().st_size == VIDEO_BYTES
        assert emu.stats()["creates"] == 1


def test_a_terminal_gets_one_live_line(emu: EmulatorThread, tmp_path: Path) -> None:
    out = tmp_path / "cat.mp4"
    main, other = pty.openpty()
    try:
        done = subprocess.run(
            [*CLI, "generate", str(image(tmp_path)), "--prompt", "p", "-o", str(out)],
            stdout=subprocess.PIPE,
            stderr=other,
            text=True,
            timeout=60,
            env=_env(emu.url, tmp_path),
        )
        os.close(other)
        shown = b""
        while select.select([main], [], [], 1)[0]:  # bounded: what is left to read, then EOF
            try:
                chunk = os.read(main, 65536)
            except OSError:  # EIO: the other end is closed and everything read
                break
            if not chunk:
                break
            shown += chunk
    finally:
        os.close(main)
    assert done.returncode == 0
    assert done.stdout.strip() == str(out)
    text = shown.decode()
    assert text.startswith("\r\x1b[Kimage to video (kling-v2-6 std 5 s): creating, 0 s")
    assert re.search(r"\r\x1b\[Ktask \S+: succeeded, \d+ s\r\n$", text), text
    assert text.count("\n") == 1  # one line, rewritten in place
