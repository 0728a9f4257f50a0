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
"""

from __future__ import annotations

import inspect
import json
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Iterable, Mapping
from typing import Any

from aiohttp import web
from standardwebhooks.webhooks import Webhook

from ._convert import callback_wire, task_from_wire
from .errors import ResponseFormatError, WebhookError
from .results import Task

#: How far a delivery's timestamp may be from now (the Standard Webhooks default).
TOLERANCE_SECONDS = 300


class WebhookVerifier:
    """Checks deliveries against one or more secrets (several during a rotation) and
    remembers the ids it accepted, so a replayed delivery is refused.

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
        remember: int = 10_000,
        clock: Callable[[], float] = time.time,
    ) -> None:
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
        self._seen: OrderedDict[str, float] = OrderedDict()
        self._remember = remember
        self._clock = clock

    def __repr__(self) -> str:
        hidden = f"<{len(self._hooks)} redacted>"
        return f"WebhookVerifier(secrets={hidden}, allow_unsigned={self.allow_unsigned})"

    def verify(self, body: bytes, headers: Mapping[str, str]) -> Task:
        """The task a delivery carries, once it is proven authentic and new."""
        lower = {k.lower(): v for k, v in headers.items()}
        signed = "webhook-signature" in lower
        if not signed:
            if self._hooks or not self.allow_unsigned:  # a secret is never downgraded
                raise WebhookError("unsigned callback refused (no webhook-signature header)")
            return self._parse(body)
        msg_id = lower.get("webhook-id", "")
        self._check_timestamp(lower.get("webhook-timestamp"))
        if not self._hooks:
            raise WebhookError("signed callback, but no secret configured to check it")
        for hook in self._hooks:
            try:
                hook.verify(body, lower, json_parse=False)
                break
            except Exception:  # noqa: S112  # try the next secret; all failing is the error
                continue
        else:
            raise WebhookError("callback signature does not verify")
        if msg_id in self._seen:
            raise WebhookError(f"callback {msg_id!r} was already received (replay refused)")
        self._seen[msg_id] = self._clock()
        while len(self._seen) > self._remember:
            self._seen.popitem(last=False)
        return self._parse(body)

    def _check_timestamp(self, value: str | None) -> None:
        try:
            stamp = int(value or "")
        except ValueError:
            raise WebhookError(f"webhook-timestamp {value!r} is not a Unix time") from None
        skew = abs(self._clock() - stamp)
        if skew > TOLERANCE_SECONDS:
            raise WebhookError(
                f"webhook-timestamp is {skew:.0f} s away from now (more than {TOLERANCE_SECONDS})"
            )

    def _parse(self, body: bytes) -> Task:
        try:
            data: Any = json.loads(body)
        except (ValueError, UnicodeDecodeError):
            raise WebhookError("callback body is not JSON") from None
        except RecursionError:  # "[[[[..." deeper than the decoder's stack
            raise WebhookError("callback body is not JSON (nested too deeply)") from None
        try:  # the legacy shape (task_id, task_status...) or the new one (id, status, outputs)
            return task_from_wire(data, self.kind, callback_wire(data))
        except ResponseFormatError as exc:
            raise WebhookError(f"callback body is not a task: {exc}") from None
        except RecursionError:
            raise WebhookError("callback body is not a task: nested too deeply") from None


TaskSink = Callable[[Task], Awaitable[Any] | Any]


def webhook_handler(
    on_task: TaskSink,
    secret: str | Iterable[str] | None = None,
    *,
    allow_unsigned: bool = False,
    kind: str = "image2video",
    max_body: int = 1 << 20,
) -> Callable[[web.Request], Awaitable[web.Response]]:
    """An aiohttp handler: 204 and ``on_task(task)`` for a verified delivery, 401 for one that
    is not authentic (or stale, or replayed, or unsigned while a secret is set), 400 for a
    malformed one, 413 for one larger than ``max_body`` bytes.

    ``allow_unsigned=True`` matters only without a secret (see ``WebhookVerifier``)."""
    verifier = WebhookVerifier(secret, allow_unsigned=allow_unsigned, kind=kind)
    too_large = f"callback body too large (more than {max_body} bytes)"

    async def handle(request: web.Request) -> web.Response:
        if request.content_length is not None and request.content_length > max_body:
            return web.Response(status=413, text=too_large)
        body = await _read_body(request, max_body)
        if body is None:
            return web.Response(status=413, text=too_large)
        try:
            task = verifier.verify(body, request.headers)
        except WebhookError as exc:
            status = 400 if "not JSON" in str(exc) or "not a task" in str(exc) else 401
            return web.Response(status=status, text=str(exc))
        result = on_task(task)
        if inspect.isawaitable(result):
            await result
        return web.Response(status=204)

    return handle


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
