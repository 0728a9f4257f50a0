"""Streaming download of result files: network reads batched into ``<name>.part`` (one
``writev`` per batch in a worker thread), length checked, resumed with ``Range`` (guarded by
``If-Range``) after an interruption, renamed atomically. A partial file never sits under the
final name; memory stays flat.

Few thread hand-offs: one worker call before the request (the folder made, the partial file
and its note looked at, the ``.part`` opened or created), one per batch written while the loop
reads on (a batch goes once it holds ``BATCH`` bytes and the worker is free, so writing
overlaps reading even for a file of a few megabytes), and one that finishes the file (the last
batch written, fsync, close, rename, note removed). A body that fits in one batch costs two
hand-offs in all; one when the download is fresh (the batch engine's, for a task it has just
created: nothing can be there to resume, so the first worker call that writes makes the
``.part``). The pieces read are copied into two reused buffers rather than held, so the
heap does not swing by a batch at a time (see ``_Writer``).

Hostile ground is assumed on both sides. The ``.part`` file and its ``.part.json`` note are
opened with ``O_NOFOLLOW`` (and created with ``O_EXCL``), so a symlink or hard link planted at
either name never leads a write outside the output folder: whatever non-directory stands there
is removed first; the file renamed in place is checked to be the one written. A server that
trickles bytes is cut off by ``Timeouts.download_min_rate`` and ``Timeouts.download_total``.
A cancelled download waits for the work its worker thread is doing before the file is closed
(a finishing call told of the cancellation stops short of the sync and the rename), then lets
the cancellation through.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import mmap
import os
import re
import stat
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar
from urllib.parse import urlsplit

import aiohttp

from ._http import Timeouts, Transport
from ._retry import RetryPolicy
from .errors import APIConnectionError, DownloadError

#: A batch goes to the worker thread once it holds this many bytes and the worker is idle, so
#: writing overlaps reading even for a file of a few megabytes.
BATCH = 1024 * 1024
#: The most a batch grows to while the worker is busy (a slow disk): at this size the loop
#: waits for the write in flight. At most two batches are held per download.
CHUNK = 8 * 1024 * 1024
#: The default cap on one file's size: far above any Kling video, far below a full disk.
DEFAULT_MAX_BYTES = 4 * 1024**3
_CONTENT_RANGE = re.compile(r"^bytes (\d+)-(\d+)/(\d+|\*)$")
_IOV_MAX = 1024
#: The note beside a partial file is a few dozen bytes; never read more than this of it.
_META_LIMIT = 64 * 1024
#: Never follow a link at the final component; never leak the descriptor into a child.
_SAFE = os.O_NOFOLLOW | os.O_CLOEXEC

T = TypeVar("T")


def part_path(dest: Path) -> Path:
    return dest.with_name(dest.name + ".part")


def _meta_path(dest: Path) -> Path:
    return dest.with_name(dest.name + ".part.json")


def check_url(url: str) -> None:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise DownloadError(f"refusing to download {url[:80]!r}: not an http(s) URL", url=url)


# --- the files beside the destination (blocking; run in a worker thread) -------------------


def _lstat(path: Path) -> os.stat_result | None:
    try:
        return os.lstat(path)
    except FileNotFoundError:
        return None


def _clear(path: Path) -> None:
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
        _clear(path)
        return os.open(path, flags, 0o644)


def _part_size(part: Path) -> int:
    """The bytes of a resumable partial file: a regular file with no other name. Anything
    else at that name (a symlink, a fifo, a hard link) is removed, and nothing is resumed."""
    found = _lstat(part)
    if found is None:
        return 0
    if stat.S_ISREG(found.st_mode) and found.st_nlink == 1:
        return found.st_size
    _clear(part)
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
        _clear(path)
        return
    with os.fdopen(_create(path), "w") as f:
        f.write(json.dumps(meta))


def _prepare_now(dest: Path, url: str) -> tuple[int, str | None, int]:
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
    _clear(_meta_path(dest))
    return 0, None, _create(part)


def _start_now(dest: Path) -> int:
    """A new ``.part`` for a download the caller knows is fresh (nothing to resume: see
    ``download``), made by the first worker call that writes: the note cleared, the file
    created (whatever stood there goes), the folder made only if it is missing."""
    _clear(_meta_path(dest))
    try:
        return _create(part_path(dest))
    except FileNotFoundError:
        os.makedirs(dest.parent, exist_ok=True)
        return _create(part_path(dest))


@dataclass(frozen=True)
class _Restart:
    """Work owed before the first bytes of a fresh body land: cut a resumed file back to
    zero (``rewind``: the server sent the whole file), then write the note anew (or clear it,
    ``note`` None). Done in the first worker call that writes, never sooner: until then the
    file and its note still describe each other."""

    rewind: bool
    note: dict[str, object] | None


def _restart_now(fd: int, dest: Path, restart: _Restart | None, *, note: bool = True) -> None:
    if restart is None:
        return
    if restart.rewind:
        os.ftruncate(fd, 0)
        os.lseek(fd, 0, os.SEEK_SET)
    if note:  # after the rewind: the note never vouches for bytes of another version
        _write_meta_now(dest, restart.note)


def _writev_all(fd: int, pieces: Sequence[bytes | memoryview]) -> None:
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
            _writev_all(fd, [whole[:size]])


def _write_now(
    fd: int | None, batch: mmap.mmap, size: int, dest: Path, restart: _Restart | None
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


def _finish_now(
    fd: int | None,
    batch: mmap.mmap,
    size: int,
    dest: Path,
    restart: _Restart | None,
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


def _discard_now(dest: Path) -> None:
    """Remove a partial file that cannot be resumed, and its note (never a directory)."""
    for path in (part_path(dest), _meta_path(dest)):
        found = _lstat(path)
        if found is not None and not stat.S_ISDIR(found.st_mode):
            with contextlib.suppress(OSError):  # the error being raised matters more
                os.unlink(path)


def _in_thread(fn: Callable[..., T], *args: object) -> asyncio.Future[T]:
    """``fn(*args)`` handed to the loop's default executor (no context copy: plain OS work)."""
    return asyncio.get_running_loop().run_in_executor(None, fn, *args)


