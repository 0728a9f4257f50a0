"""The files beside a download's destination: ``<dest>.part`` and its ``.part.json`` note.

Every function here blocks: each runs in a worker thread, handed over by the download, never
on the loop. Hostile ground is assumed: the ``.part`` file and its note are opened with
``O_NOFOLLOW`` (and created with ``O_EXCL``), so a symlink or hard link planted at either name
never leads a write outside the output folder: whatever non-directory stands there is removed
first; the file renamed in place is checked to be the one written (``finish_now``: the last
batch written, fsync, close, rename, the note removed, in one call).
"""

from __future__ import annotations

import contextlib
import json
import mmap
import os
import stat
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from ..errors import DownloadError

_IOV_MAX = 1024
#: The note beside a partial file is a few dozen bytes; never read more than this of it.
_META_LIMIT = 64 * 1024
#: Never follow a link at the final component; never leak the descriptor into a child.
_SAFE = os.O_NOFOLLOW | os.O_CLOEXEC


def part_path(dest: Path) -> Path:
    """Where the bytes of ``dest`` gather until the file is whole."""
    return dest.with_name(dest.name + ".part")


def _meta_path(dest: Path) -> Path:
    return dest.with_name(dest.name + ".part.json")


def _lstat(path: Path) -> os.stat_result | None:
    try:
        return os.lstat(path)
    except FileNotFoundError:
        return None


def clear(path: Path) -> None:
    """Remove whatever non-directory stands at ``path`` (a stale file, a planted symlink or
    hard link, a fifo); a directory there is a ``DownloadError`` naming it."""
    found = _lstat(path)
    if found is None:
        return
    if stat.S_ISDIR(found.st_mode):
        raise DownloadError(f"{path} is a directory; the download needs that name for a file")
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path)


