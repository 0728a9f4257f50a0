"""``animate``'s guards: an unusable --out, a missing credential, the shot file's duration,
the exit code when only invalid inputs are left, signals, bad environment values."""

from __future__ import annotations

import os
import re
import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from kling_async.cli.inputs import out_folder_problem
from kling_async.emulator import EmulatorThread

from .._helpers import ACCESS_KEY, CLI, SECRET_KEY, png
from .test_animate import cli, events, images, signal_midway, start


@pytest.fixture
def emu() -> Iterator[EmulatorThread]:
    with start() as running:
        yield running


# -- an --out the run cannot write in ----------------------------------------------------
@pytest.mark.parametrize("dry_run", [False, True])
def test_an_out_under_a_file_is_one_line_exit_2_before_anything_is_sent(
    emu: EmulatorThread, tmp_path: Path, dry_run: bool
) -> None:
    images(tmp_path / "in", 2)
    (tmp_path / "afile").write_text("not a folder")
    out = tmp_path / "afile" / "sub"
    extra = ["--dry-run"] if dry_run else []
    done = cli(tmp_path / "in", "--out", out, *extra, emu=emu)
    assert done.returncode == 2, done.stdout + done.stderr
    assert done.stderr.splitlines() == [
        f"error: --out {out}: {tmp_path / 'afile'} is a file, so no folder can be made in it"
    ]
    assert "Traceback" not in done.stdout + done.stderr
    assert done.stdout == ""
    assert emu.stats()["create_requests"] == 0