async def _settle(job: asyncio.Future[T], on_cancel: Callable[[], object] | None = None) -> T:
    """The result of work already handed to a worker thread, waited for even through a
    cancellation: a thread cannot be stopped, and returning early would let it go on writing
    into a descriptor that is being closed (or, once closed, reused for another file). A
    cancellation calls ``on_cancel`` (a hint the work may heed), and is re-raised as soon as
    the work is done; it is never swallowed."""
    cancelled: asyncio.CancelledError | None = None
    while not job.done():
        try:
            await asyncio.wait([job])  # unlike awaiting it, never cancels the job
        except asyncio.CancelledError as exc:
            cancelled = exc
            if on_cancel is not None:
                on_cancel()
    if cancelled is not None:
        if not job.cancelled():
            job.exception()  # retrieved: the cancellation wins over the job's own failure
        raise cancelled
    return job.result()


# --- the download -------------------------------------------------------------------------


async def download(
    transport: Transport,
    url: str,
    dest: Path,
    *,
    max_bytes: int = DEFAULT_MAX_BYTES,
    retry: RetryPolicy | None = None,
    fresh: bool = False,
) -> Path:
    """Fetch ``url`` into ``dest`` and return ``dest``. Interrupted transfers are resumed from
    the bytes already in ``<dest>.part`` (up to the policy's attempts), all of them within
    ``transport.timeouts.download_total`` seconds.

    ``fresh``: the caller knows no partial file of this body can be there (the batch engine,
    for a task it has just created under a name it claimed as free). The first attempt then
    skips the look for one before its request, and its ``.part`` is created by the first
    worker call that writes: a body of one batch costs a single worker call in all. Whatever
    stands at the ``.part`` name anyway is replaced, as an unresumable one would be; later
    attempts look as usual."""
    check_url(url)
    policy = retry or transport.retry
    limits = transport.timeouts
    loop = asyncio.get_running_loop()
    total = limits.download_total
    deadline = None if total is None else loop.time() + total
    last: Exception | None = None
    for attempt in range(1, policy.attempts + 1):
        try:
            first = fresh and attempt == 1
            unplaced = await _fetch(transport, url, dest, max_bytes, deadline, fresh=first)
        except (APIConnectionError, DownloadError) as exc:
            if isinstance(exc, DownloadError) and not exc.resumable:
                await _settle(_in_thread(_discard_now, dest))
                raise
            last = exc
            if deadline is not None and loop.time() >= deadline:
                raise DownloadError(
                    f"download of {dest.name} not finished within download_total "
                    f"({total:g} s): {exc}",
                    url=url,
                    resumable=True,  # what arrived stays in the .part: a later call resumes
                ) from exc
            if attempt < policy.attempts:
                delay = policy.delay(attempt, None)
                if deadline is not None:
                    delay = min(delay, max(0.0, deadline - loop.time()))
                await transport.sleep(delay)
            continue
        if unplaced is not None:
            raise DownloadError(
                f"{dest.name}: cannot move the finished file in place: {unplaced}", url=url
            ) from unplaced
        return dest
    raise DownloadError(
        f"download of {dest.name} failed after {policy.attempts} attempts: {last}", url=url
    ) from last


