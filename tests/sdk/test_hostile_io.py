"""Hostile I/O on the edges the SDK reads from: callbacks split across TCP segments or
nested a hundred thousand deep, unsigned callbacks against a secret, and API answers too big
or too deep. (A download's hostile ground: ``tests/download/test_download_hostile.py``.)

Every server is real (aiohttp on 127.0.0.1, port 0, or a raw TCP peer); every loop is bounded in
count and in time."""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
import tracemalloc
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

import kling_async as kling
from kling_async._http import _unwrap  # private: the answer parser, fuzzed alone
from kling_async.errors import WebhookError
from kling_async.webhooks import WebhookVerifier, webhook_handler

from ..webhooks.test_webhooks import BODY, NEW, delivery

ONCE = kling.RetryPolicy(attempts=1)
DEEP = b"[" * 100_000


@contextlib.asynccontextmanager
async def serving(app: web.Application) -> AsyncIterator[str]:
    """The app on 127.0.0.1, port 0; yields its base URL (no trailing slash)."""
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    try:
        yield str(server.make_url("")).rstrip("/")
    finally:
        await server.close()


def one_route(handler: Callable[[web.Request], Awaitable[web.StreamResponse]]) -> web.Application:
    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", handler)
    return app


def client_for(base: str, **changes: Any) -> kling.KlingClient:
    options: dict[str, Any] = {
        "api_key": "k",
        "base_url": base,
        "retry": kling.RetryPolicy(attempts=2, initial_backoff=0.01, max_backoff=0.02, jitter=0),
    }
    options.update(changes)
    return kling.KlingClient(**options)


# --- webhooks ------------------------------------------------------------------------------


async def raw_post(port: int, head: dict[str, str], segments: list[bytes]) -> int:
    """POST /hook over a raw socket, the body in ``segments`` written 0.15 s apart; the
    status the server answers."""
    reader, writer = await asyncio.wait_for(asyncio.open_connection("127.0.0.1", port), 2)
    try:
        lines = [
            "POST /hook HTTP/1.1",
            f"Host: 127.0.0.1:{port}",
            "Content-Type: application/json",
            "Connection: close",
            *(f"{k}: {v}" for k, v in head.items()),
        ]
        writer.write(("\r\n".join(lines) + "\r\n\r\n").encode())
        for i, segment in enumerate(segments):
            if i:
                await asyncio.sleep(0.15)  # the peer sees this segment arrive on its own
            writer.write(segment)
            await writer.drain()
        status_line = await asyncio.wait_for(reader.readline(), 3)
        return int(status_line.split()[1])
    finally:
        writer.close()
        with contextlib.suppress(ConnectionError):
            await writer.wait_closed()


@contextlib.asynccontextmanager
async def hook_server(
    received: list[kling.Task], secret: str | None = NEW, **options: Any
) -> AsyncIterator[int]:
    app = web.Application()
    app.router.add_post("/hook", webhook_handler(received.append, secret, **options))
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    try:
        assert server.port is not None
        yield server.port
    finally:
        await server.close()


async def test_webhook_body_split_across_segments_verifies() -> None:
    """The body arrives in two TCP segments 0.15 s apart: the handler reads to the end and
    the delivery verifies (a single read cut it at the first segment: 401)."""
    received: list[kling.Task] = []
    half = len(BODY) // 2
    head = {**delivery(NEW, msg_id="split"), "Content-Length": str(len(BODY))}
    async with hook_server(received, max_body=4096) as port:
        status = await raw_post(port, head, [BODY[:half], BODY[half:]])
    assert status == 204
    assert [t.task_id for t in received] == ["42"]


async def test_webhook_chunked_body_past_max_body_is_413() -> None:
    """No Content-Length: chunks arrive one by one; once they pass max_body the answer is
    413, never a verification of the first chunk alone."""
    body = b" " * 6000
    chunks = [body[i : i + 2000] for i in range(0, len(body), 2000)]
    segments = [f"{len(c):x}\r\n".encode() + c + b"\r\n" for c in chunks] + [b"0\r\n\r\n"]
    head = {**delivery(NEW, msg_id="big", body=body), "Transfer-Encoding": "chunked"}
    received: list[kling.Task] = []
    async with hook_server(received, max_body=4096) as port:
        status = await raw_post(port, head, segments)
    assert status == 413
    assert received == []


