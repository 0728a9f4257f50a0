"""prepare_image's I/O: the cache (the same bytes without decoding), nothing read or decoded
on the event loop, cancellation, the lazy loading of pillow-heif, and the files refused at once
and by name (a FIFO, a socket, a device, a file too big to consider, a decompression bomb)."""

from __future__ import annotations

import asyncio
import io
import math
import os
import socket
import struct
import subprocess
import sys
import threading
import time
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

import kling_async as kling

from ._photos import MB, heic, noise_jpeg, scene

pytestmark = pytest.mark.timeout(60)


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("photos")
    heic(root / "IMG_0001.HEIC")
    scene((800, 600)).save(root / "plain.png")
    scene((1800, 600)).save(root / "panorama.jpg")
    scene((1024, 768)).save(root / "photo.webp", quality=80)
    scene((600, 800)).save(root / "scan.bmp")
    noise_jpeg(root / "big.jpg", (2000, 1800), 10 * MB)  # over the legacy limit: re-encoded
    return root


# --- the cache --------------------------------------------------------------------------------


async def test_the_cache_sends_the_same_bytes_without_decoding(
    folder: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cache = kling.PreparedCache(tmp_path / ".kling-prepared")
    names = ("IMG_0001.HEIC", "plain.png", "panorama.jpg")
    first = [await kling.prepare_image_async(folder / n, cache=cache, fit="pad") for n in names]
    assert not any(p.from_cache for p in first)
    stored = sorted(p.name for p in (tmp_path / ".kling-prepared").iterdir())
    assert len([s for s in stored if s.endswith(".json")]) == 3
    assert len([s for s in stored if s.endswith(".jpg")]) == 2  # the PNG passed through: no copy
    assert not [s for s in stored if s.startswith(".tmp-")]

    def decoding(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("decoded although cached")

    monkeypatch.setattr(Image, "open", decoding)
    again = [await kling.prepare_image_async(folder / n, cache=cache, fit="pad") for n in names]
    assert all(p.from_cache for p in again)
    assert [p.data for p in again] == [p.data for p in first]
    assert again == first  # every fact kept, from_cache aside
    # the bytes are on disk too: the cache's copy, or the source itself when it passed through
    assert [p.path for p in again] == [p.path for p in first]
    assert first[1].path == folder / "plain.png"
    assert all(p.path is not None and p.path.read_bytes() == p.data for p in first)
    # other options are another entry: that one has to decode
    with pytest.raises(AssertionError, match="decoded although cached"):
        await kling.prepare_image_async(folder / "panorama.jpg", cache=cache, fit="crop")


async def test_a_renamed_copy_hits_the_cache_and_a_damaged_entry_is_redone(
    folder: Path, tmp_path: Path
) -> None:
    cache = kling.PreparedCache(tmp_path / "cache")
    first = await kling.prepare_image_async(folder / "photo.webp", cache=cache)
    copy = tmp_path / "holiday.webp"
    copy.write_bytes((folder / "photo.webp").read_bytes())
    renamed = await kling.prepare_image_async(copy, cache=cache)
    assert renamed.from_cache
    assert renamed.data == first.data
    assert renamed.source_name == "holiday.webp"
    (jpg,) = (tmp_path / "cache").glob("*.jpg")
    jpg.write_bytes(b"not the bytes")
    redone = await kling.prepare_image_async(folder / "photo.webp", cache=cache)
    assert not redone.from_cache
    assert redone.data == first.data
    assert jpg.read_bytes() == first.data  # written anew


async def test_nothing_is_read_or_decoded_on_the_event_loop(
    folder: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    loop_thread = threading.get_ident()
    seen: list[tuple[str, int]] = []
    real_open, real_pread = Image.open, os.pread

    def spy_open(*args: Any, **kwargs: Any) -> Image.Image:
        seen.append(("decode", threading.get_ident()))
        return real_open(*args, **kwargs)

    def spy_pread(fd: int, n: int, offset: int) -> bytes:
        seen.append(("read", threading.get_ident()))
        return real_pread(fd, n, offset)

    monkeypatch.setattr(Image, "open", spy_open)
    monkeypatch.setattr(os, "pread", spy_pread)
    prepared = await kling.prepare_image_async(folder / "big.jpg")
    assert prepared.quality == 95
    assert {what for what, _ in seen} == {"decode", "read"}
    chunks = math.ceil((folder / "big.jpg").stat().st_size / (4 * MB))  # a worker call each
    assert len([s for s in seen if s[0] == "read"]) == chunks + 1  # and the one that finds EOF
    assert all(thread != loop_thread for _, thread in seen)


def test_the_sync_and_async_forms_agree(folder: Path) -> None:
    sync = kling.prepare_image(folder / "scan.bmp")
    in_loop = asyncio.run(kling.prepare_image_async(folder / "scan.bmp"))
    assert sync == in_loop


# --- refused at once ----------------------------------------------------------------------------


def _fifo(tmp_path: Path) -> Path:
    path = tmp_path / "x.png"
    os.mkfifo(path)
    return path


def _socket(tmp_path: Path) -> Path:
    path = tmp_path / "s.png"
    sock = socket.socket(socket.AF_UNIX)
    sock.bind(str(path))
    sock.close()
    return path


def _folder(tmp_path: Path) -> Path:
    (tmp_path / "folder.png").mkdir()
    return tmp_path / "folder.png"


def _too_big(tmp_path: Path) -> Path:
    path = tmp_path / "enormous.jpg"
    with path.open("wb") as f:
        f.truncate(201 * MB)  # sparse: nothing written, nothing to read
    return path


def _bomb(tmp_path: Path) -> Path:
    """A PNG whose header claims 40000 by 40000 px (1.6 GP) over a few bytes of data."""
    buf = io.BytesIO()
    Image.new("RGB", (1, 1)).save(buf, "PNG")
    data = bytearray(buf.getvalue())
    ihdr = struct.pack(">II", 40000, 40000) + bytes(data[24:29])
    data[16:29] = ihdr
    data[29:33] = struct.pack(">I", zlib.crc32(b"IHDR" + ihdr))
    path = tmp_path / "bomb.png"
    path.write_bytes(bytes(data))
    return path


def _empty(tmp_path: Path) -> Path:
    path = tmp_path / "empty.jpg"
    path.write_bytes(b"")
    return path


def _garbage(tmp_path: Path) -> Path:
    path = tmp_path / "garbage.heic"
    path.write_bytes(b"\0\0\0\x18ftypheic" + os.urandom(4000))
    return path


REFUSED: list[tuple[str, Callable[[Path], Path], str]] = [
    ("fifo", _fifo, "named pipe (FIFO)"),
    ("socket", _socket, "a socket"),
    ("folder", _folder, "a folder"),
    ("device", lambda _: Path(os.devnull), "a device"),
    ("missing", lambda tmp: tmp / "nope.jpg", "no such file"),
    ("too-big", _too_big, "over the 200 MB considered"),
    ("bomb", _bomb, "decompression bomb"),
    ("empty", _empty, "not a readable image"),
    ("garbage-heic", _garbage, "not a readable image"),
]


@pytest.mark.timeout(5)
@pytest.mark.parametrize(("case", "make", "words"), REFUSED, ids=[r[0] for r in REFUSED])
async def test_refused_at_once_naming_the_file(
    case: str, make: Callable[[Path], Path], words: str, tmp_path: Path
) -> None:
    path = make(tmp_path)
    started = time.monotonic()
    with pytest.raises(kling.ValidationError) as blocking:
        kling.prepare_image(path)
    with pytest.raises(kling.ValidationError) as in_loop:
        await asyncio.wait_for(kling.prepare_image_async(path), 2)
    for caught in (blocking, in_loop):
        assert caught.value.field == "image"
        assert caught.value.value == str(path)
        assert words in caught.value.rule, caught.value.rule
    assert time.monotonic() - started < 1.0


def test_options_are_checked() -> None:
    for options, field in (
        ({"wire": "v2"}, "wire"),
        ({"fit": "stretch"}, "fit"),
        ({"max_side": 100}, "max_side"),
        ({"max_bytes": 60 * MB}, "max_bytes"),
    ):
        with pytest.raises(kling.ValidationError) as caught:
            kling.prepare_image(b"", **options)
        assert caught.value.field == field
    for source, words in (("https://cdn.example/cat.jpg", "URL"), (12345, "file path")):
        with pytest.raises(kling.ValidationError) as caught:
            kling.prepare_image(source, field="image_tail")  # type: ignore[arg-type]
        assert (caught.value.field, caught.value.value) == ("image_tail", source)
        assert words in caught.value.rule


async def test_an_unknown_option_is_a_type_error_naming_it(folder: Path) -> None:
    options: dict[str, Any] = {"fit": "pad", "max_size": 2048}  # a misspelt max_side
    with pytest.raises(TypeError, match=r"prepare_image\(\) .* 'max_size'"):
        kling.prepare_image(folder / "scan.bmp", **options)
    with pytest.raises(TypeError, match=r"prepare_image_async\(\) .* 'max_size'"):
        await kling.prepare_image_async(folder / "scan.bmp", **options)


async def test_cancelling_while_reading_raises_cancelled(folder: Path) -> None:
    task = asyncio.create_task(kling.prepare_image_async(folder / "big.jpg"))
    await asyncio.sleep(0)  # started: in its first chunk's worker thread
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task


def test_pillow_heif_is_loaded_only_for_a_heif_file(folder: Path) -> None:
    """Importing the SDK and preparing a PNG leave pillow-heif unloaded; without it, a HEIC
    is refused with the reason (a fresh interpreter: this one has loaded it)."""
    code = (
        "import sys, io, kling_async as k\n"
        "from PIL import Image\n"
        "buf = io.BytesIO(); Image.new('RGB', (400, 300)).save(buf, 'PNG')\n"
        "k.prepare_image(buf.getvalue())\n"
        "assert 'pillow_heif' not in sys.modules, 'loaded early'\n"
        "sys.modules['pillow_heif'] = None  # as if it were not installed\n"
        "try:\n"
        "    k.prepare_image(sys.argv[1])\n"
        "except k.ValidationError as exc:\n"
        "    assert 'pillow-heif' in exc.rule, exc.rule\n"
        "else:\n"
        "    raise SystemExit('a HEIC prepared without pillow-heif')\n"
    )
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    heic = str(folder / "IMG_0001.HEIC")
    done = subprocess.run(
        [sys.executable, "-c", code, heic], env=env, capture_output=True, timeout=30
    )
    assert done.returncode == 0, done.stderr.decode()
