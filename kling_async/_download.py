"""Streaming download of result files: network reads batched into ``<name>.part`` (one
``writev`` per batch in a worker thread), length checked, resumed with ``Range`` (guarded by
``If-Range``) after an interruption, renamed atomically. A partial file never sits under the
final name; memory stays flat.

Hostile ground is assumed on both sides. The ``.part`` file and its ``.part.json`` note are
opened with ``O_NOFOLLOW`` (and created with ``O_EXCL``), so a symlink or hard link planted at
either name never leads a write outside the output folder: whatever non-directory stands there
is removed first. A server that trickles bytes is cut off by ``Timeouts.download_min_rate`` and
``Timeouts.download_total``. A cancelled download waits for the write its worker thread is
doing before the file is closed, then lets the cancellation through.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import stat
from pathlib import Path
from typing import TypeVar
from urllib.parse import urlsplit

import aiofiles.os
import aiohttp

from ._http import Timeouts, Transport
from ._retry import RetryPolicy
from .errors import APIConnectionError, DownloadError

#: Bytes per disk write: network reads are gathered into batches of this size, each written
#: by a worker thread with one writev call; at most two batches are held per download.
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
    _clear(path)
    return os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | _SAFE, 0o644)


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


def _discard_now(dest: Path) -> None:
    """Remove a partial file that cannot be resumed, and its note (never a directory)."""
    for path in (part_path(dest), _meta_path(dest)):
        found = _lstat(path)
        if found is not None and not stat.S_ISDIR(found.st_mode):
            with contextlib.suppress(OSError):  # the error being raised matters more
                os.unlink(path)


async def _read_meta(dest: Path) -> dict[str, object]:
    return await asyncio.to_thread(_read_meta_now, dest)


async def _write_meta(dest: Path, meta: dict[str, object] | None) -> None:
    await asyncio.to_thread(_write_meta_now, dest, meta)


async def _discard(dest: Path) -> None:
    await asyncio.to_thread(_discard_now, dest)


# --- the download -------------------------------------------------------------------------


async def download(
    transport: Transport,
    url: str,
    dest: Path,
    *,
    max_bytes: int = DEFAULT_MAX_BYTES,
    retry: RetryPolicy | None = None,
) -> Path:
    """Fetch ``url`` into ``dest`` and return ``dest``. Interrupted transfers are resumed from
    the bytes already in ``<dest>.part`` (up to the policy's attempts), all of them within
    ``transport.timeouts.download_total`` seconds."""
    check_url(url)
    policy = retry or transport.retry
    limits = transport.timeouts
    loop = asyncio.get_running_loop()
    total = limits.download_total
    deadline = None if total is None else loop.time() + total
    await aiofiles.os.makedirs(dest.parent, exist_ok=True)
    last: Exception | None = None
    for attempt in range(1, policy.attempts + 1):
        try:
            await _fetch(transport, url, dest, max_bytes, deadline)
        except (APIConnectionError, DownloadError) as exc:
            if isinstance(exc, DownloadError) and not exc.resumable:
                await _discard(dest)
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
        part = part_path(dest)
        try:
            await aiofiles.os.replace(part, dest)
        except OSError as exc:
            raise DownloadError(
                f"{dest.name}: cannot move the finished file in place: {exc}", url=url
            ) from exc
        with contextlib.suppress(FileNotFoundError):
            await aiofiles.os.remove(_meta_path(dest))
        return dest
    raise DownloadError(
        f"download of {dest.name} failed after {policy.attempts} attempts: {last}", url=url
    ) from last


def _writev_all(fd: int, pieces: list[bytes]) -> None:
    """Write every piece with as few syscalls as the kernel allows (blocking)."""
    views = [memoryview(p) for p in pieces]
    while views:
        done = os.writev(fd, views[:_IOV_MAX])
        while views and done >= len(views[0]):
            done -= len(views[0])
            views.pop(0)
        if views and done:
            views[0] = views[0][done:]


def _resumable(message: str, url: str) -> DownloadError:
    return DownloadError(message, url=url, resumable=True)


async def _fetch(
    transport: Transport, url: str, dest: Path, max_bytes: int, deadline: float | None
) -> None:
    part = part_path(dest)
    budget = asyncio.timeout_at(deadline)  # download_total, for every attempt together
    try:
        have = await asyncio.to_thread(_part_size, part)
        meta = await _read_meta(dest) if have else {}
        headers: dict[str, str] = {}
        if have and isinstance(meta.get("etag"), str):
            headers = {"Range": f"bytes={have}-", "If-Range": str(meta["etag"])}
        elif have:
            have = 0  # no validator to prove the remote file is the same: start over
        async with budget, transport.stream(url, headers) as response:
            if response.status == 416 and have:
                await aiofiles.os.remove(part)
                raise _resumable("stale partial file: the range is no longer satisfiable", url)
            if response.status not in (200, 206):
                raise DownloadError(f"GET {urlsplit(url).path}: HTTP {response.status}", url=url)
            offset, total = _plan(response, have, url)
            if total is not None and total > max_bytes:
                raise DownloadError(
                    f"{dest.name}: {total} bytes exceeds the cap of {max_bytes} bytes", url=url
                )
            if offset == 0:  # a fresh start: a new note, or none
                etag = response.headers.get("ETag")
                note: dict[str, object] | None = None
                if etag:
                    note = {"etag": etag, "url_path": urlsplit(url).path}
                await _write_meta(dest, note)
            written = await _stream_to(
                response, part, offset, max_bytes, url, dest, transport.timeouts
            )
    except asyncio.CancelledError:
        raise
    except (aiohttp.ClientError, TimeoutError, OSError) as exc:
        if budget.expired():
            raise _resumable(f"{dest.name}: not finished within download_total", url) from exc
        if isinstance(exc, OSError) and not isinstance(exc, aiohttp.ClientError | TimeoutError):
            raise DownloadError(f"{dest.name}: cannot write: {exc}", url=url) from exc
        raise _resumable(f"{dest.name}: transfer interrupted: {type(exc).__name__}", url) from exc
    if total is not None and written != total:
        raise _resumable(f"{dest.name}: got {written} of {total} bytes", url)


def _plan(response: aiohttp.ClientResponse, have: int, url: str) -> tuple[int, int | None]:
    """(offset to write at, expected final size) from the status and headers."""
    if response.status == 206:
        match = _CONTENT_RANGE.match(response.headers.get("Content-Range", ""))
        if match is None or int(match.group(1)) != have:
            raise _resumable("the server answered a different range than asked", url)
        total = match.group(3)
        return have, int(total) if total != "*" else None
    return 0, response.content_length


async def _settle(job: asyncio.Future[T]) -> T:
    """The result of work already handed to a worker thread, waited for even through a
    cancellation: a thread cannot be stopped, and returning early would let it go on writing
    into a descriptor that is being closed (or, once closed, reused for another file). A
    cancellation is re-raised as soon as the work is done; it is never swallowed."""
    cancelled: asyncio.CancelledError | None = None
    while not job.done():
        try:
            await asyncio.wait([job])  # unlike awaiting it, never cancels the job
        except asyncio.CancelledError as exc:
            cancelled = exc
    if cancelled is not None:
        if not job.cancelled():
            job.exception()  # retrieved: the cancellation wins over the job's own failure
        raise cancelled
    return job.result()


class _Writer:
    """Hands batches to a worker thread, one in flight at a time, while the loop reads on."""

    def __init__(self, fd: int) -> None:
        self._fd = fd
        self._pending: asyncio.Future[None] | None = None
        #: A write failed: the file ends somewhere inside a batch, so nothing may follow it.
        self.failed = False

    async def wait(self) -> None:
        """Wait for the batch in flight, if any (through a cancellation: see ``_settle``)."""
        job, self._pending = self._pending, None
        if job is None:
            return
        try:
            await _settle(job)
        except asyncio.CancelledError:
            if not job.cancelled() and job.exception() is not None:
                self.failed = True
            raise
        except BaseException:
            self.failed = True
            raise

    async def submit(self, batch: list[bytes]) -> None:
        await self.wait()
        loop = asyncio.get_running_loop()
        self._pending = loop.run_in_executor(None, _writev_all, self._fd, batch)


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


async def _stream_to(
    response: aiohttp.ClientResponse,
    part: Path,
    offset: int,
    max_bytes: int,
    url: str,
    dest: Path,
    limits: Timeouts,
) -> int:
    opening = asyncio.get_running_loop().run_in_executor(None, _open_part, part, offset, url)
    try:
        fd = await _settle(opening)
    except asyncio.CancelledError:
        if not opening.cancelled() and opening.exception() is None:
            os.close(opening.result())  # opened after all: not a descriptor to leak
        raise
    try:
        written = await _pump(response, fd, offset, max_bytes, url, dest, limits)
        await _settle(asyncio.get_running_loop().run_in_executor(None, os.fsync, fd))
    finally:
        os.close(fd)  # only once no thread is using it: _pump and _settle wait for them
    return written


async def _pump(
    response: aiohttp.ClientResponse,
    fd: int,
    offset: int,
    max_bytes: int,
    url: str,
    dest: Path,
    limits: Timeouts,
) -> int:
    written = offset
    # Double buffering: while the worker thread writes one batch, the loop keeps reading the
    # network into the next. A batch is a list of the pieces as read (no copying them together)
    # of about CHUNK bytes; at most two batches exist at a time.
    batch: list[bytes] = []
    batched = 0
    writer = _Writer(fd)
    meter = _Meter(limits, dest.name, url)
    try:
        while piece := await meter.read(response.content):
            written += len(piece)
            if written > max_bytes:
                raise DownloadError(f"{dest.name}: more than the cap of {max_bytes} bytes", url=url)
            batch.append(piece)
            batched += len(piece)
            if batched >= CHUNK:
                await writer.submit(batch)
                batch, batched = [], 0
    except BaseException as exc:
        await _wind_up(writer, batch, exc)
        raise
    await writer.wait()
    if batch:
        await writer.submit(batch)
        await writer.wait()
    return written


async def _wind_up(writer: _Writer, batch: list[bytes], exc: BaseException) -> None:
    """After the transfer broke off with ``exc``: never leave a write running past the
    file's close, and write the batch in hand too (a resume continues after it) unless a
    write already failed. Then the caller re-raises ``exc``; a cancellation arriving
    meanwhile is raised instead, unless ``exc`` is one already."""
    try:
        await writer.wait()
        if batch and not writer.failed:
            await writer.submit(batch)
            await writer.wait()
    except asyncio.CancelledError:
        if not isinstance(exc, asyncio.CancelledError):
            raise
    except Exception:
        if not isinstance(exc, asyncio.CancelledError):
            raise
        # cancelled anyway: the file still holds a prefix of the body, and the
        # cancellation is what the caller must see