async def test_allow_unsigned_never_downgrades_a_secret() -> None:
    verifier = WebhookVerifier(NEW, allow_unsigned=True)
    with pytest.raises(WebhookError, match="unsigned"):
        verifier.verify(BODY, {})
    assert verifier.verify(BODY, delivery(NEW, msg_id="s")).task_id == "42"  # signed: fine
    # without a secret, allow_unsigned still means what it says
    assert WebhookVerifier(allow_unsigned=True).verify(BODY, {}).task_id == "42"
    received: list[kling.Task] = []
    async with hook_server(received, allow_unsigned=True) as port:
        unsigned = await raw_post(port, {"Content-Length": str(len(BODY))}, [BODY])
        signed = await raw_post(
            port, {**delivery(NEW, msg_id="ok"), "Content-Length": str(len(BODY))}, [BODY]
        )
    assert (unsigned, signed) == (401, 204)
    assert [t.task_id for t in received] == ["42"]


async def test_deeply_nested_callback_is_a_clean_400() -> None:
    with pytest.raises(WebhookError, match="not JSON"):
        WebhookVerifier(NEW).verify(DEEP, delivery(NEW, msg_id="deep", body=DEEP))
    with pytest.raises(WebhookError, match="not JSON"):
        WebhookVerifier(allow_unsigned=True).verify(b'{"a":' * 50_000, {})
    received: list[kling.Task] = []
    async with hook_server(received, max_body=1 << 20) as port:
        head = {**delivery(NEW, msg_id="deep2", body=DEEP), "Content-Length": str(len(DEEP))}
        status = await raw_post(port, head, [DEEP])
    assert status == 400
    assert received == []


BLOB = os.urandom(1 << 20)  # one MiB, streamed again and again


# --- API answers: too big, too deep -------------------------------------------------------


async def test_an_oversized_api_answer_is_refused_in_flat_memory() -> None:
    """64 MB streamed (chunked, no Content-Length) to a GET, the client capped at 1 MB: a
    ResponseFormatError, quickly, without ever holding the answer."""

    async def handler(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "application/json"})
        response.enable_chunked_encoding()
        await response.prepare(request)
        with contextlib.suppress(ConnectionError):
            for _ in range(64):
                await response.write(BLOB)
        return response

    async with serving(one_route(handler)) as base, client_for(base, retry=ONCE) as client:
        client._transport.max_body = 1 << 20
        tracemalloc.start()
        try:
            start = time.monotonic()
            with pytest.raises(kling.ResponseFormatError) as caught:
                await asyncio.wait_for(client.image_to_video.get("123"), 5)
            elapsed = time.monotonic() - start
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
    assert peak < 8 << 20, f"peak {peak / 2**20:.1f} MiB while reading a capped answer"
    assert elapsed < 2
    assert "answer larger than 1048576 bytes" in str(caught.value)


async def test_an_announced_oversized_answer_is_refused_unread() -> None:
    body = b" " * (2 << 20)
    sent: list[int] = []

    async def handler(request: web.Request) -> web.Response:
        sent.append(1)
        return web.Response(body=body, content_type="application/json")

    async with serving(one_route(handler)) as base, client_for(base, retry=ONCE) as client:
        client._transport.max_body = 1 << 20
        with pytest.raises(kling.ResponseFormatError, match=r"larger than .*Content-Length"):
            await asyncio.wait_for(client.image_to_video.get("123"), 5)
    assert sent == [1]  # not retried


async def test_the_default_cap_lets_normal_answers_through() -> None:
    answer = {"code": 0, "data": {"task_id": "123", "task_status": "submitted", "pad": "x" * 50}}

    async def handler(request: web.Request) -> web.Response:
        return web.json_response(answer)

    async with serving(one_route(handler)) as base, client_for(base, retry=ONCE) as client:
        assert client._transport.max_body == 16 * 1024 * 1024
        task = await asyncio.wait_for(client.image_to_video.get("123"), 5)
    assert task.task_id == "123"


@pytest.mark.parametrize("status", [200, 500])
def test_a_deeply_nested_envelope_is_a_response_format_error(status: int) -> None:
    with pytest.raises(kling.ResponseFormatError, match="nested too deeply"):
        _unwrap(b'{"code":0,"data":' + DEEP, status, None, "GET /x")


async def test_a_deeply_nested_answer_from_a_server_is_a_response_format_error() -> None:
    async def handler(request: web.Request) -> web.Response:
        return web.Response(body=b'{"code":0,"data":' + DEEP, content_type="application/json")

    async with serving(one_route(handler)) as base, client_for(base, retry=ONCE) as client:
        with pytest.raises(kling.ResponseFormatError):
            await asyncio.wait_for(client.image_to_video.get("123"), 5)