def test_an_out_the_run_may_not_write_in_names_the_folder_and_the_reason(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Read-only and no-permission folders, as ``os.access`` and ``statvfs`` say (the tests
    run as root, whom chmod does not stop)."""
    assert out_folder_problem(tmp_path / "new" / "deeper") is None  # made when needed
    assert out_folder_problem(tmp_path) is None
    monkeypatch.setattr(os, "access", lambda path, mode: False)
    problem = out_folder_problem(tmp_path / "new")
    assert problem == f"cannot write in {tmp_path} (no permission to write there)"

    class ReadOnly:
        f_flag = os.ST_RDONLY

    monkeypatch.setattr(os, "statvfs", lambda path: ReadOnly())
    problem = out_folder_problem(tmp_path)
    assert problem == f"cannot write in {tmp_path} (read-only file system)"


# -- a model whose wire needs a credential the run does not have ----------------------------
def test_a_missing_api_key_for_the_new_api_is_one_configuration_error(
    emu: EmulatorThread, tmp_path: Path
) -> None:
    images(tmp_path / "in", 3)
    env = {k: v for k, v in os.environ.items() if not k.startswith("KLING_")}
    env |= {
        "KLING_BASE_URL": emu.url,
        "KLING_ACCESS_KEY": ACCESS_KEY,
        "KLING_SECRET_KEY": SECRET_KEY,
    }
    args = [*CLI, "animate", str(tmp_path / "in"), "--out", str(tmp_path / "out")]
    done = subprocess.run(
        [*args, "--model", "kling-3.0-turbo"], capture_output=True, text=True, timeout=120, env=env
    )
    assert done.returncode == 2, done.stdout + done.stderr
    error = [line for line in done.stderr.splitlines() if line.startswith("error:")]
    assert len(error) == 1
    assert "KLING_API_KEY" in error[0]
    assert "invalid" not in done.stdout
    assert emu.stats()["create_requests"] == 0
    legacy = subprocess.run(  # the key pair is enough for the legacy API
        [*args, "--model", "kling-v3", "--json"],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )
    assert legacy.returncode == 0, legacy.stdout + legacy.stderr


# -- --multi-prompt sets the duration when --duration is not given ---------------------------
def test_multi_prompt_shots_set_the_duration_unless_duration_is_given(tmp_path: Path) -> None:
    images(tmp_path / "in", 1)
    shots = tmp_path / "shots.txt"
    shots.write_text("4 a wide shot of the harbour\n6 a close-up of the boat\n")
    readme = ["--model", "kling-v3", "--mode", "4k", "--multi-prompt", shots, "--dry-run"]
    done = cli(tmp_path / "in", "--out", tmp_path / "out", *readme, "--json", emu=None)
    assert done.returncode == 0, done.stdout + done.stderr
    sent = [e for e in events(done.stdout) if e["event"] == "would_send"]
    assert [e["request"]["duration"] for e in sent] == [10]
    explicit = cli(tmp_path / "in", "--out", tmp_path / "out", *readme, "--duration", "5", emu=None)
    assert explicit.returncode == 2, explicit.stdout + explicit.stderr
    assert "its shots add up to 10 s; the video is 5 s (--duration)" in explicit.stderr
    shots.write_text("10 a wide shot of the harbour\n10 a close-up of the boat\n")
    too_long = cli(tmp_path / "in", "--out", tmp_path / "out", *readme, emu=None)
    assert too_long.returncode == 2, too_long.stdout + too_long.stderr
    assert "its shots add up to 20 s; kling-v3 makes videos of 3 to 15 seconds" in (too_long.stderr)


# -- a rerun that can do nothing more has its own exit code ----------------------------------
def test_a_rerun_left_with_only_invalid_inputs_says_so_with_its_own_exit_code(
    emu: EmulatorThread, tmp_path: Path
) -> None:
    images(tmp_path / "in", 2)
    (tmp_path / "in" / "tiny.png").write_bytes(png(100, 100))  # under Kling's 300 px
    out = tmp_path / "out"
    first = cli(tmp_path / "in", "--out", out, emu=emu)
    assert first.returncode == 1, first.stdout + first.stderr  # made two; one is invalid
    assert "nothing left" not in first.stderr
    for extra in ([], ["--json"]):
        again = cli(tmp_path / "in", "--out", out, *extra, emu=emu)
        assert again.returncode == 4, again.stdout + again.stderr
        assert again.stderr.splitlines() == [
            "nothing left that can be done: 1 input is invalid (fix it, or leave it out; "
            "running again as it is changes nothing)"
        ]
    failing = cli(tmp_path / "in", "--out", tmp_path / "other", emu=emu, key="wrong-key")
    assert failing.returncode == 2  # a run that could not send still says why, as before
    helped = cli("--help", emu=None)
    assert re.search(r"^\s+4\s+nothing left that can be done", helped.stdout, re.M)


# -- signals and bad environment values --------------------------------------------------
def test_sigterm_stops_animate_as_ctrl_c_does_resumable_exit_143(tmp_path: Path) -> None:
    images(tmp_path / "in", 12)
    out = tmp_path / "out"
    with start(duration=(2.0, 3.0)) as emu:
        code, stdout, stderr = signal_midway(emu, tmp_path / "in", out, signal.SIGTERM)
        assert code == 143, stderr
        assert events(stdout)[-1]["event"] == "interrupted"
        assert "Traceback" not in stderr
        assert [line for line in stderr.splitlines() if line] == [
            "Terminated (SIGTERM). Run the same command again to resume: finished work is "
            "kept and nothing is paid for twice."
        ]
        again = cli(tmp_path / "in", "--out", out, "--json", emu=emu)
        assert again.returncode == 0, again.stdout + again.stderr
        assert (
            events(again.stdout)[-1]["counts"]["succeeded"]
            + events(again.stdout)[-1]["counts"]["skipped"]
            == 12
        )
    helped = cli("--help", emu=None)
    assert re.search(r"^\s+143\s+terminated \(SIGTERM\)", helped.stdout, re.M)


@pytest.mark.parametrize(
    ("signum", "code", "line"),
    [
        (signal.SIGINT, 130, "Interrupted before anything was sent."),
        (signal.SIGTERM, 143, "Terminated before anything was sent."),
    ],
)
def test_a_signal_before_the_run_starts_is_one_line_and_its_exit_code(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, signum: int, code: int, line: str
) -> None:
    """Ctrl-C (or SIGTERM) while the command starts (here: while the config profile is
    read) — before the loop that makes Ctrl-C 'Interrupted. Run the same command again...'."""
    from click.testing import CliRunner

    from kling_async.cli import _settings, main  # the profile loader, where start-up waits

    def interrupted(profile: str | None) -> None:
        os.kill(os.getpid(), signum)

    monkeypatch.setattr(_settings, "load_settings", interrupted)
    before = signal.getsignal(signum)
    images(tmp_path / "in", 1)
    result = CliRunner().invoke(main, ["animate", str(tmp_path / "in"), "--out", "o"])
    assert result.exit_code == code, result.output
    assert result.output.strip().splitlines() == [line]
    assert signal.getsignal(signum) is before  # the caller's handler is back


def test_a_base_url_urllib_cannot_split_is_one_error_line_exit_2(tmp_path: Path) -> None:
    images(tmp_path / "in", 1)
    env = {k: v for k, v in os.environ.items() if not k.startswith("KLING_")}
    env |= {"KLING_API_KEY": "k", "KLING_BASE_URL": "http://[::1"}
    done = subprocess.run(
        [*CLI, "animate", str(tmp_path / "in"), "--out", str(tmp_path / "out")],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
    )
    assert done.returncode == 2, done.stdout + done.stderr
    assert "Traceback" not in done.stderr
    # the SDK refuses it without echoing it (an unparsable URL may carry a password)
    assert done.stderr.splitlines()[0] == "error: --base-url: not a URL that can be parsed"
