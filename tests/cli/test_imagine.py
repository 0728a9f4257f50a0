"""`kling-async imagine`: one prompt to -n images in a folder, as a user runs it (a
subprocess against an emulator on 127.0.0.1 port 0, no config file but the test's)."""

from __future__ import annotations

import io
import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from PIL import Image

from kling_async.emulator import EmulatorConfig, EmulatorThread

from .._helpers import API_KEY, CLI, test_account


@pytest.fixture(scope="module")
def emu() -> Iterator[EmulatorThread]:
    config = EmulatorConfig(accounts=[test_account(units=1_000.0)], duration=(0.2, 0.4), seed=5)
    with EmulatorThread(config) as running:
        yield running


def imagine(*args: str | Path, url: str, home: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("KLING_")}
    env["XDG_CONFIG_HOME"] = str(home / "xdg")  # never the user's own config file
    env |= {"KLING_BASE_URL": url, "KLING_API_KEY": API_KEY}
    return subprocess.run(
        [*CLI, "imagine", *map(str, args)], capture_output=True, text=True, timeout=60, env=env
    )


def test_imagine_writes_every_image_and_exits_0(emu: EmulatorThread, tmp_path: Path) -> None:
    out = tmp_path / "imgs"
    done = imagine("a red fox in snow", "-n", "4", "--out", out, "-q", url=emu.url, home=tmp_path)
    assert done.returncode == 0, done.stderr
    printed = [Path(line) for line in done.stdout.splitlines()]
    assert len(printed) == 4
    assert sorted(printed) == sorted(out.iterdir())
    for path in printed:
        with Image.open(io.BytesIO(path.read_bytes())) as image:
            image.load()  # a decodable image
    assert emu.stats()["requests_by_route"]["POST /v1/images/generations"] >= 1


def test_imagine_json_names_the_task_and_the_paths(emu: EmulatorThread, tmp_path: Path) -> None:
    out = tmp_path / "imgs"
    done = imagine(
        "a pear", "--out", out, "--json", "--resolution", "2k", url=emu.url, home=tmp_path
    )
    assert done.returncode == 0, done.stderr
    record = json.loads(done.stdout)
    assert record["status"] == "succeeded"
    assert len(record["paths"]) == 1
    assert Path(record["paths"][0]).parent == out


@pytest.mark.parametrize("n", ["0", "10"])
def test_a_bad_n_is_a_usage_error(emu: EmulatorThread, tmp_path: Path, n: str) -> None:
    done = imagine("a fox", "-n", n, "--out", tmp_path / "x", url=emu.url, home=tmp_path)
    assert done.returncode == 2
    assert f"'-n': {n} is not in the range 1<=x<=9" in done.stderr, done.stderr
    assert not (tmp_path / "x").exists()


def test_negative_prompt_with_image_is_refused_before_sending(
    emu: EmulatorThread, tmp_path: Path
) -> None:
    ref = tmp_path / "ref.png"
    Image.new("RGB", (400, 400), (10, 20, 30)).save(ref)
    done = imagine(
        "a fox",
        "--image",
        ref,
        "--negative-prompt",
        "blur",
        "--out",
        tmp_path / "y",
        url=emu.url,
        home=tmp_path,
    )
    assert done.returncode == 2
    assert "--negative-prompt: 'blur'" in done.stderr, done.stderr
    assert "nothing was sent" in done.stderr
