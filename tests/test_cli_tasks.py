"""The task commands (submit, status, wait, download, list, account, report) as a user runs
them: a subprocess against an emulator on 127.0.0.1 port 0, no config file but the test's."""

from __future__ import annotations

import asyncio
import json
import os
import re
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from kling_async.batch._journal import Journal
from kling_async.emulator import EmulatorConfig, EmulatorThread

from ._helpers import API_KEY, CLI, png, test_account
from ._proxy import HostileProxy

POOR_KEY = "poor-api-key-0123"


def _duration(_rng: Any, model: str, mode: str | None, _seconds: str) -> float:
    """kling-v2-5-turbo tasks run for a minute (to time out on), pro ones 8 s (to watch: the
    CLI takes 1-4 s to start under load), the rest 0.3 s."""
    if model == "kling-v2-5-turbo":
        return 60.0
    return 4.0 if mode == "pro" else 0.3


@pytest.fixture(scope="module")
def emu() -> Iterator[EmulatorThread]:
    poor = test_account(
        name="poor",
        access_key="poor-access-key",
        secret_key="poor-secret-key-0123456789abcdef0123",
        api_keys=(POOR_KEY,),
        units=0,
    )
    config = EmulatorConfig(
        accounts=[test_account(concurrency_limit=None, units=1_234_567.5), poor],
        duration_fn=_duration,
        video_bytes=50_000,
        seed=13,
    )
    with EmulatorThread(config) as running:
        yield running


def env_for(url: str | None, home: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("KLING_")}
    env["XDG_CONFIG_HOME"] = str(home / "xdg")  # never the user's own config file
    if url is not None:
        env |= {"KLING_BASE_URL": url, "KLING_API_KEY": API_KEY}
    return env | extra


def cli(
    *args: str, url: str | None, home: Path, timeout: float = 60, **env: str
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*CLI, *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env_for(url, home, **env),
    )


def timed(
    *args: str, url: str | None, home: Path
) -> tuple[subprocess.CompletedProcess[str], float]:
    started = time.monotonic()
    done = cli(*args, url=url, home=home)
    return done, time.monotonic() - started


def image(tmp_path: Path) -> Path:
    path = tmp_path / "cat.png"
    path.write_bytes(png(480, 320))
    return path


def submit(emu: EmulatorThread, tmp_path: Path, *args: str) -> dict[str, Any]:
    done = cli("submit", *args, "--json", url=emu.url, home=tmp_path)
    assert done.returncode == 0, done.stderr
    record: dict[str, Any] = json.loads(done.stdout)
    return record


# -- wait ------------------------------------------------------------------------------
def test_wait_looks_at_once_for_a_finished_or_unknown_task(
    emu: EmulatorThread, tmp_path: Path
) -> None:
    task = submit(emu, tmp_path, str(image(tmp_path)), "--external-id", "w-done")
    time.sleep(0.6)  # the emulator ends it after 0.3 s
    done, took = timed("wait", "w-done", "--json", url=emu.url, home=tmp_path)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["task_id"] == task["task_id"]
    assert json.loads(done.stdout)["status"] == "succeeded"
    assert took < 8, took  # was 30 s: the first look came after first_poll
    unknown, took = timed("wait", "no-such-task", url=emu.url, home=tmp_path)
    assert unknown.returncode == 1
    assert "not found" in unknown.stderr
    assert "hint: check the task id" in unknown.stderr
    assert took < 8, took


