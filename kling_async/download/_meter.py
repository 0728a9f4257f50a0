"""The slow-transfer meter: a server that trickles bytes is cut off."""

from __future__ import annotations

import asyncio

import aiohttp

from .._http import Timeouts
from ..errors import DownloadError


class Meter:
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
            raise DownloadError(
                f"{self.name}: too slow: {self._bytes} bytes in {elapsed:.1f} s "
                f"(download_min_rate is {floor:g} bytes/s)",
                url=self.url,
                resumable=True,
            )
        self._start, self._bytes = now, 0
