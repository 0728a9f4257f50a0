"""``PreparedCache``: prepared images kept by the source's hash, so a rerun sends exactly the
bytes the first run sent (its job identity and its exactly-once create stay the same) without
decoding anything again, whatever Pillow version is installed by then.

One entry is ``<key>.json`` (what was done, the bytes' sha256) beside ``<key>.jpg`` or
``<key>.png`` (the bytes; none when the source passed through untouched, as its own bytes are
what is sent). The key is a sha256 of the source's sha256, the options and the preparation
code's version. Each file is written to a temporary name, synced, then renamed; the JSON goes
last, so an entry is whole or absent. A damaged entry is a miss and is written anew.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import stat
import tempfile
from pathlib import Path

import attrs
import cattrs

from ._prepare_result import PreparedImage

log = logging.getLogger("kling_async")

#: Bump when a change to the preparation would give other bytes for the same source and
#: options: old entries then stop matching (and are left for the user to delete).
PREPARE_VERSION = 1
_RECORD_LIMIT = 64 * 1024
_converter = cattrs.Converter()
_FIELDS = tuple(
    a.name for a in attrs.fields(PreparedImage) if a.name not in ("data", "from_cache", "path")
)


def cache_key(source_sha256: str, options: dict[str, object]) -> str:
    """The entry's name: the source's hash, every option that changes the output, the code's
    version."""
    canonical = json.dumps(
        {"source": source_sha256, "options": options, "version": PREPARE_VERSION},
        sort_keys=True,
        separators=(",", ":"),
    )
    return hashlib.sha256(canonical.encode()).hexdigest()


def _read_regular(path: Path, limit: int) -> bytes | None:
    """The file's bytes if it is a regular file of at most ``limit`` bytes; else None."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    except OSError:
        return None
    try:
        found = os.fstat(fd)
        if not stat.S_ISREG(found.st_mode) or found.st_size > limit:
            return None
        with os.fdopen(os.dup(fd), "rb") as f:
            return f.read(limit + 1)
    except OSError:
        return None
    finally:
        os.close(fd)


def _write_atomic(path: Path, data: bytes) -> None:
    fd, temp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=path.suffix)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(temp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temp)
        raise


class PreparedCache:
    """Prepared images in ``folder`` (created when first written), e.g.
    ``<out>/.kling-prepared/``. Blocking methods: ``prepare_image_async`` calls them in a
    worker thread. Deleting the folder is always safe; nothing is ever evicted."""

    def __init__(self, folder: str | os.PathLike[str]) -> None:
        self.folder = Path(folder)

    def __repr__(self) -> str:
        return f"PreparedCache({str(self.folder)!r})"

    def _record_path(self, key: str) -> Path:
        return self.folder / f"{key}.json"

    def load(self, key: str, source: bytes) -> PreparedImage | None:
        """The entry for ``key`` (``source`` is the source's bytes, the entry's data when it
        passed through); None if there is none or it is damaged."""
        raw = _read_regular(self._record_path(key), _RECORD_LIMIT)
        if raw is None:
            return None
        try:
            record = json.loads(raw)
            fields = {name: record[name] for name in _FIELDS}
            data_file = record["data_file"]
            path = None
            if data_file is None:
                data: bytes | None = source
            elif isinstance(data_file, str) and data_file in (f"{key}.jpg", f"{key}.png"):
                path = self.folder / data_file
                data = _read_regular(path, int(record["size"]))
            else:
                return None
            if data is None or hashlib.sha256(data).hexdigest() != record["sha256"]:
                return None
            found = {**fields, "data": data, "from_cache": True, "path": path}
            return _converter.structure(found, PreparedImage)
        except (ValueError, TypeError, KeyError, cattrs.BaseValidationError):
            log.debug("prepared-image cache: damaged entry %s ignored", key)
            return None

    def save(self, key: str, prepared: PreparedImage) -> Path | None:
        """Store ``prepared`` under ``key``: the bytes first, the record last. Returns the
        file now holding its bytes (None when it passed through: its source holds them). A
        folder that cannot be written is logged and skipped (the image is prepared all the
        same, and None returned)."""
        record = prepared.to_record()
        record["data_file"] = None
        path = None
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            if not prepared.passed_through:
                ext = "jpg" if prepared.mime == "image/jpeg" else "png"
                record["data_file"] = f"{key}.{ext}"
                path = self.folder / record["data_file"]
                _write_atomic(path, prepared.data)
            _write_atomic(self._record_path(key), json.dumps(record, sort_keys=True).encode())
        except OSError as exc:
            log.warning("prepared-image cache %s not written: %s", self.folder, exc)
            return None
        return path
