"""Streaming download of result files: chunks through aiofiles into ``<name>.part``, length
checked, resumed with ``Range`` (guarded by ``If-Range``) after an interruption, renamed
atomically. A partial file never sits under the final name; memory stays flat."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
from pathlib import Path
from urllib.parse import urlsplit

import aiofiles
import aiofiles.os
import aiohttp

from ._http import Transport
from ._retry import RetryPolicy
from .errors import APIConnectionError, DownloadError

#: Bytes per disk write: network reads are gathered into batches of this size, each written
#: by aiofiles' worker with one writev call; at most two batches are held per download.
CHUNK = 8 * 1024 * 1024
#: The default cap on one file's size: far above any Kling video, far below a full disk.
DEFAULT_MAX_BYTES = 4 * 1024**3
_CONTENT_RANGE = re.compile(r"^bytes (\d+)-(\d+)/(\d+|\*)$")


def part_path(dest: Path) -> Path:
    return dest.with_name(dest.name + ".part")


def _meta_path(dest: Path) -> Path:
    return dest.with_name(dest.name + ".part.json")


def check_url(url: str) -> None:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise DownloadError(f"refusing to download {url[:80]!r}: not an http(s) URL", url=url)


async def _read_meta(dest: Path) -> dict[str, object]:
    try:
        async with aiofiles.open(_meta_path(dest)) as f:
            meta = json.loads(await f.read())
    except (OSError, ValueError):
        return {}
    return meta if isinstance(meta, dict) else {}


async def _write_meta(dest: Path, meta: dict[str, object]) -> None:
    async with aiofiles.open(_meta_path(dest), "w") as f:
        await f.write(json.dumps(meta))


async def _size(path: Path) -> int:
    try:
        return (await aiofiles.os.stat(path)).st_size
    except FileNotFoundError:
        return 0


async def download(
    transport: Transport,
    url: str,
    dest: Path,
    *,
    max_bytes: int = DEFAULT_MAX_BYTES,
    retry: RetryPolicy | None = None,
) -> Path:
    """Fetch ``url`` into ``dest`` and return ``dest``. Interrupted transfers are resumed from
    the bytes already in ``<dest>.part`` (up to the policy's attempts)."""
    check_url(url)
    policy = retry or transport.retry
    await aiofiles.os.makedirs(dest.parent, exist_ok=True)
    last: Exception | None = None
    for attempt in range(1, policy.attempts + 1):
        try:
            await _fetch(transport, url, dest, max_bytes)
        except (APIConnectionError, DownloadError) as exc:
            if isinstance(exc, DownloadError) and not exc.resumable:
                await _discard(dest)
                raise
            last = exc
            if attempt < policy.attempts:
                await transport.sleep(policy.delay(attempt, None))
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


# One worker call per batch: the writer takes the GIL back once per batch, not once per piece.
_writev = aiofiles.os.wrap(_writev_all)
_IOV_MAX = 1024


async def _discard(dest: Path) -> None:
    """Remove a partial file that cannot be resumed, and its note."""
    for path in (part_path(dest), _meta_path(dest)):
        with contextlib.suppress(FileNotFoundError):
            await aiofiles.os.remove(path)


def _resumable(message: str, url: str) -> DownloadError:
    return DownloadError(message, url=url, resumable=True)


async def _fetch(transport: Transport, url: str, dest: Path, max_bytes: int) -> None:
    part = part_path(dest)
    have = await _size(part)
    meta = await _read_meta(dest) if have else {}
    headers: dict[str, str] = {}
    if have and isinstance(meta.get("etag"), str):
        headers = {"Range": f"bytes={have}-", "If-Range": str(meta["etag"])}
    elif have:
        have = 0  # no validator to prove the remote file is the same: start over
    try:
        async with transport.stream(url, headers) as response:
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
            etag = response.headers.get("ETag")
            if etag and offset == 0:
                await _write_meta(dest, {"etag": etag, "url_path": urlsplit(url).path})
            written = await _stream_to(response, part, offset, max_bytes, url, dest)
    except asyncio.CancelledError:
        raise
    except (aiohttp.ClientError, TimeoutError, OSError) as exc:
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


async def _stream_to(
    response: aiohttp.ClientResponse,
    part: Path,
    offset: int,
    max_bytes: int,
    url: str,
    dest: Path,
) -> int:
    written = offset
    # Double buffering: while the worker thread writes one batch, the loop keeps reading the
    # network into the next. A batch is a list of the pieces as read (no copying them together)
    # of about CHUNK bytes; at most two batches exist at a time.
    batch: list[bytes] = []
    batched = 0
    pending: asyncio.Future[None] | None = None
    async with aiofiles.open(part, "r+b" if offset else "wb") as f:
        if offset:
            await f.seek(offset)
            await f.truncate()
        try:
            while piece := await response.content.readany():
                written += len(piece)
                if written > max_bytes:
                    raise DownloadError(
                        f"{dest.name}: more than the cap of {max_bytes} bytes", url=url
                    )
                batch.append(piece)
                batched += len(piece)
                if batched >= CHUNK:
                    if pending is not None:
                        await pending
                    pending = asyncio.ensure_future(_writev(f.fileno(), batch))
                    batch, batched = [], 0
        finally:
            if pending is not None:
                await pending  # never leave a write running past the file's close
            if batch:  # even when the transfer broke off: a resume continues after these
                await _writev(f.fileno(), batch)
        await f.flush()
        await asyncio.to_thread(os.fsync, f.fileno())
    return written
