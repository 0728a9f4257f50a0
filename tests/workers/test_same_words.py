"""A run on workers speaks as a local run: ``animate -r --redis`` and ``animate -r`` on the same
photos (sub-folders, two same-named files in two of them, a twin, an invalid image, a file
that is not an image) give the same ``--json`` events with the same fields, the same outcome
per name, the same files under the output folder (sub-folders mirrored), the same lines and
summary words — and ``report`` tells the same of either store."""

from __future__ import annotations

import asyncio
import json
import os
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from kling_async.emulator import EmulatorThread

from .._helpers import ACCESS_KEY, API_KEY, CLI, SECRET_KEY, png, test_account
from .._redis_server import RedisServer
from .._worker_cluster import Cluster

pytestmark = pytest.mark.timeout(120)


def _photos(folder: Path) -> None:
    for i, relative in enumerate(("beach/b1.png", "city/b1.png", "top.png", "beach/sea.png")):
        path = folder / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        Image.new("RGB", (320, 320), (40 * i, 90, 90)).save(path)
    (folder / "city" / "twin.png").write_bytes((folder / "top.png").read_bytes())
    (folder / "tiny.png").write_bytes(png(100, 100))  # invalid: under 300 px
    (folder / "notes.txt").write_text("not an image")  # ignored


def _env() -> dict[str, str]:
    return {
        **os.environ,
        "KLING_ACCESS_KEY": ACCESS_KEY,
        "KLING_SECRET_KEY": SECRET_KEY,
        "KLING_API_KEY": API_KEY,
    }


async def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return await asyncio.to_thread(
        subprocess.run, [*CLI, *args], env=_env(), capture_output=True, text=True, timeout=90
    )


def _events(stdout: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in stdout.splitlines()]


def _fields(events: list[dict[str, Any]]) -> dict[str, set[frozenset[str]]]:
    """Event name -> the field sets its records have."""
    found: dict[str, set[frozenset[str]]] = {}
    for event in events:
        found.setdefault(event["event"], set()).add(frozenset(event))
    return found


def _by_name(events: list[dict[str, Any]], out: Path) -> dict[str, tuple[Any, ...]]:
    """Each outcome's name -> its status, path (relative to ``out``) and twin's original."""
    return {
        e["name"]: (
            e["status"],
            Path(e["path"]).relative_to(out).as_posix() if e.get("path") else None,
            e.get("duplicate_of"),
        )
        for e in events
        if e["event"] == "outcome"
    }


def _lines(stdout: str, out: Path) -> set[str]:
    """The outcome lines and summary words, paths and task ids made comparable."""
    text = stdout.replace(str(out), "OUT")
    text = re.sub(r"\(task [^)]*\)", "(task T)", text)
    kept = set()
    for line in text.splitlines():
        cells = [c.strip() for c in line.strip("|+ ").split("|")]
        if re.fullmatch(r"[-+ ]*", line):
            continue  # the summary table's borders
        if len(cells) == 2:  # a summary row: its label (values such as time differ)
            kept.add(f"row {cells[0]}")
        else:
            kept.add(re.sub(r"\d+(\.\d+)? s\b", "N s", line))
    return kept


def _files(out: Path) -> list[str]:
    return sorted(p.relative_to(out).as_posix() for p in out.rglob("*.mp4"))


