"""`kling-async animate` on the folder a new user really has (tests/sdk/_photos.py: HEIC,
WebP, GIF, BMP, TIFF, 16-bit, CMYK, an EXIF-rotated portrait, 24 MB, 8000 px, a panorama, a
120 px image, a corrupt file, unicode names): every file that can be made sendable becomes a
video, the portrait one portrait; the dry run says what each file becomes; a rerun creates
nothing; ``--no-prepare``, ``--fit`` and ``--upscale`` do what they say."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from ..sdk._photos import make_folder
from .test_animate import cli, events, start

pytestmark = pytest.mark.timeout(240)

#: What the folder's files become with --fit pad: all but these two are sent.
REFUSED = {"corrupt.jpg": "cannot be decoded", "tiny.png": "(--upscale enlarges it)"}
#: Files re-encoded (the others are sent as they are), and a word of what was done to each.
CHANGED = {
    "IMG_0001.HEIC": "turned 90°, converted",
    "photo.webp": "converted",
    "anim.gif": "converted",
    "scan.bmp": "converted",
    "pages.tiff": "converted",
    "deep16.png": "converted",
    "print_cmyk.jpg": "converted",
    "portrait_exif6.jpg": "turned 90°",
    "upside_down.jpg": "turned 180°",
    "big_24mb.jpg": "re-encoded at quality",
    "huge_8000.jpg": "downscaled",
    "panorama.jpg": "padded",
    "tall_strip.png": "padded",
    "palette_alpha.png": "converted",
    "rgba.png": "converted",
    "anim.png": "converted",
    "gray.jpg": "converted",
    "stereo_mpo.jpg": "converted",
}
AS_IS = {"DSC_0001.JPG", "progressive.jpg", "plain.png", "café 東京.png", "screenshot.png"}
AS_IS |= {"not_really.png"}
BY = "\N{MULTIPLICATION SIGN}"


@pytest.fixture(scope="module")
def photos(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("photos")
    make_folder(root)
    assert len(list(root.iterdir())) == len(REFUSED) + len(CHANGED) + len(AS_IS) == 26
    return root


def _size(video: Path) -> tuple[int, int]:
    av = pytest.importorskip("av")
    with av.open(str(video)) as container:
        stream = container.streams.video[0]
        return stream.codec_context.width, stream.codec_context.height


def _by_source(records: list[dict[str, Any]], event: str) -> dict[str, dict[str, Any]]:
    return {Path(r["source"]).name: r for r in records if r["event"] == event}


def test_the_whole_folder_becomes_videos_portrait_stays_portrait_and_a_rerun_creates_nothing(
    photos: Path, tmp_path: Path
) -> None:
    out = tmp_path / "videos"
    # the bundled sample clips: one for each picture shape (portrait, square, landscape)
    with start(duration=(0.05, 0.1), video_bytes=None) as emu:
        first = cli(photos, "--out", out, "--fit", "pad", "--prompt", "p", "--json", emu=emu)
        assert first.returncode == 1, first.stdout + first.stderr  # two inputs invalid
        records = events(first.stdout)
        outcomes = _by_source(records, "outcome")
        assert sorted(outcomes) == sorted(CHANGED.keys() | AS_IS)  # each named as given
        assert {r["status"] for r in outcomes.values()} == {"succeeded"}
        invalid = _by_source(records, "invalid")
        assert sorted(invalid) == sorted(REFUSED)
        for name, words in REFUSED.items():
            assert words in invalid[name]["error"]
        creates = emu.stats()["creates"]
        assert creates == len(outcomes) == 24
        for name, record in outcomes.items():
            video = Path(record["path"])
            assert video.parent == out
            assert video.stat().st_size > 0
            # named after the photo (anim.gif and anim.png: one gets '-<id>' added)
            assert video.stem.startswith(Path(name).stem.replace(" ", "_"))
        portrait = [
            _size(Path(outcomes[n]["path"])) for n in ("portrait_exif6.jpg", "IMG_0001.HEIC")
        ]
        assert all(w < h for w, h in portrait), portrait  # stored landscape, shown portrait
        landscape = _size(Path(outcomes["DSC_0001.JPG"]["path"]))
        assert landscape[0] > landscape[1]
        cached = list((out / ".kling-prepared").glob("*.jpg")) + list(
            (out / ".kling-prepared").glob("*.png")
        )
        assert len(cached) == len(CHANGED)  # a copy of each re-encoded one, none of the others

        again = cli(photos, "--out", out, "--fit", "pad", "--prompt", "p", "--json", emu=emu)
        assert again.returncode == 4, again.stdout + again.stderr  # only the invalid ones left
        assert emu.stats()["creates"] == creates  # nothing made or paid twice
        statuses = {r["status"] for r in _by_source(events(again.stdout), "outcome").values()}
        assert statuses == {"skipped"}


def test_the_dry_run_says_what_each_file_becomes(photos: Path, tmp_path: Path) -> None:
    out = tmp_path / "videos"
    plain = cli(photos, "--out", out, "--fit", "pad", "--dry-run", emu=None)
    assert plain.returncode == 1, plain.stdout + plain.stderr
    lines = {
        Path(line.split("  ")[1]).name: line
        for line in plain.stdout.splitlines()
        if line.startswith("would send")
    }
    assert sorted(lines) == sorted(CHANGED.keys() | AS_IS)
    for name, words in CHANGED.items():
        assert f"  {name}: " in lines[name], lines[name]
        assert " → " in lines[name], lines[name]
        assert words in lines[name]
    for name in AS_IS:
        assert f"  {name}: " in lines[name]
        assert "sent as it is" in lines[name]
    heic = f"IMG_0001.HEIC: HEIC 1008{BY}756 → JPEG 756{BY}1008"
    assert heic in lines["IMG_0001.HEIC"]
    assert f"JPEG 8000{BY}8000 → JPEG 4096{BY}4096" in lines["huge_8000.jpg"]
    assert "invalid     " + str(photos / "tiny.png") in plain.stdout

    as_json = cli(photos, "--out", out, "--fit", "pad", "--dry-run", "--json", emu=None)
    sends = _by_source(events(as_json.stdout), "would_send")
    heic_record = sends["IMG_0001.HEIC"]["prepared"]
    assert (heic_record["source_format"], heic_record["width"], heic_record["height"]) == (
        "HEIC",
        756,
        1008,
    )
    assert heic_record["orientation"] == 6
    assert heic_record["converted"]
    assert sends["IMG_0001.HEIC"]["request"]["image"] == str(photos / "IMG_0001.HEIC")
    plain_record = sends["plain.png"]["prepared"]
    assert plain_record["sha256"] == plain_record["source_sha256"]  # its own bytes
    assert not out.exists()  # a dry run writes nothing in OUT


def _dry(folder: Path, out: Path, *options: str) -> subprocess.CompletedProcess[str]:
    return cli(folder, "--out", out, "--dry-run", "--json", *options, emu=None)


def test_fit_and_upscale_choose_what_happens_to_odd_shapes(photos: Path, tmp_path: Path) -> None:
    folder = tmp_path / "odd"
    folder.mkdir()
    for name in ("panorama.jpg", "tall_strip.png", "tiny.png"):
        shutil.copy(photos / name, folder / name)
    refused = events(_dry(folder, tmp_path / "out").stdout)
    errors = {Path(r["source"]).name: r["error"] for r in refused if r["event"] == "invalid"}
    assert sorted(errors) == ["panorama.jpg", "tall_strip.png", "tiny.png"]  # the default
    assert "--fit pad letterboxes it, --fit crop cuts its middle" in errors["panorama.jpg"]
    assert "(--upscale enlarges it)" in errors["tiny.png"]
    made = events(_dry(folder, tmp_path / "out", "--fit", "crop", "--upscale").stdout)
    sends = _by_source(made, "would_send")
    assert sorted(sends) == ["panorama.jpg", "tall_strip.png", "tiny.png"]
    assert sends["panorama.jpg"]["prepared"]["cropped"]
    assert (
        sends["panorama.jpg"]["prepared"]["width"],
        sends["panorama.jpg"]["prepared"]["height"],
    ) == (1500, 600)
    assert sends["tiny.png"]["prepared"]["upscaled"]
    assert sends["tiny.png"]["prepared"]["width"] == 300


def test_no_prepare_sends_files_as_they_are(photos: Path, tmp_path: Path) -> None:
    folder = tmp_path / "few"
    folder.mkdir()
    for name in ("IMG_0001.HEIC", "portrait_exif6.jpg", "plain.png"):
        shutil.copy(photos / name, folder / name)
    out = tmp_path / "out"
    records = events(_dry(folder, out, "--no-prepare").stdout)
    sends = _by_source(records, "would_send")
    assert sorted(sends) == ["plain.png", "portrait_exif6.jpg"]  # sideways, as stored
    assert all("prepared" not in r for r in sends.values())
    assert sends["portrait_exif6.jpg"]["request"]["image"] == str(folder / "portrait_exif6.jpg")
    invalid = _by_source(records, "invalid")
    assert list(invalid) == ["IMG_0001.HEIC"]  # the API takes no HEIC: said, not sent
    assert not (out / ".kling-prepared").exists()


def test_the_same_photo_twice_is_one_job_and_the_end_frame_is_prepared_too(
    photos: Path, tmp_path: Path
) -> None:
    folder = tmp_path / "twins"
    folder.mkdir()
    shutil.copy(photos / "IMG_0001.HEIC", folder / "IMG_0001.HEIC")
    shutil.copy(photos / "IMG_0001.HEIC", folder / "IMG_0001 copy.HEIC")
    shutil.copy(photos / "plain.png", folder / "plain.png")
    end = photos / "photo.webp"
    out = tmp_path / "out"
    records = events(_dry(folder, out, "--end-frame", str(end), "--mode", "pro").stdout)
    sends = _by_source(records, "would_send")
    assert sorted(sends) == ["IMG_0001 copy.HEIC", "plain.png"]  # the copy's twin is one job
    assert sends["IMG_0001 copy.HEIC"]["duplicates"] == [str(folder / "IMG_0001.HEIC")]
    assert {r["request"]["image_tail"] for r in sends.values()} == {str(end)}
    tails = [r["prepared_end_frame"] for r in sends.values()]
    assert {(t["source_format"], t["mime"], t["sha256"]) for t in tails} == {
        ("WEBP", "image/jpeg", tails[0]["sha256"])
    }
    assert "prepared_end_frame" not in records[-1]
    assert not out.exists()


def test_a_file_an_earlier_run_sent_as_it_was_is_not_made_again(
    photos: Path, tmp_path: Path
) -> None:
    """A folder animated before images were prepared (or with --no-prepare): the sideways
    photo was sent as stored; the journal records that job, so it is kept, not made again."""
    folder = tmp_path / "older"
    folder.mkdir()
    for name in ("portrait_exif6.jpg", "plain.png"):
        shutil.copy(photos / name, folder / name)
    out = tmp_path / "videos"
    with start(duration=(0.05, 0.1)) as emu:
        before = cli(folder, "--out", out, "--no-prepare", "--json", emu=emu)
        assert before.returncode == 0, before.stdout + before.stderr
        assert emu.stats()["creates"] == 2
        now = cli(folder, "--out", out, "--json", emu=emu)
        assert now.returncode == 0, now.stdout + now.stderr
        statuses = {n: r["status"] for n, r in _by_source(events(now.stdout), "outcome").items()}
        assert statuses == {"portrait_exif6.jpg": "skipped", "plain.png": "skipped"}
        assert emu.stats()["creates"] == 2
        fresh = cli(folder, "--out", tmp_path / "elsewhere", "--json", emu=emu)
        assert fresh.returncode == 0
        # a fresh folder: plain.png sent the same again, the photo turned upright (new content)
        assert (emu.stats()["creates"], emu.stats()["duplicate_creates"]) == (4, 1)


def test_missing_credentials_are_said_before_anything_is_prepared(
    photos: Path, tmp_path: Path
) -> None:
    out = tmp_path / "videos"
    done = cli(photos / "IMG_0001.HEIC", "--out", out, emu=None)  # no KLING_* at all
    assert done.returncode == 2, done.stdout + done.stderr
    assert "KLING_ACCESS_KEY" in done.stdout + done.stderr
    assert not out.exists()  # nothing prepared, nothing written