def _resumable(message: str, url: str) -> DownloadError:
    return DownloadError(message, url=url, resumable=True)


async def _open(dest: Path, url: str) -> tuple[int, str | None, int]:
    """``_prepare_now`` in a worker thread; a descriptor it opened is closed if the caller
    is cancelled meanwhile."""
    opening = _in_thread(_prepare_now, dest, url)
    try:
        return await _settle(opening)
    except asyncio.CancelledError:
        if not opening.cancelled() and opening.exception() is None:
            os.close(opening.result()[2])  # opened after all: not a descriptor to leak
        raise


async def _fetch(
    transport: Transport,
    url: str,
    dest: Path,
    max_bytes: int,
    deadline: float | None,
    *,
    fresh: bool = False,
) -> OSError | None:
    """One attempt, from opening the ``.part`` to the file in place (a ``fresh`` one opens it
    in its first write: see ``download``). Returns the rename's error if only that failed."""
    budget = asyncio.timeout_at(deadline)  # download_total, for every attempt together
    fd: int | None = None
    try:
        async with budget:
            have, etag = 0, None
            if not fresh:
                have, etag, fd = await _open(dest, url)
            headers: dict[str, str] = {}
            if have and etag is not None:
                headers = {"Range": f"bytes={have}-", "If-Range": etag}
            async with transport.stream(url, headers) as response:
                if response.status == 416 and have:
                    assert fd is not None  # opened: have > 0
                    os.close(fd)
                    fd = None
                    await _settle(_in_thread(_clear, part_path(dest)))
                    raise _resumable("stale partial file: the range is no longer satisfiable", url)
                if response.status not in (200, 206):
                    raise DownloadError(
                        f"GET {urlsplit(url).path}: HTTP {response.status}", url=url
                    )
                offset, total = _plan(response, have, url)
                if total is not None and total > max_bytes:
                    raise DownloadError(
                        f"{dest.name}: {total} bytes exceeds the cap of {max_bytes} bytes",
                        url=url,
                    )
                restart = None
                if offset == 0:  # a fresh start: a new note, or none
                    new_etag = response.headers.get("ETag")
                    note: dict[str, object] | None = None
                    if new_etag:
                        note = {"etag": new_etag, "url_path": urlsplit(url).path}
                    if have or note is not None:  # else: the file is new, the note cleared
                        restart = _Restart(rewind=bool(have), note=note)
                writer = _Writer(fd, dest, url, restart)
                fd = None  # the writer's now: closed by it, or by its finishing worker call
                return await _pump(response, writer, offset, total, max_bytes, transport.timeouts)
    except asyncio.CancelledError:
        raise
    except (aiohttp.ClientError, TimeoutError, OSError) as exc:
        if budget.expired():
            raise _resumable(f"{dest.name}: not finished within download_total", url) from exc
        if isinstance(exc, OSError) and not isinstance(exc, aiohttp.ClientError | TimeoutError):
            raise DownloadError(f"{dest.name}: cannot write: {exc}", url=url) from exc
        raise _resumable(f"{dest.name}: transfer interrupted: {type(exc).__name__}", url) from exc
    finally:
        if fd is not None:
            os.close(fd)  # no worker thread has it: only _Writer hands it to one


def _plan(response: aiohttp.ClientResponse, have: int, url: str) -> tuple[int, int | None]:
    """(offset to write at, expected final size) from the status and headers."""
    if response.status == 206:
        match = _CONTENT_RANGE.match(response.headers.get("Content-Range", ""))
        if match is None or int(match.group(1)) != have:
            raise _resumable("the server answered a different range than asked", url)
        total = match.group(3)
        return have, int(total) if total != "*" else None
    return 0, response.content_length


