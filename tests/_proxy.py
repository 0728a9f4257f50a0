"""A hostile proxy in front of the emulator: requests go through to it untouched, answers
come back rewritten by the test's rules (garbled bodies, odd task ids, stalls). The SDK is
pointed at the proxy; downloads still go straight to the emulator (its URLs are absolute)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp
from aiohttp import web
from aiohttp.test_utils import TestServer

#: A rule sees (method, path, status, body) and returns a new body, or None to pass it on.
Rule = Callable[[str, str, int, bytes], Awaitable[bytes | None] | bytes | None]


class HostileProxy:
    def __init__(self, upstream: str) -> None:
        self.upstream = upstream.rstrip("/")
        self.rules: list[Rule] = []
        #: (method, path) of every request seen, in order.
        self.seen: list[tuple[str, str]] = []
        self._server: TestServer | None = None
        self._session: aiohttp.ClientSession | None = None

    @property
    def url(self) -> str:
        assert self._server is not None
        return str(self._server.make_url("")).rstrip("/")

    async def start(self) -> HostileProxy:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._handle)
        self._session = aiohttp.ClientSession()
        self._server = TestServer(app, host="127.0.0.1", port=0)
        await self._server.start_server()
        return self

    async def close(self) -> None:
        if self._server is not None:
            await self._server.close()
        if self._session is not None:
            await self._session.close()

    async def __aenter__(self) -> HostileProxy:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        assert self._session is not None
        self.seen.append((request.method, request.path))
        headers = {k: v for k, v in request.headers.items() if k.lower() in ("authorization",)}
        body = await request.read()
        if body:
            headers["Content-Type"] = request.headers.get("Content-Type", "application/json")
        async with self._session.request(
            request.method,
            self.upstream + request.raw_path,
            data=body or None,
            headers=headers,
        ) as upstream:
            status = upstream.status
            raw = await upstream.read()
        for rule in self.rules:
            changed = rule(request.method, request.path, status, raw)
            if asyncio.iscoroutine(changed):
                changed = await changed
            if changed is not None:
                raw = changed  # type: ignore[assignment]
                break
        return web.Response(status=status, body=raw, content_type="application/json")


def deep_json(depth: int = 100_000) -> bytes:
    """A body whose nesting makes a recursive parser give up."""
    return b'{"code":0,"data":' + b"[" * depth + b"]" * depth + b"}"


def is_create(method: str, path: str) -> bool:
    return method == "POST" and path.startswith("/v1/videos/")


def rewrite_json(body: bytes, change: Callable[[Any], Any]) -> bytes:
    import json

    return json.dumps(change(json.loads(body))).encode()
