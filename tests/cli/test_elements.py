"""``kling-async elements`` and ``voices`` as a user runs them against the emulator: an
element made from a folder of 3 images, listed, shown, named by a batch of 2 videos with
``animate --element``, deleted (and then refused); bad input named with its rule."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from kling_async.emulator import EmulatorConfig, EmulatorThread

from .._helpers import png, test_account
from .test_tasks import cli


@pytest.fixture(scope="module")
def emu() -> Iterator[EmulatorThread]:
    config = EmulatorConfig(
        accounts=[test_account()], duration=(0.1, 0.2), asset_seconds=0.2, seed=5
    )
    with EmulatorThread(config) as running:
        yield running


def folder(root: Path, count: int) -> Path:
    where = root / f"views-{count}"
    where.mkdir()
    for i in range(count):
        (where / f"{i}.png").write_bytes(png(400 + 10 * i, 400))
    return where


def test_an_element_from_a_folder_serves_a_batch_then_is_deleted(
    emu: EmulatorThread, tmp_path: Path
) -> None:
    made = cli(
        "elements", "create", str(folder(tmp_path, 3)), "--name", "Corgi",
        "--description", "our corgi", "--json", url=emu.url, home=tmp_path,
    )  # fmt: skip
    assert made.returncode == 0, made.stderr
    record = json.loads(made.stdout)
    assert record["status"] == "active"
    assert record["name"] == "Corgi"
    element = str(record["element_id"])

    listed = cli("elements", "list", url=emu.url, home=tmp_path)
    assert listed.returncode == 0
    assert element in listed.stdout
    shown = cli("elements", "get", element, "--json", url=emu.url, home=tmp_path)
    assert shown.returncode == 0, shown.stderr
    assert json.loads(shown.stdout)["element_id"] == int(element)

    shots = tmp_path / "shots"
    shots.mkdir()
    for name in ("a.png", "b.png"):
        (shots / name).write_bytes(png(480, 320))
    run = cli(
        "animate", str(shots), "--out", str(tmp_path / "videos"), "--model", "kling-3.0",
        "--element", element, "--prompt", "@element_1 runs", "--json",
        url=emu.url, home=tmp_path,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr
    assert sorted(p.name for p in (tmp_path / "videos").glob("*.mp4")) == ["a.mp4", "b.mp4"]

    gone = cli("elements", "delete", element, url=emu.url, home=tmp_path)
    assert gone.returncode == 0
    assert f"deleted element {element}" in gone.stdout
    again = cli(
        "animate", str(shots), "--out", str(tmp_path / "later"), "--model", "kling-3.0",
        "--element", element, "--prompt", "@element_1 runs", url=emu.url, home=tmp_path,
    )  # fmt: skip
    assert again.returncode != 0
    assert "has been deleted" in again.stdout + again.stderr


@pytest.mark.parametrize(
    ("count", "name", "words"),
    [
        (3, "x" * 21, "name: 'xxxxxxxxxxxxxxxxxxxxx' — 21 characters; at most 20"),
        (1, "ok", "refer_images: 0 — give 1 to 3 images besides the frontal one"),
        (5, "ok", "refer_images: 4 — give 1 to 3 images besides the frontal one"),
    ],
)
def test_bad_elements_are_refused_with_the_rule(
    emu: EmulatorThread, tmp_path: Path, count: int, name: str, words: str
) -> None:
    done = cli(
        "elements", "create", str(folder(tmp_path, count)), "--name", name,
        "--description", "d", url=emu.url, home=tmp_path,
    )  # fmt: skip
    assert done.returncode != 0
    assert words in done.stderr


def test_voices_from_a_url(emu: EmulatorThread, tmp_path: Path) -> None:
    made = cli(
        "voices", "create", "https://example.com/me.mp3", "--name", "Narrator", "--json",
        url=emu.url, home=tmp_path,
    )  # fmt: skip
    assert made.returncode == 0, made.stderr
    voice = json.loads(made.stdout)["voice_id"]
    listed = cli("voices", "list", url=emu.url, home=tmp_path)
    assert voice in listed.stdout
    presets = cli("voices", "list", "--presets", "--json", url=emu.url, home=tmp_path)
    assert presets.returncode == 0
    assert '"owned_by": "kling"' in presets.stdout
    assert cli("voices", "delete", voice, url=emu.url, home=tmp_path).returncode == 0
    shown = cli("voices", "get", voice, "--json", url=emu.url, home=tmp_path)
    assert json.loads(shown.stdout)["status"] == "deleted"