async def test_a_run_on_workers_speaks_as_a_local_run(
    redis_server: RedisServer, tmp_path: Path
) -> None:
    photos = tmp_path / "photos"
    _photos(photos)
    emulator = EmulatorThread(
        accounts=[test_account(concurrency_limit=20)], duration=(0.2, 0.4), video_bytes=4096
    )
    runs: dict[str, subprocess.CompletedProcess[str]] = {}
    outs = {name: tmp_path / name for name in ("local-json", "local-text", "q-json", "q-text")}
    # two queues, each with its worker and its folder: Redis databases 1 and 2 of one server
    urls = {mode: f"{redis_server.url}?db={db}" for db, mode in ((1, "json"), (2, "text"))}
    with emulator as emu:
        clusters = [
            # leases of 10 s: a worker starved by a loaded machine keeps its job (a lapsed
            # one is run again and found done: "skipped", which a local run would not say)
            Cluster(
                urls[mode], outs[f"q-{mode}"], emu.url, tmp_path / f"logs-{mode}", count=1, lease=10
            )
            for mode in ("json", "text")
        ]
        for cluster in clusters:
            cluster.start()
        try:
            for cluster in clusters:
                await cluster.wait_ready()
            base = ["animate", str(photos), "-r", "--prompt", "waves", "--out"]
            local = ["--base-url", emu.url]
            json_ = "--json"
            runs["local-json"] = await _cli(*base, str(outs["local-json"]), json_, *local)
            runs["local-text"] = await _cli(*base, str(outs["local-text"]), *local)
            runs["q-json"] = await _cli(*base, str(outs["q-json"]), json_, "--redis", urls["json"])
            runs["q-text"] = await _cli(*base, str(outs["q-text"]), "--redis", urls["text"])
            reports = {
                "local": await _cli("report", str(outs["local-json"]), json_),
                "queue": await _cli("report", str(outs["q-json"]), json_, "--redis", urls["json"]),
                "queue-text": await _cli("report", str(outs["q-text"]), "--redis", urls["text"]),
            }
        finally:
            codes = [cluster.stop() for cluster in clusters]
    for name, run in runs.items():  # an invalid image: exit 1 for both
        assert run.returncode == 1, f"{name}: {run.stdout[-1500:]}\n{run.stderr[-1500:]}"
    assert codes == [[0], [0]], [cluster.log(0) for cluster in clusters]
    said = "\n".join(f"-- {name}\n{run.stdout}" for name, run in runs.items())

    # --json: the same events, each with the same fields; the same outcome per name
    local, queued = _events(runs["local-json"].stdout), _events(runs["q-json"].stdout)
    assert _fields(queued) == _fields(local), said
    assert {"ignored", "outcome", "summary"} <= set(_fields(local))
    assert _by_name(queued, outs["q-json"]) == _by_name(local, outs["local-json"]), said
    twins = {n: v for n, v in _by_name(local, outs["local-json"]).items() if v[2] is not None}
    assert len(twins) == 1, twins  # top.png and city/twin.png: one job, copied
    summary = {e["event"]: e for e in queued}["summary"]
    assert summary["counts"] == {e["event"]: e for e in local}["summary"]["counts"], said

    # the same files: sub-folders mirrored, same-named images in two of them kept apart
    expected = ["beach/b1.mp4", "beach/sea.mp4", "city/b1.mp4", "city/twin.mp4", "top.mp4"]
    for name in outs:
        assert _files(outs[name]) == expected, name

    # the same lines and summary words
    queue_lines = _lines(runs["q-text"].stdout, outs["q-text"])
    local_lines = _lines(runs["local-text"].stdout, outs["local-text"])
    assert queue_lines == local_lines, (queue_lines ^ local_lines, said)

    # report: the same from the journal and from the workers' store
    for name, report in reports.items():
        assert report.returncode == 0, f"{name}: {report.stderr}"
    mine, theirs = json.loads(reports["local"].stdout), json.loads(reports["queue"].stdout)
    assert set(theirs) == set(mine)
    assert theirs["counts"] == mine["counts"] == {"done": 4}  # a twin is no job of its own
    assert theirs["units_committed"] == mine["units_committed"]
    assert sorted((j["name"], j["state"], j["output_exists"]) for j in theirs["jobs"]) == sorted(
        (j["name"], j["state"], j["output_exists"]) for j in mine["jobs"]
    )
    assert all(set(j) == set(mine["jobs"][0]) for j in theirs["jobs"])
    text = reports["queue-text"].stdout
    assert "beach/b1 -> " in text
    assert str(outs["q-text"] / "city" / "b1.mp4") in text
    assert "[file missing]" not in text


def test_report_never_shows_a_redis_password(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from kling_async.cli import main

    url = "redis://:hunter2-secret@127.0.0.1:9/0"  # nothing listens: refused at once
    result = CliRunner().invoke(main, ["report", str(tmp_path), "--redis", url])
    assert result.exit_code == 2, result.output
    assert "hunter2" not in result.output
    assert "redis://:***@127.0.0.1:9/0" in result.output


def test_report_on_a_folder_without_a_journal_points_at_the_workers_store(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from kling_async.cli import main

    (tmp_path / "b1.mp4").write_bytes(b"made by a worker")
    result = CliRunner().invoke(main, ["report", str(tmp_path)])
    assert result.exit_code == 2, result.output
    assert "does not exist" in result.output
    assert "add --redis URL" in result.output