#: Batch buffers kept for the next download (anonymous mappings of ``CHUNK`` bytes each): a
#: mapping reused has its pages in place already, where a new one takes a page fault for every
#: 4 KiB it is filled with. A buffer goes back with no more than its first ``_POOL_PAGES``
#: bytes resident (the rest, touched only by the large batches of a slow disk, is released),
#: so the pool holds at most ``_POOL_KEEP * _POOL_PAGES`` bytes of memory.
_POOL: list[mmap.mmap] = []
_POOL_KEEP = 8
_POOL_PAGES = 2 * 1024 * 1024
_RELEASE = getattr(mmap, "MADV_DONTNEED", None)


def _take_buffer() -> mmap.mmap:
    try:
        return _POOL.pop()  # atomic: loops in other threads may share the pool
    except IndexError:
        return mmap.mmap(-1, CHUNK)


def _give_buffer(buffer: mmap.mmap, reached: int) -> None:
    """Back to the pool once no write uses it; ``reached``: the most bytes it was filled to."""
    if len(_POOL) < _POOL_KEEP:
        if reached <= _POOL_PAGES:
            _POOL.append(buffer)
            return
        if _RELEASE is not None:
            with contextlib.suppress(OSError):
                buffer.madvise(_RELEASE, _POOL_PAGES, CHUNK - _POOL_PAGES)
                _POOL.append(buffer)
                return
    # A view still held (by a traceback, say) keeps it mapped until that is collected.
    with contextlib.suppress(BufferError):
        buffer.close()


class _Writer:
    """Owns the ``.part`` descriptor and two batch buffers: copies the pieces read into one
    buffer while a worker thread writes the other, and finishes the file in one last worker
    call.

    The pieces are copied, not kept: a piece is freed as soon as it is read, so its memory
    comes straight back for the next read, and the process's heap never swings by megabytes
    per batch (allocator trims and fresh page faults cost more than the copy). The buffers are
    anonymous mappings of ``CHUNK`` bytes whose pages are touched only as far as batches reach,
    so a fast disk keeps about ``2 * BATCH`` bytes resident; a slow one up to ``2 * CHUNK``.
    The buffers come from, and go back to, a small pool shared by all downloads."""

    def __init__(self, fd: int | None, dest: Path, url: str, restart: _Restart | None) -> None:
        self._fd = fd
        #: A fresh download's ``.part`` is not made yet: the first worker call makes it.
        self._unborn = fd is None
        self.dest = dest
        self.url = url
        self._restart = restart  # owed by the first worker call that writes
        self._pending: asyncio.Future[int] | None = None
        self._fill = _take_buffer()  # the batch being filled by the loop
        self._spare: mmap.mmap | None = None  # the other one, taken when first needed
        self._reached = 0  # the largest batch handed over
        self._returned = False  # the buffers went back to the pool
        #: Bytes in the batch being filled.
        self.filled = 0
        #: A write failed: the file ends somewhere inside a batch, so nothing may follow it.
        self.failed = False

    def idle(self) -> bool:
        """No write in flight (or one that has ended): a batch handed over now runs at once."""
        return self._pending is None or self._pending.done()

    async def add(self, piece: bytes) -> None:
        """Copy ``piece`` into the batch being filled. The batch is handed over once it holds
        ``BATCH`` bytes and the worker is idle; a full one (``CHUNK``) waits for the worker."""
        view = memoryview(piece)
        while view:
            take = min(CHUNK - self.filled, len(view))
            self._fill[self.filled : self.filled + take] = view[:take]
            self.filled += take
            view = view[take:]
            if self.filled == CHUNK:
                await self.submit()
        if self.filled >= BATCH and self.idle():
            await self.submit()

    async def wait(self) -> None:
        """Wait for the batch in flight, if any (through a cancellation: see ``_settle``)."""
        job, self._pending = self._pending, None
        if job is None:
            return
        try:
            self._fd = await _settle(job)  # the descriptor written to (made, if fresh)
        except asyncio.CancelledError:
            if not job.cancelled() and job.exception() is not None:
                self.failed = True
            elif not job.cancelled():
                self._fd = job.result()  # made after all: close() closes it
            raise
        except BaseException:
            self.failed = True
            raise

    async def submit(self) -> None:
        """Hand the batch being filled to a worker thread (once the one in flight is
        written) and start filling the other buffer."""
        await self.wait()
        assert self._fd is not None or self._unborn
        # Every step that may fail comes before the hand-over; nothing after it can.
        self._spare = spare = self._spare or _take_buffer()
        batch, size = self._fill, self.filled
        self._pending = _in_thread(_write_now, self._fd, batch, size, self.dest, self._restart)
        self._restart, self._unborn = None, False  # done by that call, before its batch
        self._fill, self._spare, self.filled = spare, batch, 0
        self._reached = max(self._reached, size)

    async def finish(self) -> OSError | None:
        """Write the batch being filled, sync, close, rename into place (``_finish_now``)."""
        await self.wait()
        fd = self._fd
        assert fd is not None or self._unborn  # None: made by the finishing call itself
        cancelled = threading.Event()
        job = _in_thread(
            _finish_now, fd, self._fill, self.filled, self.dest, self._restart, self.url, cancelled
        )
        self._fd = self._restart = None  # the worker call closes the file, whatever happens
        self._unborn = False
        return await _settle(job, cancelled.set)

    def close(self) -> None:
        """Close the descriptor unless ``finish`` took it, and give the buffers back. Called
        only once no write is in flight: ``wait`` returns (or raises) only after the worker
        call has ended."""
        fd, self._fd = self._fd, None
        if fd is not None:
            os.close(fd)
        if self._returned:
            return  # never twice: two downloads would share a buffer
        self._returned = True
        reached = max(self._reached, self.filled)
        for buffer in (self._fill, self._spare):
            if buffer is not None:
                _give_buffer(buffer, reached)


