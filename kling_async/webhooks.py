"""Receiving Kling's callbacks: verify (Standard Webhooks), refuse stale or replayed deliveries,
parse the bare task body.

For any framework::

    verifier = WebhookVerifier(secret="whsec_...")
    task = verifier.verify(raw_body, headers)      # -> kling_async.Task, or WebhookError

For aiohttp, a ready handler that feeds the batch engine::

    app.router.add_post("/kling", webhook_handler(engine.notify, secret="whsec_..."))

Unsigned callbacks are refused. ``allow_unsigned=True`` accepts them only when no secret is
given at all (Kling signs only when a webhook secret is configured on the account): once any
secret is set, ``allow_unsigned`` never downgrades, and an unsigned delivery is refused (401).

A refused delivery raises ``WebhookAuthError`` (not authentic or not new: 401) or
``WebhookFormatError`` (authentic but not a task: 400), both ``WebhookError``s.
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import inspect
import json
import time
import warnings
from collections.abc import Awaitable, Callable, Iterable, Mapping
from typing import Any

from aiohttp import web
from standardwebhooks.webhooks import Webhook

from ._convert import callback_wire, task_from_wire
from .errors import (
    ConfigurationError,
    ResponseFormatError,
    WebhookAuthError,
    WebhookError,
    WebhookFormatError,
)
from .results import Task

#: How far a delivery's timestamp may be from now (the Standard Webhooks default).
TOLERANCE_SECONDS = 300
#: How long ``webhook_handler`` waits for a whole body by default, in seconds. Kling's
#: deliveries are a few kilobytes: a body still arriving after this is a stalled or hostile
#: sender, answered 408 and its connection closed.
BODY_TIMEOUT_SECONDS = 5.0


class WebhookVerifier:
    """Checks deliveries against one or more secrets (several during a rotation) and
    remembers the ids it accepted, so a replayed delivery is refused.

    An id is remembered for as long as a replay of its delivery could pass the timestamp
    check (until its signed ``webhook-timestamp`` is more than ``TOLERANCE_SECONDS`` old),
    however many other deliveries arrive meanwhile; then it is forgotten. Memory stays
    bounded: only deliveries whose signature verifies are remembered, each for at most twice
    the tolerance.

    ``allow_unsigned=True`` accepts unsigned deliveries only when no secret is given. With a
    secret, every delivery must carry a valid signature, whatever ``allow_unsigned`` says:
    a forger could otherwise just leave the signature out.
    """

    def __init__(
        self,
        secret: str | Iterable[str] | None = None,
        *,
        allow_unsigned: bool = False,
        kind: str = "image2video",
        clock: Callable[[], float] = time.time,
        remember: int | None = None,
    ) -> None:
        if remember is not None:
            warnings.warn(
                "WebhookVerifier(remember=...) is deprecated and has no effect: accepted ids "
                "are remembered for the replay window; it goes in the next release",
                DeprecationWarning,
                stacklevel=2,
            )
        secrets = [secret] if isinstance(secret, str) else list(secret or [])
        if not secrets and not allow_unsigned:
            raise WebhookError(
                "secret: none given; pass the account's webhook secret (whsec_...), or "
                "allow_unsigned=True to accept unsigned callbacks"
            )
        try:
            self._hooks = [Webhook(s) for s in secrets]
        except Exception as exc:  # the library raises several types for a bad secret
            raise WebhookError(
                f"secret: not a usable webhook secret ({type(exc).__name__})"
            ) from None
        self.allow_unsigned = allow_unsigned
        self.kind = kind
        #: id -> the time until which a replay of it could pass the timestamp check.
        self._seen: dict[str, float] = {}
        #: (that time, id), earliest first: what to forget next (stale pairs are skipped).
        self._expiry: list[tuple[float, str]] = []
        self._clock = clock

    def __repr__(self) -> str:
        hidden = f"<{len(self._hooks)} redacted>"
        return f"WebhookVerifier(secrets={hidden}, allow_unsigned={self.allow_unsigned})"

    @property
    def remembered(self) -> int:
        """How many delivery ids are held against replay (diagnostics and tests)."""
        return len(self._seen)

    def verify(self, body: bytes, headers: Mapping[str, str]) -> Task:
        """The task a delivery carries, once it is proven authentic and new."""
        lower = {k.lower(): v for k, v in headers.items()}
        signed = "webhook-signature" in lower
        if not signed:
            if self._hooks or not self.allow_unsigned:  # a secret is never downgraded
                raise WebhookAuthError("unsigned callback refused (no webhook-signature header)")
            return self._parse(body)
        msg_id = lower.get("webhook-id", "")
        stamp = self._check_timestamp(lower.get("webhook-timestamp"))
        if not self._hooks:
            raise WebhookAuthError("signed callback, but no secret configured to check it")
        for hook in self._hooks:
            try:
                hook.verify(body, lower, json_parse=False)
                break
            except Exception:  # noqa: S112  # try the next secret; all failing is the error
                continue
        else:
            raise WebhookAuthError("callback signature does not verify")
        self._remember(msg_id, stamp + TOLERANCE_SECONDS)
        return self._parse(body)

    def _remember(self, msg_id: str, until: float) -> None:
        """Hold ``msg_id`` until ``until`` (when a replay of it turns stale); refuse it if it is
        held already (the later of the two times is kept: a resend under a newer timestamp
        stays refused as long as it could pass)."""
        now = self._clock()
        while self._expiry and self._expiry[0][0] < now:
            when, old = heapq.heappop(self._expiry)
            if self._seen.get(old) == when:
                del self._seen[old]
        held = self._seen.get(msg_id)
        if held is None or until > held:
            self._seen[msg_id] = until
            heapq.heappush(self._expiry, (until, msg_id))
        if held is not None:
            raise WebhookAuthError(f"callback {msg_id!r} was already received (replay refused)")

    def _check_timestamp(self, value: str | None) -> int:
        try:
            stamp = int(value or "")
        except ValueError:
            raise WebhookAuthError(f"webhook-timestamp {value!r} is not a Unix time") from None
        skew = abs(self._clock() - stamp)
        if skew > TOLERANCE_SECONDS:
            raise WebhookAuthError(
                f"webhook-timestamp is {skew:.0f} s away from now (more than {TOLERANCE_SECONDS})"
            )
        return stamp

    def _parse(self, body: bytes) -> Task:
        try:
            data: Any = json.loads(body)
        except (ValueError, UnicodeDecodeError):
            raise WebhookFormatError("callback body is not JSON") from None
        except RecursionError:  # "[[[[..." deeper than the decoder's stack
            raise WebhookFormatError("callback body is not JSON (nested too deeply)") from None
        try:  # the legacy shape (task_id, task_status...) or the new one (id, status, outputs)
            return task_from_wire(data, self.kind, callback_wire(data))
        except ResponseFormatError as exc:
            raise WebhookFormatError(f"callback body is not a task: {exc}") from None
        except RecursionError:
            raise WebhookFormatError("callback body is not a task: nested too deeply") from None


TaskSink = Callable[[Task], Awaitable[Any] | Any]


def webhook_handler(
    on_task: TaskSink,
    secret: str | Iterable[str] | None = None,
    *,
    allow_unsigned: bool = False,
    kind: str = "image2video",
    max_body: int = 1 << 20,
    body_timeout: float = BODY_TIMEOUT_SECONDS,
) -> Callable[[web.Request], Awaitable[web.Response]]:
    """An aiohttp handler: 204 and ``on_task(task)`` for a verified delivery, 401 for one that
    is not authentic (or stale, or replayed, or unsigned while a secret is set), 400 for a
    malformed one, 413 for one larger than ``max_body`` bytes, 408 for one whose body is not
    all there within ``body_timeout`` seconds of its headers (its connection is then closed,
    so a sender dripping a byte at a time holds nothing for long).

    ``allow_unsigned=True`` matters only without a secret (see ``WebhookVerifier``)."""
    if not body_timeout > 0:
        raise ConfigurationError(f"body_timeout: {body_timeout!r} must be a positive number")
    verifier = WebhookVerifier(secret, allow_unsigned=allow_unsigned, kind=kind)
    too_large = f"callback body too large (more than {max_body} bytes)"
    too_slow = f"callback body not received within {body_timeout:g} s"

    async def handle(request: web.Request) -> web.Response:
        if request.content_length is not None and request.content_length > max_body:
            return web.Response(status=413, text=too_large)
        try:
            async with asyncio.timeout(body_timeout):
                body = await _read_body(request, max_body)
        except TimeoutError:
            return await _answer_and_close(request, 408, too_slow)
        if body is None:
            return web.Response(status=413, text=too_large)
        try:
            task = verifier.verify(body, request.headers)
        except WebhookFormatError as exc:
            return web.Response(status=400, text=str(exc))
        except WebhookError as exc:  # WebhookAuthError: not authentic, or not new
            return web.Response(status=401, text=str(exc))
        result = on_task(task)
        if inspect.isawaitable(result):
            await result
        return web.Response(status=204)

    return handle


async def _answer_and_close(request: web.Request, status: int, text: str) -> web.Response:
    """Send the answer now and close the connection behind it: aiohttp would otherwise keep
    reading (and discarding) the rest of the body for up to its lingering time."""
    response = web.Response(status=status, text=text)
    response.force_close()  # "Connection: close"
    with contextlib.suppress(ConnectionError):  # the sender left first: nothing to tell it
        await response.prepare(request)
        await response.write_eof()
    request.protocol.force_close()  # the answer is flushed, then the socket closed
    return response


async def _read_body(request: web.Request, max_body: int) -> bytes | None:
    """The whole body, read until EOF however many segments it arrives in; None once it
    passes ``max_body`` bytes (nothing more is read then)."""
    pieces: list[bytes] = []
    size = 0
    while piece := await request.content.read(max_body + 1 - size):
        pieces.append(piece)
        size += len(piece)
        if size > max_body:
            return None
    return b"".join(pieces)
