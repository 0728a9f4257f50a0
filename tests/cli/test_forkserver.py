"""The tests' fork server (tests/_forkserver.py) runs ``kling-async`` as a fresh interpreter
would: the same output and exit codes, signals reaching the run, a killed launcher taking its
run with it, and runs it cannot stand for given back to ``python -m kling_async``."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from kling_async.emulator import EmulatorConfig, EmulatorThread

from .._helpers import API_KEY, CLI, FORK_SERVER_SOCKET, FRESH_CLI, SCRIPT, png, test_account


@pytest.fixture(scope="module")
def emu() -> Iterator[EmulatorThread]:
    with EmulatorThread(EmulatorConfig(accounts=[test_account()], seed=5)) as running:
        yield running


def _env(emu: EmulatorThread | None = None, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("KLING_")}
    if emu is not None:
        env |= {"KLING_BASE_URL": emu.url, "KLING_API_KEY": API_KEY}
    return env | extra


def _server_ready() -> None:
    deadline = time.monotonic() + 30
    while not os.path.exists(FORK_SERVER_SOCKET):  # bounded: the server imports in ~1 s
        assert time.monotonic() < deadline, "the fork server did not start"
        time.sleep(0.05)


def _both(args: list[str], env: dict[str, str], cwd: Path) -> tuple[object, object]:
    forked = subprocess.run(
        [*CLI, *args],
        capture_output=True,
        text=True,
        timeout=60,
        env=env | {"KA_FORKCLI": "required"},  # fail rather than start from scratch
        cwd=cwd,
    )
    fresh = subprocess.run(
        [*FRESH_CLI, *args], capture_output=True, text=True, timeout=60, env=env, cwd=cwd
    )
    return (
        (forked.returncode, _same(forked.stdout), _same(forked.stderr)),
        (fresh.returncode, _same(fresh.stdout), _same(fresh.stderr)),
    )


def _same(text: str) -> str:
    """What two runs of one command share: without request ids and the time of the run."""
    text = re.sub(r"request_id=[0-9a-f-]+", "request_id=?", text)
    return re.sub(r"\d{4}-\d\d-\d\dT[\d:.]+(\+00:00|Z)?", "<time>", text)


@pytest.mark.parametrize(
    "args",
    [
        ["--help"],
        ["animate", "--help"],
        ["animate", "missing-folder"],  # a usage error: exit 2
        ["animate", "in", "--dry-run", "--json"],  # reads the folder (cwd-relative)
        ["account", "--json"],  # talks to the emulator, credentials from the environment
        ["status", "no-such-task"],  # an API error
        ["submit", "--model", "kling-v9", "in/a.png"],  # a validation error
    ],
)
def test_a_forked_run_is_the_same_as_a_fresh_one(
    emu: EmulatorThread, tmp_path: Path, args: list[str]
) -> None:
    _server_ready()
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "a.png").write_bytes(png(480, 320))
    forked, fresh = _both(args, _env(emu), tmp_path)
    assert forked == fresh


def test_a_forked_script_runs_as_python_script_would(tmp_path: Path) -> None:
    _server_ready()
    script = tmp_path / "tool" / "show.py"
    script.parent.mkdir()
    (script.parent / "sibling.py").write_text("NAME = 'sibling'\n")
    script.write_text(
        "import json, os, sys\n"
        "import sibling\n"  # from the script's folder, sys.path[0]
        "print(json.dumps([__name__, sys.argv[1:], os.getcwd(), os.environ.get('SHOW'),\n"
        "                  sibling.NAME, sys.stdin.read()]))\n"
        "sys.exit(int(sys.argv[1]))\n"
    )
    env = _env(SHOW="shown")
    forked = subprocess.run(
        [*SCRIPT, str(script), "3", "x y"],
        input="fed",
        capture_output=True,
        text=True,
        timeout=60,
        env=env | {"KA_FORKCLI": "required"},
        cwd=tmp_path,
    )
    fresh = subprocess.run(
        [sys.executable, str(script), "3", "x y"],
        input="fed",
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
        cwd=tmp_path,
    )
    assert (forked.returncode, forked.stdout, forked.stderr) == (
        fresh.returncode,
        fresh.stdout,
        fresh.stderr,
    )
    assert fresh.returncode == 3
    assert '"__main__", ["3", "x y"]' in fresh.stdout
    assert '"shown", "sibling", "fed"' in fresh.stdout


def test_signals_reach_the_forked_run_and_it_ends_as_they_make_it(tmp_path: Path) -> None:
    _server_ready()
    # Ctrl-C: the emulator command stops cleanly (its own handling: exit 0)
    proc, url = _forked_emulator()
    proc.send_signal(signal.SIGINT)
    assert proc.wait(30) == 0
    assert not _accepts(url)
    # kill -9 of the launcher: its run dies with it (and the launcher's code is -9)
    proc, url = _forked_emulator()
    assert _accepts(url)
    proc.kill()
    assert proc.wait(30) == -signal.SIGKILL
    deadline = time.monotonic() + 5
    while _accepts(url):  # bounded: the server kills the run at once
        assert time.monotonic() < deadline, "the forked emulator outlived its launcher"
        time.sleep(0.05)


def _forked_emulator() -> tuple[subprocess.Popen[str], str]:
    """``kling-async emulator`` through the fork server (never from scratch); its URL."""
    proc = subprocess.Popen(
        [*CLI, "emulator", "--port", "0", "--host", "127.0.0.1"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env=_env(KA_FORKCLI="required"),
    )
    assert proc.stdout is not None
    return proc, _url_line(proc.stdout.readline())


def test_a_run_whose_interpreter_would_start_differently_is_not_forked(tmp_path: Path) -> None:
    _server_ready()
    env = _env(PYTHONHASHSEED="4242", KA_FORKCLI="required")
    refused = subprocess.run([*CLI, "--help"], capture_output=True, text=True, timeout=60, env=env)
    assert refused.returncode == 70
    assert "fork server: not used" in refused.stderr
    env.pop("KA_FORKCLI")
    fresh = subprocess.run([*CLI, "--help"], capture_output=True, text=True, timeout=60, env=env)
    assert fresh.returncode == 0  # started from scratch instead
    assert "Usage: kling-async" in fresh.stdout


def _url_line(line: str) -> str:
    assert "http://127.0.0.1:" in line, line
    return line[line.index("http://") :].split()[0]


def _accepts(url: str) -> bool:
    host, port = url.removeprefix("http://").split("/")[0].split(":")
    try:
        with socket.create_connection((host, int(port)), timeout=1):
            return True
    except OSError:
        return False
