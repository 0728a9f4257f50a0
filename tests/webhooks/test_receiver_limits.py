"""The receiver under attack: replays kept out for the whole timestamp window (not for a count
of ids), refusals told apart by type, and bodies that drip in cut off by a deadline."""

from __future__ import annotations

import asyncio
import contextlib
import time

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from kling_async.errors import (
    ConfigurationError,
    WebhookAuthError,
    WebhookError,
    WebhookFormatError,
)
from kling_async.webhooks import TOLERANCE_SECONDS, WebhookVerifier, webhook_handler

from .test_webhooks import BODY, NEW, delivery


class Now:
    """A clock the test moves by hand. It starts ``back`` seconds behind the real time: the
    signature library checks timestamps against the real clock too, so every stamp a test
    signs must stay within the tolerance of the real time."""

    def __init__(self, back: float = 0.0) -> None:
        self.value = self.start = float(int(time.time() - back))

    def __call__(self) -> float:
        return self.value


def test_a_replay_inside_the_window_is_refused_after_many_other_ids() -> None:
    """More deliveries than the old count-based memory held (10,000) arrive between a delivery
    and its replay: the replay is still refused, since its timestamp still passes."""
    now = Now()
    t0 = now.start
    verifier = WebhookVerifier(NEW, clock=now)
    verifier.verify(BODY, delivery(NEW, msg_id="first", ts=t0))
    for i in range(10_050):
        verifier.verify(BODY, delivery(NEW, msg_id=f"other-{i}", ts=t0))
    now.value = t0 + TOLERANCE_SECONDS - 1  # the replay's timestamp still passes
    with pytest.raises(WebhookAuthError, match="replay"):
        verifier.verify(BODY, delivery(NEW, msg_id="first", ts=t0))


def test_ids_are_forgotten_only_once_a_replay_could_no_longer_pass() -> None:
    now = Now(back=250)  # the stamps below span t0 .. t0+501: all within 300 s of real time
    t0 = now.start
    verifier = WebhookVerifier(NEW, clock=now)
    verifier.verify(BODY, delivery(NEW, msg_id="a", ts=t0))
    now.value = t0 + 200
    with pytest.raises(WebhookAuthError, match="replay"):  # a resend, newer timestamp
        verifier.verify(BODY, delivery(NEW, msg_id="a", ts=t0 + 200))
    now.value = t0 + TOLERANCE_SECONDS + 50  # "a" at t0 is stale; "a" at t0+200 still passes
    verifier.verify(BODY, delivery(NEW, msg_id="b", ts=now.value))
    assert verifier.remembered == 2
    with pytest.raises(WebhookAuthError, match="replay"):
        verifier.verify(BODY, delivery(NEW, msg_id="a", ts=t0 + 200))
    now.value = t0 + 200 + TOLERANCE_SECONDS + 1  # now no delivery of "a" can pass
    verifier.verify(BODY, delivery(NEW, msg_id="c", ts=now.value))
    assert verifier.remembered == 2  # "b" and "c": "a" is forgotten
    with pytest.raises(WebhookAuthError, match="away from now"):
        verifier.verify(BODY, delivery(NEW, msg_id="a", ts=t0 + 200))


def test_refusals_are_typed() -> None:
    verifier = WebhookVerifier(NEW)
    with pytest.raises(WebhookAuthError):
        verifier.verify(BODY, {**delivery(NEW), "webhook-signature": "v1,AAAA"})
    junk = b"not json"
    with pytest.raises(WebhookFormatError):
        verifier.verify(junk, delivery(NEW, msg_id="junk", body=junk))
    assert issubclass(WebhookAuthError, WebhookError)
    assert issubclass(WebhookFormatError, WebhookError)


async def test_the_handler_chooses_the_status_by_type_not_by_words() -> None:
    """A replayed delivery whose id reads like a format problem is still a 401."""
    received: list[object] = []
    app = web.Application()
    app.router.add_post("/hook", webhook_handler(received.append, NEW))
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    try:
        async with aiohttp.ClientSession() as session:
            url = str(server.make_url("/hook"))
            head = delivery(NEW, msg_id="body is not JSON, not a task")
            first = await session.post(url, data=BODY, headers=head)
            again = await session.post(url, data=BODY, headers=head)
    finally:
        await server.close()
    assert (first.status, again.status) == (204, 401)
    assert len(received) == 1


async def _drip(port: int, deadline: float) -> tuple[bytes, float]:
    """POST a body announced as 1000 bytes, one byte every 0.1 s (50 at most); return what
    the server sent before closing, and how long that took."""
    reader, writer = await asyncio.wait_for(asyncio.open_connection("127.0.0.1", port), 2)
    head = "\r\n".join(
        [
            "POST /hook HTTP/1.1",
            f"Host: 127.0.0.1:{port}",
            "Content-Type: application/json",
            "Content-Length: 1000",
            *(f"{k}: {v}" for k, v in delivery(NEW).items()),
        ]
    )
    started = time.monotonic()

    async def drip() -> None:
        writer.write(head.encode() + b"\r\n\r\n")
        with contextlib.suppress(ConnectionError):
            for _ in range(50):
                writer.write(b" ")
                await writer.drain()
                await asyncio.sleep(0.1)

    async def until_closed() -> bytes:
        """Everything the server sends, until it closes (a reset, as it closes a socket whose
        incoming bytes it left unread, ends it too: what arrived before is kept)."""
        answer = b""
        with contextlib.suppress(ConnectionResetError):
            while piece := await reader.read(4096):
                answer += piece
        return answer

    dripping = asyncio.create_task(drip())
    try:
        answer = await asyncio.wait_for(until_closed(), deadline)
        return answer, time.monotonic() - started
    finally:
        dripping.cancel()
        await asyncio.gather(dripping, return_exceptions=True)  # its own cancel, not ours
        writer.close()
        with contextlib.suppress(ConnectionError):
            await writer.wait_closed()


async def test_dripping_bodies_are_answered_408_and_dropped_at_the_deadline() -> None:
    received: list[object] = []
    app = web.Application()
    app.router.add_post("/hook", webhook_handler(received.append, NEW, body_timeout=0.5))
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    try:
        assert server.port is not None
        port = server.port
        results = await asyncio.gather(*(_drip(port, deadline=8.0) for _ in range(5)))
        async with aiohttp.ClientSession() as session:  # a whole body in time: delivered
            ok = await session.post(
                str(server.make_url("/hook")), data=BODY, headers=delivery(NEW, msg_id="ok")
            )
    finally:
        await server.close()
    for answer, took in results:
        assert answer.startswith(b"HTTP/1.1 408 "), answer[:40]
        assert 0.4 < took < 5.0  # the deadline (0.5 s), not after aiohttp's 10 s of lingering
    assert ok.status == 204
    assert len(received) == 1


def test_body_timeout_must_be_positive() -> None:
    for bad in (0, -1.0, float("nan")):
        with pytest.raises(ConfigurationError, match="body_timeout"):
            webhook_handler(print, NEW, body_timeout=bad)


def test_remember_is_a_deprecated_no_op_for_one_release() -> None:
    with pytest.warns(DeprecationWarning, match="remember"):
        verifier = WebhookVerifier(allow_unsigned=True, remember=5)
    assert verifier.remembered == 0
