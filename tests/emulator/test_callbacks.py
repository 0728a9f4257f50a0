"""Callbacks: the bare task object on every status change, signed per Standard Webhooks."""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import AsyncIterator
from typing import Any

import pytest
from standardwebhooks.webhooks import Webhook

from .._helpers import API_KEY, StartEmulator
from ._receiver import Receiver, serving_receiver

SECRET = "whsec_" + base64.b64encode(b"0123456789abcdef0123456789abcdef").decode()


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    async with serving_receiver() as rec:
        yield rec


async def test_signed_callback_on_every_status_change(
    start_emulator: StartEmulator, receiver: Receiver
) -> None:
    emu, api = await start_emulator(webhook_secret=SECRET, duration=(0.3, 0.3))
    _, created = await api.create(callback_url=receiver.url, external_task_id="cb-1")
    await receiver.wait_for(3)
    await asyncio.sleep(0.05)
    assert len(receiver.deliveries) == 3
    verifier = Webhook(SECRET)
    statuses = []
    for headers, raw in receiver.deliveries:
        lower = {k.lower(): v for k, v in headers.items()}
        assert lower["webhook-signature"].startswith("v1,")
        payload: Any = verifier.verify(raw, lower)  # raises if the signature is wrong
        assert "code" not in payload
        assert "data" not in payload
        assert payload["task_id"] == created["data"]["task_id"]
        assert payload["task_info"]["external_task_id"] == "cb-1"
        statuses.append(payload["task_status"])
    assert statuses == ["submitted", "processing", "succeed"]
    final = json.loads(receiver.deliveries[-1][1])
    assert final["task_result"]["videos"][0]["url"].startswith(emu.url)
    assert final["final_unit_deduction"] == "1.5"  # kling-v2-6 std 5 s
    assert emu.stats()["callbacks_sent"] == 3


async def test_new_wire_tasks_are_called_back_in_the_new_shape(
    start_emulator: StartEmulator, receiver: Receiver
) -> None:
    emu, api = await start_emulator(webhook_secret=SECRET, duration=(0.3, 0.3))
    body = {
        "prompt": "a lighthouse at dusk",
        "settings": {"resolution": "1080p", "duration": 10, "audio": "native"},
        "options": {"callback_url": receiver.url, "external_task_id": "cb-new"},
    }
    status, created, _ = await api.call(
        "POST", "/text-to-video/kling-2.6", json=body, auth=f"Bearer {API_KEY}"
    )
    assert status == 200, created
    await receiver.wait_for(3)
    await asyncio.sleep(0.05)  # the emulator counts a delivery once the answer is back
    verifier = Webhook(SECRET)
    payloads = []
    for headers, raw in receiver.deliveries:
        payloads.append(verifier.verify(raw, {k.lower(): v for k, v in headers.items()}))
    assert [p["status"] for p in payloads] == ["submitted", "processing", "succeeded"]
    for payload in payloads:
        assert set(payload) == {
            "id",
            "status",
            "message",
            "create_time",
            "update_time",
            "external_id",
            "outputs",
            "billing",
        }
        assert (payload["id"], payload["external_id"]) == (created["data"]["id"], "cb-new")
    assert payloads[0]["outputs"] == payloads[0]["billing"] == []
    final = payloads[-1]
    assert final["outputs"][0]["type"] == "video"
    assert final["outputs"][0]["url"].startswith(emu.url)
    assert final["outputs"][0]["duration"] == "10.1"
    # kling-2.6 1080p with native audio, 10 s: 1.0 unit per second
    assert final["billing"] == [{"charge_type": "unit", "amount": "10", "package_type": "video"}]
    assert emu.stats()["callbacks_sent"] == 3


async def test_tampered_body_fails_verification(
    start_emulator: StartEmulator, receiver: Receiver
) -> None:
    _emu, api = await start_emulator(webhook_secret=SECRET, duration=(0.05, 0.05))
    await api.create(callback_url=receiver.url)
    await receiver.wait_for(1)
    headers, raw = receiver.deliveries[0]
    lower = {k.lower(): v for k, v in headers.items()}
    # whatever status the first delivery carries (under load it may already be a later one)
    tampered = raw.replace(b'"task_status":"', b'"task_status":"x', 1)
    assert tampered != raw
    Webhook(SECRET).verify(raw, lower)  # the untouched body verifies
    with pytest.raises(Exception, match=r"(?i)signature"):
        Webhook(SECRET).verify(tampered, lower)


async def test_unsigned_without_secret_and_failures_retried(
    start_emulator: StartEmulator, receiver: Receiver
) -> None:
    emu, api = await start_emulator(
        duration=(5.0, 5.0), callback_attempts=2, callback_retry_delay=0.05
    )
    receiver.fail = True
    await api.create(callback_url=receiver.url)
    await receiver.wait_for(2)
    await asyncio.sleep(0.1)
    assert len(receiver.deliveries) == 2  # the submitted callback, tried twice
    assert all("webhook-signature" not in {k.lower() for k in h} for h, _ in receiver.deliveries)
    stats = emu.stats()
    assert (stats["callbacks_sent"], stats["callbacks_failed"]) == (0, 1)


async def test_callbacks_never_leave_loopback_by_default(start_emulator: StartEmulator) -> None:
    emu, api = await start_emulator()
    status, _ = await api.create(callback_url="https://hooks.example.com/kling")
    assert status == 200
    await asyncio.sleep(0.05)
    assert emu.stats()["callbacks_failed"] == 1
    assert emu.stats()["callbacks_sent"] == 0