def test_wait_shows_progress_polls_at_the_interval_and_times_out_with_exit_3(
    emu: EmulatorThread, tmp_path: Path
) -> None:
    img = str(image(tmp_path))
    slow = submit(emu, tmp_path, img, "--model", "kling-v2-5-turbo", "--external-id", "w-slow")
    watched = submit(emu, tmp_path, img, "--mode", "pro", "--external-id", "w-pro")
    done = cli("wait", "w-pro", "--poll-interval", "0.5", url=emu.url, home=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "succeeded" in done.stdout
    progress = done.stderr.splitlines()
    assert progress[0].startswith(f"task {watched['task_id']}: ")
    assert "waiting" in progress[0]
    assert progress[-1].startswith(f"task {watched['task_id']}: succeeded after ")
    assert progress[-1].endswith(" s")

    late, took = timed(
        "wait", "w-slow", "--timeout", "1.5", "--poll-interval", "0.5", "--json",
        url=emu.url, home=tmp_path,
    )  # fmt: skip
    assert late.returncode == 3, late.stderr
    assert took < 15
    last = json.loads(late.stdout)
    assert (last["task_id"], last["timed_out"]) == (slow["task_id"], True)
    assert last["status"] in ("submitted", "processing")
    lines = late.stderr.splitlines()
    assert [line.split(":")[0] for line in lines] == ["error", "hint"]  # no progress with --json
    assert "still" in lines[0]
    assert "--timeout" in lines[0]
    assert "kling-async wait w-slow" in lines[1]

    quiet = cli("wait", "w-slow", "--timeout", "1", "--quiet", url=emu.url, home=tmp_path)
    assert quiet.returncode == 3
    assert quiet.stdout == ""
    assert [line.split(":")[0] for line in quiet.stderr.splitlines()] == ["error", "hint"]


@pytest.mark.parametrize("value", ["0.1", "nan", "10000", "soon"])
def test_wait_refuses_a_bad_poll_interval_naming_option_value_and_rule(
    tmp_path: Path, value: str
) -> None:
    done = cli("wait", "123", "--poll-interval", value, url=None, home=tmp_path)
    assert done.returncode == 2
    assert "--poll-interval" in done.stderr
    assert value in done.stderr
    if value != "soon":
        assert "from 0.5 to 600" in done.stderr


# -- submit: text-to-video, CLI words ---------------------------------------------------
def test_submit_makes_text_to_video_from_a_prompt_alone(
    emu: EmulatorThread, tmp_path: Path
) -> None:
    task = submit(emu, tmp_path, "--prompt", "a paper boat", "--aspect-ratio", "9:16")
    assert task["kind"] == "text2video"
    stored = emu.emulator.state.store.find(emu.config.accounts[0], "text2video", task["task_id"])
    assert stored is not None
    # kind: auto; a task of 0.3 s: a look every 0.5 s
    waited = cli(
        "wait", task["task_id"], "--json", "--poll-interval", "0.5", url=emu.url, home=tmp_path
    )
    assert waited.returncode == 0, waited.stderr
    assert json.loads(waited.stdout)["kind"] == "text2video"
    newest = cli("list", "--limit", "1", "--json", url=emu.url, home=tmp_path)  # both kinds
    assert [json.loads(x)["task_id"] for x in newest.stdout.splitlines()] == [task["task_id"]]
    nothing = cli("submit", url=emu.url, home=tmp_path)
    assert nothing.returncode == 2
    assert "--prompt alone for text-to-video" in nothing.stderr
    retired = cli("submit", "--prompt", "x", "--model", "kling-v1", url=emu.url, home=tmp_path)
    assert retired.returncode == 2
    assert "--model: 'kling-v1'" in retired.stderr
    assert "retired" in retired.stderr


def test_messages_use_option_names_not_sdk_names(emu: EmulatorThread, tmp_path: Path) -> None:
    img = str(image(tmp_path))
    done = cli("submit", img, "--sound", url=emu.url, home=tmp_path)  # kling-v2-6 std
    assert done.returncode == 2
    assert "--mode: 'std'" in done.stderr
    assert "native audio (--sound)" in done.stderr
    assert "sound=True" not in done.stderr
    creates = emu.stats()["creates"]
    turbo = cli(
        "submit", "--prompt", "x", "--model", "kling-3.0-turbo", "--no-sound",
        url=emu.url, home=tmp_path,
    )  # fmt: skip
    assert turbo.returncode == 2
    assert "--no-sound:" in turbo.stderr
    assert "sound=" not in turbo.stderr
    assert emu.stats()["creates"] == creates  # nothing was sent
    host = cli("status", "1", "--base-url", "http://example.com", url=emu.url, home=tmp_path)
    assert host.returncode == 2
    assert "error: --base-url: 'http://example.com' is plain http" in host.stderr
    assert "allow_http" not in host.stderr


# -- whole-run errors -------------------------------------------------------------------
def test_whole_run_errors_are_said_once_with_a_hint_and_exit_2(
    emu: EmulatorThread, tmp_path: Path
) -> None:
    wrong = cli("account", url=emu.url, home=tmp_path, KLING_API_KEY="not-a-key-at-all")
    assert wrong.returncode == 2, wrong.stderr
    assert wrong.stderr.count("error:") == 1
    assert "hint: Kling refused the credentials from the environment" in wrong.stderr
    assert "not-a-key-at-all" not in wrong.stderr + wrong.stdout
    poor = cli("submit", str(image(tmp_path)), url=emu.url, home=tmp_path, KLING_API_KEY=POOR_KEY)
    assert poor.returncode == 2, poor.stderr
    assert poor.stderr.count("error:") == 1
    assert "[1102]" in poor.stderr
    assert "top it up" in poor.stderr
    missing = cli("account", url=None, home=tmp_path)
    assert missing.returncode == 2
    assert "KLING_API_KEY" in missing.stderr
    assert "config.toml" in missing.stderr  # the hint names the config file too
    assert "access_key=" not in missing.stderr  # the SDK's argument, not the CLI's


# -- download ---------------------------------------------------------------------------
def test_download_never_clobbers_takes_a_folder_and_speaks_json(
    emu: EmulatorThread, tmp_path: Path
) -> None:
    task = submit(emu, tmp_path, str(image(tmp_path)), "--external-id", "dl-1")
    cli("wait", "dl-1", "--quiet", "--poll-interval", "0.5", url=emu.url, home=tmp_path)
    mine = tmp_path / "mine.mp4"
    mine.write_bytes(b"my own film")
    refused = cli("download", "dl-1", "--out", str(mine), url=emu.url, home=tmp_path)
    assert refused.returncode == 2
    assert str(mine) in refused.stderr
    assert "--overwrite" in refused.stderr
    assert mine.read_bytes() == b"my own film"
    replaced = cli(
        "download", "dl-1", "--out", str(mine), "--overwrite", "--json", url=emu.url, home=tmp_path
    )
    assert replaced.returncode == 0, replaced.stderr
    record = json.loads(replaced.stdout)
    assert record == {
        "task_id": task["task_id"],
        "external_task_id": "dl-1",
        "path": str(mine),
        "bytes": 50_000,
    }
    assert mine.stat().st_size == 50_000
    folder = tmp_path / "videos"
    folder.mkdir()
    into = cli("download", "dl-1", "--out", str(folder), url=emu.url, home=tmp_path)
    assert into.returncode == 0, into.stderr
    expected = folder / f"{task['task_id']}.mp4"
    assert into.stdout.strip() == str(expected)
    assert expected.stat().st_size == 50_000
    again = cli("download", "dl-1", "--out", str(folder), url=emu.url, home=tmp_path)
    assert again.returncode == 2
    assert str(expected) in again.stderr


# -- account ----------------------------------------------------------------------------
def test_account_numbers_read_well(emu: EmulatorThread, tmp_path: Path) -> None:
    done = cli("account", url=emu.url, home=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "Emulator video pack: " in done.stdout
    assert "e+" not in done.stdout
    assert " of 1,234,567.5 units left (online, expires " in done.stdout
    assert re.search(
        r"^total remaining: 1,23\d,\d{3}(\.\d+)? units \(in online packs\)$", done.stdout, re.M
    )


async def test_account_with_unknown_remaining_and_a_single_unit(
    emu: EmulatorThread, tmp_path: Path
) -> None:
    packs = [
        {"resource_pack_name": "Tiny", "resource_pack_id": "a", "resource_pack_type": "x",
         "total_quantity": 1, "remaining_quantity": 1, "status": "online"},
        {"resource_pack_name": "Vague", "resource_pack_id": "b", "resource_pack_type": "x",
         "total_quantity": 2_500_000, "remaining_quantity": None, "status": "online"},
    ]  # fmt: skip
    body = {"code": 0, "message": "SUCCEED", "request_id": "r", "data": {"code": 0,
            "msg": "ok", "resource_pack_subscribe_infos": packs}}  # fmt: skip

    def rule(method: str, path: str, status: int, raw: bytes) -> bytes | None:
        return json.dumps(body).encode() if path == "/account/costs" else None

    async with HostileProxy(emu.url) as proxy:
        proxy.rules.append(rule)
        proc = await asyncio.create_subprocess_exec(
            *CLI, "account",
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
            env=env_for(proxy.url, tmp_path),
        )  # fmt: skip
        out, err = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode == 0, err.decode()
    assert out.decode().splitlines() == [
        "Tiny: 1 of 1 unit left (online)",
        "Vague: unknown of 2,500,000 units left (online)",
        "total remaining: unknown units (in online packs)",
    ]


# -- report -----------------------------------------------------------------------------
async def test_report_reads_the_journal_while_a_run_holds_it(tmp_path: Path) -> None:
    out = tmp_path / "videos"
    journal = await Journal(out / ".kling-journal.db").open()
    try:
        for name in ("a", "b", "c", "d"):
            await journal.get_or_claim(f"job-{name}", name, "image2video")
        await journal.update("job-a", "done", task_id="t-a", external_task_id="x-a", units=1.5)
        (out / "a.mp4").write_bytes(b"video")
        await journal.update(
            "job-b", "failed", task_id="t-b", external_task_id="x-b", error="Image pixel is invalid"
        )
        await journal.update("job-c", "submitted", task_id="t-c", external_task_id="x-c", cost=2.0)
        before = sorted(p.name for p in out.iterdir())
        env = env_for(None, tmp_path)  # no credentials at all
        as_json = await asyncio.to_thread(
            subprocess.run, [*CLI, "report", str(out), "--json"],
            capture_output=True, text=True, timeout=60, env=env,
        )  # fmt: skip
        plain = await asyncio.to_thread(
            subprocess.run, [*CLI, "report", str(out)],
            capture_output=True, text=True, timeout=60, env=env,
        )  # fmt: skip
        after = sorted(p.name for p in out.iterdir())
    finally:
        await journal.close()
    assert as_json.returncode == 0, as_json.stderr
    report = json.loads(as_json.stdout)
    assert report["counts"] == {"pending": 1, "submitted": 1, "done": 1, "failed": 1}
    assert report["units_committed"] == 3.5  # billed 1.5 + the 2.0 estimate of the running one
    assert f"pid {os.getpid()}" in report["in_use_by"]
    jobs = {j["name"]: j for j in report["jobs"]}
    assert jobs["a"]["output"] == str(out / "a.mp4")
    assert jobs["a"]["output_exists"] is True
    assert jobs["b"]["error"] == "Image pixel is invalid"
    assert [jobs[n]["external_task_id"] for n in "abcd"] == ["x-a", "x-b", "x-c", None]
    assert plain.returncode == 0, plain.stderr
    assert "jobs: 4 — pending 1, submitted 1, done 1, failed 1" in plain.stdout
    assert "b failed (task t-b, external x-b): Image pixel is invalid" in plain.stdout
    assert f"a -> {out / 'a.mp4'} (task t-a, external x-a)" in plain.stdout
    assert "units committed: 3.5 units" in plain.stdout
    assert after == before  # nothing written
    empty = await asyncio.to_thread(
        subprocess.run, [*CLI, "report", str(tmp_path)],
        capture_output=True, text=True, timeout=60, env=env,
    )  # fmt: skip
    assert empty.returncode == 2
    assert "does not exist" in empty.stderr


# -- help, exit codes, completion -------------------------------------------------------
def test_help_documents_exit_codes_and_completion_which_works(tmp_path: Path) -> None:
    helped = cli("--help", url=None, home=tmp_path)
    assert helped.returncode == 0
    text = " ".join(helped.stdout.split())
    assert "3 timed out" in text
    assert "_KLING_ASYNC_COMPLETE=bash_source kling-async" in text
    assert "config.toml" in text
    script = cli(url=None, home=tmp_path, _KLING_ASYNC_COMPLETE="bash_source")
    assert script.returncode == 0
    assert "_kling_async_completion()" in script.stdout
    assert "complete -o nosort -F _kling_async_completion kling-async" in script.stdout
    words = cli(
        url=None, home=tmp_path, _KLING_ASYNC_COMPLETE="bash_complete",
        COMP_WORDS="kling-async wa", COMP_CWORD="1",
    )  # fmt: skip
    assert "plain,wait" in words.stdout.split()


# -- wait's pieces, in-process ------------------------------------------------------------
async def test_progress_says_changes_and_a_still_line_when_nothing_changes(
    capsys: pytest.CaptureFixture[str],
) -> None:
    from kling_async.cli._wait_cmd import _Progress
    from kling_async.results import Task
    from kling_async.states import TaskStatus

    now = [100.0]
    progress = _Progress(enabled=True)
    progress._start = progress._last_line = 100.0
    progress._now = lambda: now[0]  # type: ignore[method-assign]
    for at, status in [(100, "submitted"), (103, "processing"), (120, "processing"),
                       (134, "processing"), (140, "processing"), (200, "succeeded")]:  # fmt: skip
        now[0] = float(at)
        progress(Task("t1", TaskStatus(status)))
    assert capsys.readouterr().err.splitlines() == [
        "task t1: submitted; waiting (Ctrl-C stops waiting, not the task)",
        "task t1: processing after 3 s",
        "task t1: still processing after 34 s",
        "task t1: succeeded after 1 min 40 s",
    ]
    quiet = _Progress(enabled=False)
    quiet(Task("t2", TaskStatus.PROCESSING))
    assert capsys.readouterr().err == ""


def test_wait_polls_as_its_help_says_whatever_the_tasks_age() -> None:
    """After the first look (at once): 3 s growing to 15 s, as --help and the README say; a
    task submitted a moment ago is not left until the SDK's first_poll (30 s)."""
    from kling_async._waiting import WaitPolicy
    from kling_async.cli._wait_cmd import _policy

    default = WaitPolicy()  # the SDK's: first look after 30 s, then 3 s growing to 15 s
    policy = _policy(default, None)
    assert policy.first_poll == 3.5
    assert (policy.min_interval, policy.max_interval) == (3.0, 15.0)
    fixed = _policy(default, 2.0)
    assert (fixed.first_poll, fixed.min_interval, fixed.max_interval, fixed.factor) == (
        2.0, 2.0, 2.0, 1.0,
    )  # fmt: skip


def test_the_reader_takes_an_old_journal_and_ignores_a_dead_holder(tmp_path: Path) -> None:
    import socket
    import sqlite3

    from kling_async.batch._journal_read import read_journal

    path = tmp_path / ".kling-journal.db"
    with sqlite3.connect(path) as conn:  # kling-async 0.1: no generation/cost, no meta
        conn.execute(
            "CREATE TABLE jobs (job_id TEXT PRIMARY KEY, name TEXT, kind TEXT, state TEXT, "
            "external_task_id TEXT, task_id TEXT, output TEXT, error TEXT, units REAL, "
            "attempts INTEGER, updated REAL)"
        )
        conn.execute(
            "INSERT INTO jobs VALUES ('j', 'p0', 'image2video', 'done', 'x', 't', 'p0.mp4', "
            "NULL, 2.5, 1, 0)"
        )
    conn.close()
    host = socket.gethostname()
    lock = tmp_path / ".kling-journal.db.lock"
    lock.write_text(f"pid 999999999 on {host} since 2026-12-01 10:00:00 (kling-async animate)")
    snapshot = read_journal(path)
    assert [(j.name, j.state, j.generation, j.cost) for j in snapshot.jobs] == [
        ("p0", "done", 0, None)
    ]
    assert snapshot.units_committed() == 2.5
    assert snapshot.in_use_by is None  # that process is gone (killed): nobody holds it
    lock.write_text(f"pid {os.getpid()} on {host} since 2026-12-01 10:00:00 (kling-async x)")
    assert read_journal(path).in_use_by is not None
