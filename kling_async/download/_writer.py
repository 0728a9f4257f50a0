"""The download's writer: the pieces read are copied into two reused batch buffers, one
filled by the loop while a worker thread writes the other; the file is finished in one last
worker call."""

from __future__ import annotations

import asyncio
import contextlib
import mmap
import os
import threading
from pathlib import Path

from ._files import Restart, finish_now, write_now
from ._thread import in_thread, settle

#: A batch goes to the worker thread once it holds this many bytes and the worker is idle, so
#: writing overlaps reading even for a file of a few megabytes.
BATCH = 1024 * 1024
#: The most a batch grows to while the worker is busy (a slow disk): at this size the loop
#: waits for the write in flight. At most two batches are held per download.
CHUNK = 8 * 1024 * 1024


#: Batch buffers kept for the next download (anonymous mappings of ``CHUNK`` bytes each): a
#: mapping reused has its pages in place already, where a new one takes a page fault for every
#: 4 KiB it is filled with. A buffer goes back with no more than its first ``POOL_PAGES``
#: bytes resident (the rest, touched only by the large batches of a slow disk, is released),
#: so the pool holds at most ``POOL_KEEP * POOL_PAGES`` bytes of memory.
POOL: list[mmap.mmap] = []
POOL_KEEP = 8
POOL_PAGES = 2 * 1024 * 1024
_RELEASE = getattr(mmap, "MADV_DONTNEED", None)


def _take_buffer() -> mmap.mmap:
    try:
        return POOL.pop()  # atomic: loops in other threads may share the pool
    except IndexError:
        return mmap.mmap(-1, CHUNK)


def _give_buffer(buffer: mmap.mmap, reached: int) -> None:
    """Back to the pool once no write uses it; ``reached``: the most bytes it was filled to."""
    if len(POOL) < POOL_KEEP:
        if reached <= POOL_PAGES:
            POOL.append(buffer)
            return
        if _RELEASE is not None:
            with contextlib.suppress(OSError):
                buffer.madvise(_RELEASE, POOL_PAGES, CHUNK - POOL_PAGES)
                POOL.append(buffer)
                return
    # A view still held (by a traceback, say) keeps it mapped until that is collected.
    with contextlib.suppress(BufferError):
        buffer.close()


class Writer:
    """Owns the ``.part`` descriptor and two batch buffers: copies the pieces read into one
    buffer while a worker thread writes the other, and finishes the file in one last worker
    call.

    The pieces are copied, not kept: a piece is freed as soon as it is read, so its memory
    comes straight back for the next read, and the process's heap never swings by megabytes
    per batch (allocator trims and fresh page faults cost more than the copy). The buffers are
    anonymous mappings of ``CHUNK`` bytes whose pages are touched only as far as batches reach,
    so a fast disk keeps about ``2 * BATCH`` bytes resident; a slow one up to ``2 * CHUNK``.
    The buffers come from, and go back to, a small pool shared by all downloads."""

    def __init__(self, fd: int | None, dest: Path, url: str, restart: Restart | None) -> None:
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
        """Wait for the batch in flight, if any (through a cancellation: see ``settle``)."""
        job, self._pending = self._pending, None
        if job is None:
            return
        try:
            self._fd = await settle(job)  # the descriptor written to (made, if fresh)
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
        self._pending = in_thread(write_now, self._fd, batch, size, self.dest, self._restart)
        self._restart, self._unborn = None, False  # done by that call, before its batch
        self._fill, self._spare, self.filled = spare, batch, 0
        self._reached = max(self._reached, size)

    async def finish(self) -> OSError | None:
        """Write the batch being filled, sync, close, rename into place (``finish_now``)."""
        await self.wait()
        fd = self._fd
        assert fd is not None or self._unborn  # None: made by the finishing call itself
        cancelled = threading.Event()
        job = in_thread(
            finish_now, fd, self._fill, self.filled, self.dest, self._restart, self.url, cancelled
        )
        self._fd = self._restart = None  # the worker call closes the file, whatever happens
        self._unborn = False
        return await settle(job, cancelled.set)

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
