"""The download itself: attempts under the one retry helper, each a ranged GET read into
the writer, length-checked, the file moved into place."""

from __future__ import annotations

import asyncio
import os
import re
from pathlib import Path
from urllib.parse import urlsplit

import aiohttp

from .._http import Timeouts, Transport
from .._retry import RetryPolicy
from .._retry import retry as retrying  # download() has a parameter named retry
from ..errors import APIConnectionError, DownloadError
from ._files import Restart, clear, discard_now, part_path, prepare_now
from ._meter import Meter
from ._thread import in_thread, settle
from ._writer import Writer

#: The default cap on one file's size: far above any Kling video, far below a full disk.
DEFAULT_MAX_BYTES = 4 * 1024**3
_CONTENT_RANGE = re.compile(r"^bytes (\d+)-(\d+)/(\d+|\*)$")


def check_url(url: str) -> None:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise DownloadError(f"refusing to download {url[:80]!r}: not an http(s) URL", url=url)


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
    loop = asyncio.get_running_loop()
    total = transport.timeouts.download_total
    deadline = None if total is None else loop.time() + total

    async def attempt(n: int) -> OSError | None:
        try:
            return await _fetch(transport, url, dest, max_bytes, deadline, fresh=fresh and n == 1)
        except DownloadError as exc:
            if not exc.resumable:
                await settle(in_thread(discard_now, dest))
            raise

    try:
        unplaced = await retrying(
            attempt,
            retry_if=_resumed_after,
            wait=lambda n, exc: policy.delay(n, None),
            attempts=policy.attempts,
            deadline=deadline,
            monotonic=loop.time,
            sleep=transport.sleep,
            what=f"download of {dest.name}",
        )
    except (APIConnectionError, DownloadError) as exc:
        if not _resumed_after(exc):
            raise
        if deadline is not None and loop.time() >= deadline:
            raise DownloadError(
                f"download of {dest.name} not finished within download_total ({total:g} s): {exc}",
                url=url,
                resumable=True,  # what arrived stays in the .part: a later call resumes
            ) from exc
        raise DownloadError(
            f"download of {dest.name} failed after {policy.attempts} attempts: {exc}", url=url
        ) from exc
    if unplaced is not None:
        raise DownloadError(
            f"{dest.name}: cannot move the finished file in place: {unplaced}", url=url
        ) from unplaced
    return dest


def _resumed_after(exc: BaseException) -> bool:
    """Whether another attempt may resume after ``exc``: a broken connection, or a
    ``DownloadError`` that keeps its ``.part``."""
    if isinstance(exc, DownloadError):
        return exc.resumable
    return isinstance(exc, APIConnectionError)


def _resumable(message: str, url: str) -> DownloadError:
    return DownloadError(message, url=url, resumable=True)


async def _open(dest: Path, url: str) -> tuple[int, str | None, int]:
    """``prepare_now`` in a worker thread; a descriptor it opened is closed if the caller
    is cancelled meanwhile."""
    opening = in_thread(prepare_now, dest, url)
    try:
        return await settle(opening)
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
                    await settle(in_thread(clear, part_path(dest)))
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
                        restart = Restart(rewind=bool(have), note=note)
                writer = Writer(fd, dest, url, restart)
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
            os.close(fd)  # no worker thread has it: only Writer hands it to one


def _plan(response: aiohttp.ClientResponse, have: int, url: str) -> tuple[int, int | None]:
    """(offset to write at, expected final size) from the status and headers."""
    if response.status == 206:
        match = _CONTENT_RANGE.match(response.headers.get("Content-Range", ""))
        if match is None or int(match.group(1)) != have:
            raise _resumable("the server answered a different range than asked", url)
        total = match.group(3)
        return have, int(total) if total != "*" else None
    return 0, response.content_length


async def _pump(
    response: aiohttp.ClientResponse,
    writer: Writer,
    offset: int,
    total: int | None,
    max_bytes: int,
    limits: Timeouts,
) -> OSError | None:
    """Read the body into batches for ``writer``, check its length, finish the file.

    Double buffering: while the worker thread writes one batch, the loop keeps reading the
    network into the next (see ``Writer``)."""
    dest, url = writer.dest, writer.url
    written = offset
    meter = Meter(limits, dest.name, url)
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


async def _wind_up(writer: Writer, exc: BaseException) -> None:
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