class _Meter:
    """Ends an attempt that goes too slowly: fewer than ``download_min_rate`` bytes a second
    over a window of ``download_rate_window`` seconds (a resumable ``DownloadError``)."""

    def __init__(self, limits: Timeouts, name: str, url: str) -> None:
        self.min_rate = limits.download_min_rate
        self.window = limits.download_rate_window
        self.name = name
        self.url = url
        self._clock = asyncio.get_running_loop().time
        self._start = self._clock()
        self._bytes = 0

    async def read(self, stream: aiohttp.StreamReader) -> bytes:
        """The next piece of the body (``b""`` at its end), checking the rate as it goes."""
        if not self.min_rate:
            return await stream.readany()
        while True:
            timer = asyncio.timeout_at(self._start + self.window)
            try:
                async with timer:
                    piece = await stream.readany()
            except TimeoutError:
                if not timer.expired():
                    raise  # the socket's own read timeout, not the window's end
                self._count(0)
                continue
            self._count(len(piece))
            return piece

    def _count(self, size: int) -> None:
        self._bytes += size
        now = self._clock()
        elapsed = now - self._start
        if elapsed < self.window:
            return
        floor = self.min_rate or 0.0
        if self._bytes < floor * elapsed:
            raise _resumable(
                f"{self.name}: too slow: {self._bytes} bytes in {elapsed:.1f} s "
                f"(download_min_rate is {floor:g} bytes/s)",
                self.url,
            )
        self._start, self._bytes = now, 0


async def _pump(
    response: aiohttp.ClientResponse,
    writer: _Writer,
    offset: int,
    total: int | None,
    max_bytes: int,
    limits: Timeouts,
) -> OSError | None:
    """Read the body into batches for ``writer``, check its length, finish the file.

    Double buffering: while the worker thread writes one batch, the loop keeps reading the
    network into the next (see ``_Writer``)."""
    dest, url = writer.dest, writer.url
    written = offset
    meter = _Meter(limits, dest.name, url)
    try:
        try:
            while piece := await meter.read(response.content):
                written += len(piece)
                if written > max_bytes:
                    raise DownloadError(
                        f"{dest.name}: more than the cap of {max_bytes} bytes", url=url
                    )
                await writer.add(piece)
            if total is not None and written != total:
                raise _resumable(f"{dest.name}: got {written} of {total} bytes", url)
        except BaseException as exc:
            await _wind_up(writer, exc)
            raise
        return await writer.finish()
    finally:
        writer.close()


async def _wind_up(writer: _Writer, exc: BaseException) -> None:
    """After the transfer broke off with ``exc``: never leave a write running past the
    file's close, and write the batch in hand too (a resume continues after it) unless a
    write already failed. Then the caller re-raises ``exc``; a cancellation arriving
    meanwhile is raised instead, unless ``exc`` is one already."""
    try:
        await writer.wait()
        if writer.filled and not writer.failed:
            await writer.submit()
            await writer.wait()
    except asyncio.CancelledError:
        if not isinstance(exc, asyncio.CancelledError):
            raise
    except Exception:
        if not isinstance(exc, asyncio.CancelledError):
            raise
        # cancelled anyway: the file still holds a prefix of the body, and the
        # cancellation is what the caller must see
