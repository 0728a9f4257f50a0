"""One manifest mixing every kind of video job through ``kling-async animate --manifest`` on
the emulator: image to video (kling-3.0, 2 elements, 3 shots, new API), text to video, omni
video with reference images, omni kling-o1 editing a base video, motion control 3.0 — each
and image generation (two images) — each created exactly once, none twice, and a rerun
creates nothing; ``--dry-run`` names each kind."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from PIL import Image

from kling_async.emulator import EmulatorThread

from .._helpers import png
from .test_animate import cli, events, start

MANIFEST = (
    "kind,image,prompt,model,elements,multi_prompt,images,video,video_role,video_url,"
    "character_orientation,duration,n\n"
    ",beach.png,,kling-3.0,101;102,2 waves @element_1; 2 gulls; 1 sunset,,,,,,5,\n"
    ",,a lighthouse at night,,,,,,,,,,\n"
    "omni_video,,the cat of @image_1 on @image_2,kling-3.0-omni,,,cat.png;beach.png,,,,,5,\n"
    "omni_video,,make @video_1 look like autumn,kling-o1,,,,https://example.com/base.mp4,base"
    ",,,,\n"
    "motion_control,dancer.png,,kling-3.0,,,,,,https://example.com/moves.mp4,video,,\n"
    "images,,a red kite over the sea,kling-v3,,,,,,,,,2\n"
)


@pytest.fixture
def emu() -> Iterator[EmulatorThread]:
    with start() as running:
        yield running


def _folder(tmp_path: Path) -> Path:
    for name, color in (("beach", (200, 120, 40)), ("cat", (40, 120, 200)), ("dancer", (9, 9, 9))):
        (tmp_path / f"{name}.png").write_bytes(png(640, 360, color))
    manifest = tmp_path / "mixed.csv"
    manifest.write_text(MANIFEST, encoding="utf-8")
    return manifest


def test_one_manifest_of_every_video_kind_runs_once_and_a_rerun_creates_nothing(
    emu: EmulatorThread, tmp_path: Path
) -> None:
    manifest = _folder(tmp_path)
    out = tmp_path / "out"
    done = cli("--manifest", manifest, "--out", out, "--json", emu=emu)
    assert done.returncode == 0, done.stdout + done.stderr
    outcomes = {r["name"]: r["status"] for r in events(done.stdout) if r["event"] == "outcome"}
    # named by the first local image as given, else <manifest>-<line>
    names = ("beach", "mixed-3", "cat", "mixed-5", "dancer", "mixed-7")
    assert outcomes == dict.fromkeys(names, "succeeded")
    stats = emu.stats()
    assert stats["create_requests"] == 6
    assert stats["duplicate_creates"] == 0
    creates = {r: n for r, n in stats["requests_by_route"].items() if r.startswith("POST")}
    assert creates == {
        "POST /image-to-video/kling-3.0": 1,
        "POST /v1/videos/text2video": 1,
        "POST /omni-video/kling-3.0-omni": 1,
        "POST /omni-video/kling-o1": 1,
        "POST /motion-control/kling-3.0": 1,
        "POST /v1/images/generations": 1,
    }
    assert sorted(p.name for p in out.glob("*.mp4")) == [
        "beach.mp4",
        "cat.mp4",
        "dancer.mp4",
        "mixed-3.mp4",
        "mixed-5.mp4",
    ]
    pictures = sorted((out / "mixed-7").iterdir())
    assert [p.suffix for p in pictures] == [".png", ".png"]
    for picture in pictures:
        with Image.open(picture) as decoded:
            decoded.verify()
    again = cli("--manifest", manifest, "--out", out, "--json", emu=emu)
    assert again.returncode == 0, again.stdout + again.stderr
    statuses = [r["status"] for r in events(again.stdout) if r["event"] == "outcome"]
    assert statuses == ["skipped"] * 6
    assert emu.stats()["create_requests"] == 6


def test_a_dry_run_says_each_kind_and_sends_nothing(emu: EmulatorThread, tmp_path: Path) -> None:
    manifest = _folder(tmp_path)
    out = tmp_path / "out"
    lines = cli("--manifest", manifest, "--out", out, "--dry-run", emu=emu)
    assert lines.returncode == 0, lines.stdout + lines.stderr
    said = {line.split()[2]: line for line in lines.stdout.splitlines() if line.startswith("would")}
    assert "text to video" in said["mixed.csv:3"]
    assert "omni video" in said["mixed.csv:4"]
    assert "'model': 'kling-o1'" in said["mixed.csv:5"]
    assert "'role': 'base'" in said["mixed.csv:5"]
    assert "motion control" in said["mixed.csv:6"]
    assert "images" in said["mixed.csv:7"]
    assert "6 job(s) valid, 0 invalid" in lines.stdout
    records = cli("--manifest", manifest, "--out", out, "--dry-run", "--json", emu=emu)
    kinds = {
        r["source"]: r["kind"] for r in map(json.loads, records.stdout.splitlines()) if "kind" in r
    }
    assert kinds == {
        "mixed.csv:2": "image2video",
        "mixed.csv:3": "text2video",
        "mixed.csv:4": "omni_video",
        "mixed.csv:5": "omni_video",
        "mixed.csv:6": "motion_control",
        "mixed.csv:7": "images",
    }
    assert emu.stats()["create_requests"] == 0
    assert not list(out.glob("*.mp4"))


def test_local_images_of_omni_and_motion_rows_are_prepared_as_animate_s_are(
    emu: EmulatorThread, tmp_path: Path
) -> None:
    _folder(tmp_path)
    Image.new("RGB", (640, 360), (10, 200, 90)).save(tmp_path / "pet.webp")
    manifest = tmp_path / "prep.csv"
    manifest.write_text(
        "kind,image,prompt,images,first_frame,video_url,character_orientation\n"
        "omni_video,,@image_1 meets @image_2,pet.webp;cat.png,beach.png,,\n"
        "motion_control,pet.webp,,,,https://example.com/moves.mp4,image\n",
        encoding="utf-8",
    )
    out = tmp_path / "out"
    dry = cli("--manifest", manifest, "--out", out, "--dry-run", "--json", emu=emu)
    records = {r["source"]: r for r in events(dry.stdout) if r["event"] == "would_send"}
    omni, motion = records["prep.csv:2"], records["prep.csv:3"]
    assert omni["prepared_images[0]"]["converted"] is True, omni
    assert omni["request"]["images"] == [str(tmp_path / "pet.webp"), str(tmp_path / "cat.png")]
    assert "prepared_first_frame" in omni
    assert motion["prepared"]["converted"] is True, motion
    done = cli("--manifest", manifest, "--out", out, "--json", emu=emu)
    assert done.returncode == 0, done.stdout + done.stderr
    assert sorted(p.name for p in out.glob("*.mp4")) == ["beach.mp4", "pet.mp4"]
    assert len(list((out / ".kling-prepared").iterdir())) >= 1
    again = cli("--manifest", manifest, "--out", out, "--json", emu=emu)
    assert [r["status"] for r in events(again.stdout) if r["event"] == "outcome"] == ["skipped"] * 2
    assert emu.stats()["create_requests"] == 2