def _create(path: Path) -> int:
    """A new, empty regular file at ``path``, never through a link: what stood there goes."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | _SAFE
    try:
        return os.open(path, flags, 0o644)  # the usual case: nothing there, one syscall
    except FileExistsError:  # O_EXCL: even a dangling link counts as there
        clear(path)
        return os.open(path, flags, 0o644)


def _part_size(part: Path) -> int:
    """The bytes of a resumable partial file: a regular file with no other name. Anything
    else at that name (a symlink, a fifo, a hard link) is removed, and nothing is resumed."""
    found = _lstat(part)
    if found is None:
        return 0
    if stat.S_ISREG(found.st_mode) and found.st_nlink == 1:
        return found.st_size
    clear(part)
    return 0


def _open_part(part: Path, offset: int, url: str) -> int:
    """The partial file's descriptor, positioned at ``offset``: created anew at 0, else the
    existing regular file reopened (``O_NOFOLLOW``, no ``O_EXCL``) and cut to ``offset``."""
    if not offset:
        return _create(part)
    # O_NONBLOCK: a fifo swapped in since the check must not block the open (no effect on a
    # regular file).
    fd = os.open(part, os.O_WRONLY | os.O_NONBLOCK | _SAFE)
    try:
        found = os.fstat(fd)
        if not stat.S_ISREG(found.st_mode) or found.st_nlink != 1:
            raise DownloadError(
                f"{part} changed under the download (not a plain file any more)",
                url=url,
                resumable=True,
            )
        os.set_blocking(fd, True)
        os.ftruncate(fd, offset)
        os.lseek(fd, offset, os.SEEK_SET)
    except BaseException:
        os.close(fd)
        raise
    return fd


def _read_meta_now(dest: Path) -> dict[str, object]:
    try:
        fd = os.open(_meta_path(dest), os.O_RDONLY | os.O_NONBLOCK | _SAFE)
    except OSError:
        return {}
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return {}
        raw = os.read(fd, _META_LIMIT)
    except OSError:
        return {}
    finally:
        os.close(fd)
    try:
        meta = json.loads(raw)
    except (ValueError, RecursionError):
        return {}
    return meta if isinstance(meta, dict) else {}


def _write_meta_now(dest: Path, meta: dict[str, object] | None) -> None:
    """Write the note beside the partial file anew, or remove it (``None``)."""
    path = _meta_path(dest)
    if meta is None:
        clear(path)
        return
    with os.fdopen(_create(path), "w") as f:
        f.write(json.dumps(meta))


def prepare_now(dest: Path, url: str) -> tuple[int, str | None, int]:
    """Everything before the request, in one worker call: the folder made, the partial file
    and its note looked at. Returns (bytes to resume from, the note's ETag, the ``.part``
    descriptor positioned there): the existing file reopened when it can be resumed, else a
    new empty one created (and the note cleared, so no stale ETag outlives its bytes)."""
    os.makedirs(dest.parent, exist_ok=True)
    part = part_path(dest)
    have = _part_size(part)
    if have:
        etag = _read_meta_now(dest).get("etag")
        if isinstance(etag, str):
            return have, etag, _open_part(part, have, url)
        # no validator to prove the remote file is the same: start over
    clear(_meta_path(dest))
    return 0, None, _create(part)


def _start_now(dest: Path) -> int:
    """A new ``.part`` for a download the caller knows is fresh (nothing to resume: see
    ``download``), made by the first worker call that writes: the note cleared, the file
    created (whatever stood there goes), the folder made only if it is missing."""
    clear(_meta_path(dest))
    try:
        return _create(part_path(dest))
    except FileNotFoundError:
        os.makedirs(dest.parent, exist_ok=True)
        return _create(part_path(dest))


@dataclass(frozen=True)
class Restart:
    """Work owed before the first bytes of a fresh body land: cut a resumed file back to
    zero (``rewind``: the server sent the whole file), then write the note anew (or clear it,
    ``note`` None). Done in the first worker call that writes, never sooner: until then the
    file and its note still describe each other."""

    rewind: bool
    note: dict[str, object] | None


def _restart_now(fd: int, dest: Path, restart: Restart | None, *, note: bool = True) -> None:
    if restart is None:
        return
    if restart.rewind:
        os.ftruncate(fd, 0)
        os.lseek(fd, 0, os.SEEK_SET)
    if note:  # after the rewind: the note never vouches for bytes of another version
        _write_meta_now(dest, restart.note)


def writev_all(fd: int, pieces: Sequence[bytes | memoryview]) -> None:
    """Write every piece with as few syscalls as the kernel allows (blocking)."""
    views = [memoryview(p) for p in pieces]
    while views:
        done = os.writev(fd, views[:_IOV_MAX])
        while views and done >= len(views[0]):
            done -= len(views[0])
            views.pop(0)
        if views and done:
            views[0] = views[0][done:]


def _write_batch(fd: int, batch: mmap.mmap, size: int) -> None:
    """The first ``size`` bytes of ``batch`` (blocking)."""
    if size:
        with memoryview(batch) as whole:
            writev_all(fd, [whole[:size]])


def write_now(
    fd: int | None, batch: mmap.mmap, size: int, dest: Path, restart: Restart | None
) -> int:
    """One batch (after the restart work owed, if any); the descriptor written to, opened
    here (``_start_now``) when the download is fresh and this is its first write."""
    if fd is not None:  # the caller's: it closes it, whatever happens here
        _restart_now(fd, dest, restart)
        _write_batch(fd, batch, size)
        return fd
    fd = _start_now(dest)
    try:
        _restart_now(fd, dest, restart)
        _write_batch(fd, batch, size)
    except BaseException:
        os.close(fd)  # opened here and never returned: the caller cannot close it
        raise
    return fd


def finish_now(
    fd: int | None,
    batch: mmap.mmap,
    size: int,
    dest: Path,
    restart: Restart | None,
    url: str,
    cancelled: threading.Event,
) -> OSError | None:
    """The last batch written, the file synced and closed (always closed, even on failure),
    checked to be still the one at ``<dest>.part``, renamed to ``dest``, the note removed:
    one worker call. Returns the rename's error, if it failed (the finished ``.part`` stays).

    Once ``cancelled`` is set (the download was cancelled meanwhile), the batch is still
    written (the ``.part`` stays a prefix of the body, to resume from) but nothing more is
    done: no sync, and above all no rename.

    ``fd`` None: a fresh download whose whole body is this batch; the ``.part`` is created
    here (``_start_now``), so the whole file costs this one worker call."""
    part = part_path(dest)
    started = fd is None
    if fd is None:
        fd = _start_now(dest)
    try:
        # A rewind owes the note too: the old one must not vouch for the new bytes. Else
        # the note is skipped: it goes below anyway.
        _restart_now(fd, dest, restart, note=restart is not None and restart.rewind)
        _write_batch(fd, batch, size)
        if cancelled.is_set():
            return None
        os.fsync(fd)
        ours = os.fstat(fd)
    finally:
        os.close(fd)
    found = _lstat(part)
    if found is None or (found.st_dev, found.st_ino) != (ours.st_dev, ours.st_ino):
        raise DownloadError(f"{part} was replaced under the download; not moving it", url=url)
    if cancelled.is_set():
        return None  # synced, whole and length-checked: a later call finds it (and resumes)
    try:
        os.replace(part, dest)
    except OSError as exc:
        return exc
    if started:
        return None  # its note was cleared by _start_now, and none was written since
    found = _lstat(_meta_path(dest))
    if found is not None and not stat.S_ISDIR(found.st_mode):
        with contextlib.suppress(OSError):  # the file is in place; a stale note is harmless
            os.unlink(_meta_path(dest))
    return None


def discard_now(dest: Path) -> None:
    """Remove a partial file that cannot be resumed, and its note (never a directory)."""
    for path in (part_path(dest), _meta_path(dest)):
        found = _lstat(path)
        if found is not None and not stat.S_ISDIR(found.st_mode):
            with contextlib.suppress(OSError):  # the error being raised matters more
                os.unlink(path)
