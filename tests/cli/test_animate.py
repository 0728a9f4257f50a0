"""`kling-async animate` as a new user meets it: a subprocess against the emulator (#13).

Each test here failed on a68f663: errors of the whole run said once per image with exit 1,
option combinations refused per image after the run started, identical images reported as
three creates, an interrupted --json run without a last word, silent skips of other files."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from kling_async.cli import main
from kling_async.emulator import EmulatorConfig, EmulatorThread

from .._helpers import API_KEY, CLI, png, test_account


def start(**changes: Any) -> EmulatorThread:
    account = changes.pop("account", test_account(concurrency_limit=4))
    fields: dict[str, Any] = {
        "accounts": [account],
        "duration": (0.2, 0.4),
        "video_bytes": 20_000,
        "seed": 13,
    }
    fields.update(changes)
    return EmulatorThread(EmulatorConfig(**fields))


@pytest.fixture
def emu() -> Iterator[EmulatorThread]:
    with start() as running:
        yield running


def env_for(emu: EmulatorThread | None, key: str = API_KEY) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("KLING_")}
    if emu is not None:
        env |= {"KLING_BASE_URL": emu.url, "KLING_API_KEY": key}
    return env


def cli(
    *args: str | Path, emu: EmulatorThread | None, key: str = API_KEY
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*CLI, "animate", *map(str, args)],
        capture_output=True,
        text=True,
        timeout=120,
        env=env_for(emu, key),
    )


def images(folder: Path, count: int, size: tuple[int, int] = (480, 320)) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    out = []
    for i in range(count):
        path = folder / f"shot{i:02d}.png"
        path.write_bytes(png(*size, (20 * i % 256, 120, 80)))
        out.append(path)
    return out


def events(stdout: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in stdout.splitlines()]


def test_refused_credentials_are_said_once_exit_2_and_a_fixed_rerun_loses_nothing(
    emu: EmulatorThread, tmp_path: Path
) -> None:
    images(tmp_path / "in", 6)
    out = tmp_path / "out"
    plain = cli(tmp_path / "in", "--out", out, emu=emu, key="wrong-key")
    assert plain.returncode == 2, plain.stdout + plain.stderr
    assert plain.stdout.count("[1000]") == 1  # said once, not once per image
    assert plain.stdout.count("hint:") == 1
    assert "KLING_API_KEY" in plain.stdout
    assert not [line for line in plain.stdout.splitlines() if line.startswith("failed")]
    assert re.search(r"\| not sent +\| 6 ", plain.stdout)
    as_json = cli(tmp_path / "in", "--out", out, "--json", emu=emu, key="wrong-key")
    assert as_json.returncode == 2
    records = events(as_json.stdout)
    stopped = [r for r in records if r["event"] == "stopped"]
    assert len(stopped) == 1
    assert "[1000]" in stopped[0]["error"]
    assert "KLING_API_KEY" in stopped[0]["hint"]
    outcomes = [r for r in records if r["event"] == "outcome"]
    assert [r["status"] for r in outcomes] == ["not_sent"] * 6
    assert {r["error"] for r in outcomes} == {  # the cause is said once, in 'stopped'
        "not sent: the run stopped creating (see the 'stopped' event)"
    }
    assert records[-1]["event"] == "summary"
    assert records[-1]["counts"]["not_sent"] == 6
    assert emu.stats()["create_requests"] == 0
    for shown in (plain.stdout, plain.stderr, as_json.stdout, as_json.stderr):
        assert "wrong-key" not in shown  # the secret is never printed
    fixed = cli(tmp_path / "in", "--out", out, "--json", emu=emu)
    assert fixed.returncode == 0, fixed.stderr
    assert events(fixed.stdout)[-1]["counts"]["succeeded"] == 6
    assert len(list(out.glob("*.mp4"))) == 6


def test_a_used_up_pack_stops_creating_says_so_once_and_keeps_what_was_made(
    tmp_path: Path,
) -> None:
    images(tmp_path / "in", 8)
    out = tmp_path / "out"
    # kling-v2-6 std 5 s costs 1.5: the pack pays for two videos
    with start(account=test_account(concurrency_limit=4, units=3.0)) as emu:
        done = cli(tmp_path / "in", "--out", out, emu=emu)
        stats = emu.stats()
    assert done.returncode == 2, done.stdout + done.stderr
    text = done.stdout + done.stderr
    assert text.count("[1102]") == 1  # was 6 failure lines, then the same 6 in the summary
    assert text.count("hint:") == 1
    assert "top the resource pack up" in text
    assert re.search(r"\| not sent +\| 6 ", done.stdout)
    assert stats["creates"] == 2
    assert len(list(out.glob("*.mp4"))) == 2  # what was made is kept
    assert "2 of 8 video(s) done" in done.stdout


def test_an_option_the_model_cannot_take_is_one_usage_error_before_any_request(
    emu: EmulatorThread, tmp_path: Path
) -> None:
    images(tmp_path / "in", 12)
    done = cli(tmp_path / "in", "--out", tmp_path / "out", "--camera", "zoom_in", emu=emu)
    assert done.returncode == 2
    assert done.stdout == ""
    assert done.stderr.count("zoom_in") == 1
    assert "--camera zoom_in: kling-v2-6 offers no camera control for image to video" in (
        done.stderr
    )
    assert "--allow-unknown-models" in done.stderr
    assert emu.stats()["requests"] == 0
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["--sound"], "--sound: kling-v2-6 offers native audio only with --mode pro"),
        (["--model", "kling-v2-5-turbo", "--sound"], "kling-v2-5-turbo offers no native audio"),
        (["--voice", "v1"], "--voice v1: voices need --sound"),
        (["--model", "kling-v3", "--duration", "20"], "--duration 20: kling-v3 makes videos of 3"),
        (["--duration", "7"], "--duration 7: kling-v2-6 makes videos of 5 or 10 seconds"),
        (["--model", "kling-v1-6"], "--model kling-v1-6: retired"),
        (["--model", "kling-v9"], "--model kling-v9: not in Kling's 2026 capability map"),
        (
            ["--model", "kling-3.0-turbo", "--negative-prompt", "blur"],
            "--negative-prompt blur: the new API (model kling-3.0-turbo) has no field for it",
        ),
        (
            ["--mode", "pro", "--sound", "--end-frame", "IMG"],
            "with --sound: kling-v2-6 makes videos with an end frame only silent",
        ),
        (["--cfg-scale", "0.5"], "--cfg-scale 0.5: kling-v2-6 takes no cfg_scale"),
        (["--model", "kling-3.0-turbo", "--no-sound"], "kling-3.0-turbo always makes audio"),
        (
            ["--model", "kling-v3", "--multi-prompt", "SHOTS", "--duration", "5"],
            "its shots add up to 7 s; the video is 5 s (--duration)",
        ),
        (
            ["--mode", "pro", "--sound", "--voice", "a", "--voice", "b", "--voice", "c"],
            "at most 2 voices",
        ),
        (["--aspect-ratio", "1:1"], "--aspect-ratio 1:1: only for text-to-video manifest rows"),
    ],
)
def test_option_combinations_are_checked_against_the_capability_map(
    tmp_path: Path, args: list[str], words: str
) -> None:
    image = images(tmp_path, 1)[0]
    shots = tmp_path / "shots.txt"
    shots.write_text("3 a wide shot\n4 a close-up\n")
    args = [{"IMG": str(image), "SHOTS": str(shots)}.get(a, a) for a in args]
    result = CliRunner().invoke(main, ["animate", str(image), "--out", "v", "--dry-run", *args])
    assert result.exit_code == 2, result.output
    assert words in result.output
    assert "would send" not in result.output


def test_camera_offers_only_what_image_to_video_takes() -> None:
    result = CliRunner().invoke(main, ["animate", "--help"])
    assert "zoom_in" in result.output
    assert "forward_up" not in result.output  # a text-to-video-only camera type
    refused = CliRunner().invoke(main, ["animate", "x.png", "--out", "v", "--camera", "down_back"])
    assert refused.exit_code == 2
    assert "down_back" in refused.output


def test_identical_images_are_made_once_and_every_name_gets_the_video(
    emu: EmulatorThread, tmp_path: Path
) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    same = png(480, 320, (9, 9, 9))
    for name in ("a", "b", "c"):
        (folder / f"{name}.png").write_bytes(same)
    (folder / "d.png").write_bytes(png(480, 320, (200, 9, 9)))
    out = tmp_path / "out"
    done = cli(folder, "--out", out, "--json", emu=emu)
    assert done.returncode == 0, done.stderr
    records = events(done.stdout)
    outcomes = {r["name"]: r for r in records if r["event"] == "outcome"}
    assert {n: r["duplicate_of"] for n, r in outcomes.items()} == {
        "a": None,
        "b": "a",
        "c": "a",
        "d": None,
    }
    assert {r["status"] for r in outcomes.values()} == {"succeeded"}
    assert (outcomes["a"]["units"], outcomes["b"]["units"], outcomes["c"]["units"]) == (1.5, 0, 0)
    summary = records[-1]
    assert summary["units"] == 3.0  # two creates of 1.5, not four
    assert [d["name"] for d in summary["duplicates"]] == ["b", "c"]
    assert emu.stats()["creates"] == 2
    videos = {p.name: p.read_bytes() for p in out.glob("*.mp4")}
    assert sorted(videos) == ["a.mp4", "b.mp4", "c.mp4", "d.mp4"]
    assert videos["a.mp4"] == videos["b.mp4"] == videos["c.mp4"] != videos["d.mp4"]
    assert outcomes["b"]["path"] == str(out / "b.mp4")
    again = cli(folder, "--out", out, "--plain", "--quiet", emu=emu)
    assert again.returncode == 0, again.stderr
    assert not [line for line in again.stdout.splitlines() if line.startswith("skipped")]
    assert "b.png and c.png are the same job as a.png" in again.stdout
    assert re.search(r"\| skipped \(done before\) +\| 4 ", again.stdout)
    assert re.search(r"\| same job as another +\| 2 \(copied\)", again.stdout)
    assert re.search(r"\| units used +\| 0 units ", again.stdout)
    assert emu.stats()["creates"] == 2


def signal_midway(
    emu: EmulatorThread, folder: Path, out: Path, signum: int
) -> tuple[int, str, str]:
    """``animate FOLDER --out OUT --json`` in a process of its own, sent ``signum`` once two
    creates went out; its exit code, stdout and stderr."""
    proc = subprocess.Popen(
        [*CLI, "animate", str(folder), "--out", str(out), "--json"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env_for(emu),
    )
    deadline = time.monotonic() + 30
    while emu.stats()["creates"] < 2 and time.monotonic() < deadline:
        time.sleep(0.02)
    proc.send_signal(signum)
    stdout, stderr = proc.communicate(timeout=30)
    return proc.returncode, stdout, stderr


def test_ctrl_c_on_a_json_run_ends_with_an_interrupted_event(tmp_path: Path) -> None:
    images(tmp_path / "in", 12)
    with start(duration=(2.0, 3.0)) as emu:
        code, out, err = signal_midway(emu, tmp_path / "in", tmp_path / "out", signal.SIGINT)
    assert code == 130, err
    last = events(out)[-1]
    assert last["event"] == "interrupted"
    assert set(last["counts"]) >= {"succeeded", "failed", "not_sent"}
    assert last["counts"]["succeeded"] < 12


def test_tasks_that_time_out_exit_3(tmp_path: Path) -> None:
    images(tmp_path / "in", 2)
    with start(duration=(4.0, 4.0)) as emu:
        done = cli(tmp_path / "in", "--out", tmp_path / "out", "--task-timeout", "1", emu=emu)
    assert done.returncode == 3, done.stdout + done.stderr
    assert sum(line.startswith("timed out ") for line in done.stdout.splitlines()) == 2
    assert re.search(r"\| timed out +\| 2 ", done.stdout)


def test_what_a_folder_holds_that_is_left_out_is_said_and_numbers_read_well(
    tmp_path: Path,
) -> None:
    folder = tmp_path / "in"
    images(folder, 1)
    (folder / "wide.png").write_bytes(png(1500, 500))
    for name in ("notes.txt", "clip.mov", "raw.cr2"):
        (folder / name).write_bytes(b"not an image animate takes")
    (folder / "more").mkdir()
    images(folder / "more", 1)
    (folder / "videos").mkdir()  # the output folder, inside the input folder
    (folder / "videos" / "old.mp4").write_bytes(b"a video")
    done = cli(folder, "--out", folder / "videos", "--dry-run", "--mode", "pro", emu=None)
    assert done.returncode == 1  # wide.png is invalid
    ignored = [line for line in done.stdout.splitlines() if line.startswith("ignored")]
    assert len(ignored) == 2, done.stdout  # one line per kind
    assert "3 file(s) not taken as images (.cr2, .mov, .txt" in ignored[0]
    assert "1 sub-folder(s) (more)" in ignored[1]  # not the output folder
    assert "-r" in ignored[1]
    recursive = cli(folder, "--out", folder / "videos", "-r", "--dry-run", emu=None)
    assert ".mp4" not in recursive.stdout.split("would send")[0]  # nothing from OUT
    assert "aspect ratio 3:1 (1500x500)" in done.stdout
    assert "(2.5 units)" in done.stdout
    assert "estimated 2.5 units" in done.stdout


def test_recursive_mirrors_sub_folders_and_globs_choose_the_images(
    emu: EmulatorThread, tmp_path: Path
) -> None:
    folder = tmp_path / "in"
    for sub, count in (("", 1), ("beach", 2), ("beach/dusk", 1)):
        for i in range(count):
            (folder / sub).mkdir(parents=True, exist_ok=True)
            (folder / sub / f"p{i}.png").write_bytes(png(480, 320, (len(sub) * 9, i * 40, 7)))
    (folder / "beach" / "draft-p9.png").write_bytes(png(480, 320, (1, 99, 1)))
    out = tmp_path / "out"
    done = cli(folder, "--out", out, "-r", "--exclude", "draft-*", "--json", emu=emu)
    assert done.returncode == 0, done.stderr
    records = events(done.stdout)
    paths = sorted(
        Path(r["path"]).relative_to(out).as_posix() for r in records if r["event"] == "outcome"
    )
    assert paths == ["beach/dusk/p0.mp4", "beach/p0.mp4", "beach/p1.mp4", "p0.mp4"]
    ignored = [r["note"] for r in records if r["event"] == "ignored"]
    assert ignored == ["1 image(s) left out by --include/--exclude (draft-p9.png)"]
    only = cli(folder, "--out", tmp_path / "two", "-r", "--include", "beach/*", emu=emu)
    assert only.returncode == 0, only.stderr
    assert sorted(p.name for p in (tmp_path / "two" / "beach").glob("*.mp4")) == [
        "draft-p9.mp4",
        "p0.mp4",
        "p1.mp4",
    ]
    assert not (tmp_path / "two" / "p0.mp4").exists()


def test_a_manifest_from_stdin_and_a_name_template(emu: EmulatorThread, tmp_path: Path) -> None:
    images(tmp_path, 2)
    done = subprocess.run(
        [
            *CLI,
            "animate",
            "--manifest",
            "-",
            "--out",
            "out",
            "--name",
            "clip-{index:02d}-{stem}.mp4",
        ],
        input="image,prompt\nshot00.png,waves\nshot01.png,wind\n",
        capture_output=True,
        text=True,
        timeout=120,
        env=env_for(emu),
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert sorted(p.name for p in (tmp_path / "out").glob("*.mp4")) == [
        "clip-01-shot00.mp4",
        "clip-02-shot01.mp4",
    ]
    assert "stdin:2" not in done.stdout  # no row refused


@pytest.mark.parametrize(
    ("template", "words"),
    [
        ("{nope}.mp4", "unknown placeholder {nope}; known: {stem}, {name}, {folder}"),
        ("video.mp4", "would give every video the same name"),
        ("{stem", "'{stem'"),
    ],
)
def test_a_bad_name_template_is_a_usage_error(tmp_path: Path, template: str, words: str) -> None:
    image = images(tmp_path, 1)[0]
    result = CliRunner().invoke(
        main, ["animate", str(image), "--out", "v", "--dry-run", "--name", template]
    )
    assert result.exit_code == 2, result.output
    assert "--name" in result.output
    assert words in result.output


def test_manifest_rows_with_a_prompt_and_no_image_are_text_to_video(
    emu: EmulatorThread, tmp_path: Path
) -> None:
    images(tmp_path, 1)
    (tmp_path / "rows.csv").write_text(
        "image,prompt,aspect_ratio,model,duration\n"
        ",a lighthouse at dusk,9:16,,\n"
        "shot00.png,waves,,,\n"
        ",a fox in snow,,kling-v3,3\n"
        "shot00.png,an image keeps its own,1:1,,\n"
    )
    out = tmp_path / "out"
    done = cli("--manifest", tmp_path / "rows.csv", "--out", out, "--json", emu=emu)
    assert done.returncode == 1, done.stderr  # the last row is refused
    records = events(done.stdout)
    invalid = [r for r in records if r["event"] == "invalid"]
    assert [r["source"] for r in invalid] == ["rows.csv:5"]
    assert "only a text-to-video row" in invalid[0]["error"]
    outcomes = {r["name"]: r for r in records if r["event"] == "outcome"}
    assert {n: r["status"] for n, r in outcomes.items()} == {
        "rows-2": "succeeded",
        "shot00": "succeeded",
        "rows-4": "succeeded",
    }
    routes = emu.stats()["requests_by_route"]
    assert routes["POST /v1/videos/text2video"] == 2
    assert routes["POST /v1/videos/image2video"] == 1
    assert sorted(p.name for p in out.glob("*.mp4")) == ["rows-2.mp4", "rows-4.mp4", "shot00.mp4"]


def test_retry_failed_runs_again_only_what_the_journal_says_failed(tmp_path: Path) -> None:
    folder = tmp_path / "in"
    images(folder, 3)
    out = tmp_path / "out"
    with start(failure_rate=1.0) as emu:
        first = cli(folder, "--out", out, "--json", emu=emu)
        assert first.returncode == 1
        assert events(first.stdout)[-1]["counts"]["failed"] == 3
        emu.config.failure_rate = 0.0
        (folder / "new.png").write_bytes(png(480, 320, (250, 250, 1)))
        again = cli(folder, "--out", out, "--json", "--retry-failed", emu=emu)
        assert again.returncode == 0, again.stdout + again.stderr
        records = events(again.stdout)
        statuses = {r["name"]: r["status"] for r in records if r["event"] == "outcome"}
        assert statuses == {f"shot{i:02d}": "succeeded" for i in range(3)}  # not new.png
        assert [r["note"] for r in records if r["event"] == "ignored"] == [
            "1 job(s) not recorded as failed, by --retry-failed (3 failed one(s) run again)"
        ]
        stats = emu.stats()
        # each failed job created once more, on purpose (the emulator counts the same content
        # created again); new.png not at all
        assert (stats["creates"], stats["duplicate_creates"]) == (6, 3)
        rest = cli(folder, "--out", out, "--json", emu=emu)
        assert rest.returncode == 0
        assert events(rest.stdout)[-1]["counts"] == {
            **dict.fromkeys(["failed", "timed_out", "invalid", "not_sent"], 0),
            "succeeded": 1,
            "skipped": 3,
        }
        assert emu.stats()["creates"] == 7
    nothing_yet = cli(folder, "--out", tmp_path / "fresh", "--retry-failed", emu=None)
    assert nothing_yet.returncode == 2
    assert "--retry-failed: no journal at" in nothing_yet.stderr


def test_overwrite_or_no_clobber_decide_about_a_file_no_run_made(
    emu: EmulatorThread, tmp_path: Path
) -> None:
    images(tmp_path / "in", 2)
    kept, replaced = tmp_path / "kept", tmp_path / "replaced"
    for out in (kept, replaced):
        out.mkdir()
        (out / "shot00.mp4").write_bytes(b"my own edit")
    keep = cli(tmp_path / "in", "--out", kept, "--no-clobber", "--json", emu=emu)
    assert keep.returncode == 0, keep.stdout + keep.stderr
    outcomes = {r["name"]: r for r in events(keep.stdout) if r["event"] == "outcome"}
    assert (outcomes["shot00"]["status"], outcomes["shot00"]["reason"]) == ("skipped", "no_clobber")
    assert outcomes["shot01"]["status"] == "succeeded"
    assert (kept / "shot00.mp4").read_bytes() == b"my own edit"
    assert sorted(p.name for p in kept.glob("*.mp4")) == ["shot00.mp4", "shot01.mp4"]
    assert emu.stats()["creates"] == 1
    over = cli(tmp_path / "in", "--out", replaced, "--overwrite", emu=emu)
    assert over.returncode == 0, over.stdout + over.stderr
    assert (replaced / "shot00.mp4").stat().st_size == 20_000
    assert sorted(p.name for p in replaced.glob("*.mp4")) == ["shot00.mp4", "shot01.mp4"]


def test_max_units_reached_is_said_once_and_exits_1(emu: EmulatorThread, tmp_path: Path) -> None:
    images(tmp_path / "in", 5)
    done = cli(tmp_path / "in", "--out", tmp_path / "out", "--max-units", "3", emu=emu)
    assert done.returncode == 1, done.stdout + done.stderr  # the user's budget, not an error
    assert done.stdout.count("--max-units 3 reached") == 1  # was once per job, twice
    assert "raise --max-units" in done.stdout
    assert re.search(r"\| not sent +\| 3 ", done.stdout)
    assert emu.stats()["creates"] == 2


def test_no_clobber_with_twins_makes_the_twin_under_its_own_name(
    emu: EmulatorThread, tmp_path: Path
) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    for name in ("a", "b"):
        (folder / f"{name}.png").write_bytes(png(480, 320, (5, 5, 5)))
    out = tmp_path / "out"
    out.mkdir()
    (out / "a.mp4").write_bytes(b"mine")
    done = cli(folder, "--out", out, "--no-clobber", "--json", emu=emu)
    assert done.returncode == 0, done.stdout + done.stderr
    outcomes = {r["name"]: r["status"] for r in events(done.stdout) if r["event"] == "outcome"}
    assert outcomes == {"a": "skipped", "b": "succeeded"}
    assert (out / "a.mp4").read_bytes() == b"mine"
    assert (out / "b.mp4").stat().st_size == 20_000


def test_an_api_that_cannot_be_reached_stops_the_run_nothing_sent_exit_2(tmp_path: Path) -> None:
    """A refused connection proves nothing was sent: one 'stopped' line naming the base URL,
    exit 2, no units; the jobs stay pending and a run against a reachable API makes each once."""
    import socket

    images(tmp_path / "in", 3)
    out = tmp_path / "out"
    with socket.socket() as held:  # bound, not listening: connections to it are refused
        held.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{held.getsockname()[1]}"
        env = env_for(None) | {"KLING_BASE_URL": url, "KLING_API_KEY": API_KEY}
        done = subprocess.run(
            [*CLI, "animate", str(tmp_path / "in"), "--out", str(out)],
            capture_output=True,
            text=True,
            timeout=120,
            env=env,
        )
    text = done.stdout + done.stderr
    assert done.returncode == 2, text
    assert len(re.findall(r"^stopped ", text, re.MULTILINE)) == 1  # said once, not per job
    assert f"{url} could not be reached" in text
    assert text.count("hint:") == 1
    assert f"check that {url} is the API" in text
    assert "may have reached the server" not in text
    assert re.search(r"\| not sent +\| 3 ", done.stdout)
    assert re.search(r"\| units used +\| 0 units", done.stdout)
    report = subprocess.run(
        [*CLI, "report", str(out)], capture_output=True, text=True, timeout=60, env=env
    )
    assert "pending 3" in report.stdout, report.stdout
    with start() as emu:
        again = cli(tmp_path / "in", "--out", out, emu=emu)
        stats = emu.stats()
    assert again.returncode == 0, again.stdout + again.stderr
    assert stats["creates"] == 3
    assert len(list(out.glob("*.mp4"))) == 3


@pytest.mark.parametrize(
    ("args", "flag"),
    [
        (["--task-timeout", "60"], "--task-timeout"),
        (["--max-in-flight", "4"], "--max-in-flight"),
        (["--downloads", "2"], "--downloads"),
        (["--journal", "j.db"], "--journal"),
        (["--retry-failed"], "--retry-failed"),
        (["--no-clobber"], "--overwrite/--no-clobber"),
        (["--html"], "--html"),
    ],
)
def test_redis_refuses_what_the_workers_would_drop(
    tmp_path: Path, args: list[str], flag: str
) -> None:
    """Queue workers run with their own settings: an option they would ignore is a usage
    error before anything is queued (a Redis that is not there is never asked)."""
    image = images(tmp_path, 1)[0]
    redis = ["--redis", "redis://127.0.0.1:9/0"]
    result = CliRunner().invoke(main, ["animate", str(image), "--out", "v", *redis, *args])
    assert result.exit_code == 2, result.output
    assert f"{flag}: not carried to the workers with --redis" in result.output
    assert not (Path("v") / ".kling-journal.db").exists()


def test_redis_grace_without_redis_is_a_usage_error(tmp_path: Path) -> None:
    image = images(tmp_path, 1)[0]
    result = CliRunner().invoke(main, ["animate", str(image), "--out", "v", "--redis-grace", "5"])
    assert result.exit_code == 2, result.output
    assert "--redis-grace: only with --redis" in result.output
