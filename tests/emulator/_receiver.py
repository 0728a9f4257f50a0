"""A callback receiver on 127.0.0.1, port 0: what an application's webhook endpoint sees."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from typing import Any

from aiohttp import web


class Receiver:
    """Keeps every delivery (headers, raw body); answers 500 while ``fail`` is set."""

    def __init__(self) -> None:
        self.deliveries: list[tuple[dict[str, str], bytes]] = []
        self.fail = False
        self.url = ""
        self.arrived = asyncio.Event()

    async def handle(self, request: web.Request) -> web.Response:
        self.deliveries.append((dict(request.headers), await request.read()))
        self.arrived.set()
        return web.Response(status=500 if self.fail else 204)

    async def wait_for(self, count: int, limit: float = 5.0) -> None:
        async with asyncio.timeout(limit):
            while len(self.deliveries) < count:
                self.arrived.clear()
                await self.arrived.wait()

    @property
    def bodies(self) -> list[dict[str, Any]]:
        """The deliveries' JSON bodies, in order."""
        return [json.loads(raw) for _, raw in self.deliveries]


@contextlib.asynccontextmanager
async def serving_receiver() -> AsyncIterator[Receiver]:
    """A ``Receiver`` listening at ``http://127.0.0.1:<port>/hook`` until the block ends."""
    rec = Receiver()
    app = web.Application()
    app.router.add_post("/hook", rec.handle)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    rec.url = f"http://127.0.0.1:{runner.addresses[0][1]}/hook"
    try:
        yield rec
    finally:
        await runner.cleanup()
