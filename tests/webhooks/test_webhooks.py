"""Callback verification: signatures (with rotation), stale and replayed deliveries, parsing.

Deliveries are signed with the emulator's own hand-written signer, so the check runs against an
implementation independent of the standardwebhooks library the receiver uses."""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Callable
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

import kling_async as kling
from kling_async.emulator._callbacks import sign  # private: a second signer to check against
from kling_async.errors import WebhookError
from kling_async.webhooks import WebhookVerifier, webhook_handler

OLD = "whsec_" + base64.b64encode(b"o" * 32).decode()
NEW = "whsec_" + base64.b64encode(b"n" * 32).decode()
BODY = json.dumps(
    {
        "task_id": "42",
        "task_status": "succeed",
        "task_status_msg": "",
        "task_info": {"external_task_id": "e"},
        "created_at": 1,
        "updated_at": 2,
        "task_result": {"videos": [{"id": "v", "url": "https://x/v.mp4", "duration": "5.1"}]},
    }
).encode()


def delivery(
    secret: str | list[str], *, msg_id: str = "msg_1", ts: float | None = None, body: bytes = BODY
) -> dict[str, str]:
    stamp = int(time.time() if ts is None else ts)
    secrets = [secret] if isinstance(secret, str) else secret
    signature = " ".join(sign(s, msg_id, stamp, body) for s in secrets)
    return {"webhook-id": msg_id, "webhook-timestamp": str(stamp), "webhook-signature": signature}


def test_a_signed_delivery_becomes_a_task() -> None:
    task = WebhookVerifier(NEW).verify(BODY, delivery(NEW))
    assert (task.task_id, task.status, task.external_task_id) == (
        "42",
        kling.TaskStatus.SUCCEEDED,
        "e",
    )
    assert task.videos[0].duration == 5.1


def test_rotation_on_either_side() -> None:
    # the sender signs with the old and the new secret; a receiver that knows one verifies
    assert WebhookVerifier(NEW).verify(BODY, delivery([OLD, NEW], msg_id="a")).task_id == "42"
    # the receiver knows both; the sender still signs with the old one
    assert WebhookVerifier([NEW, OLD]).verify(BODY, delivery(OLD, msg_id="b")).task_id == "42"


@pytest.mark.parametrize(
    ("make_headers", "body", "words"),
    [  # headers made when the test runs: a long suite must not age the timestamps
        (lambda: delivery(OLD), BODY, "does not verify"),
        (lambda: delivery(NEW), BODY.replace(b"succeed", b"failed!"), "does not verify"),
        (lambda: delivery(NEW, ts=time.time() - 600), BODY, "away from now"),
        (lambda: delivery(NEW, ts=time.time() + 600), BODY, "away from now"),
        (lambda: {**delivery(NEW), "webhook-timestamp": "soon"}, BODY, "not a Unix time"),
        (lambda: {"webhook-id": "x"}, BODY, "unsigned"),
        (lambda: {**delivery(NEW), "webhook-signature": "garbage"}, BODY, "does not verify"),
    ],
)
def test_untrustworthy_deliveries_are_refused(
    make_headers: Callable[[], dict[str, str]], body: bytes, words: str
) -> None:
    with pytest.raises(WebhookError, match=words):
        WebhookVerifier(NEW).verify(body, make_headers())


def test_replays_are_refused() -> None:
    verifier = WebhookVerifier(NEW)
    verifier.verify(BODY, delivery(NEW, msg_id="once"))
    with pytest.raises(WebhookError, match="replay"):
        verifier.verify(BODY, delivery(NEW, msg_id="once"))


def test_unsigned_only_when_the_caller_says_so() -> None:
    with pytest.raises(WebhookError, match="allow_unsigned"):
        WebhookVerifier()
    assert WebhookVerifier(allow_unsigned=True).verify(BODY, {}).task_id == "42"
    with pytest.raises(WebhookError, match="not a task"):
        WebhookVerifier(allow_unsigned=True).verify(b'{"no": "task"}', {})
    assert "redacted" in repr(WebhookVerifier(NEW))
    assert NEW not in repr(WebhookVerifier(NEW))


async def test_aiohttp_handler_answers_with_status_codes() -> None:
    received: list[kling.Task] = []
    app = web.Application()
    app.router.add_post("/hook", webhook_handler(received.append, NEW, max_body=4096))
    async with TestClient(TestServer(app, host="127.0.0.1")) as client:
        ok = await client.post("/hook", data=BODY, headers=delivery(NEW, msg_id="h1"))
        replay = await client.post("/hook", data=BODY, headers=delivery(NEW, msg_id="h1"))
        forged = await client.post("/hook", data=BODY, headers=delivery(OLD, msg_id="h2"))
        junk = b"not json"
        broken = await client.post(
            "/hook", data=junk, headers=delivery(NEW, msg_id="h3", body=junk)
        )
        huge = await client.post("/hook", data=b"x" * 10_000, headers=delivery(NEW, msg_id="h4"))
    statuses: list[Any] = [r.status for r in (ok, replay, forged, broken, huge)]
    assert statuses == [204, 401, 401, 400, 413]
    assert [t.task_id for t in received] == ["42"]
