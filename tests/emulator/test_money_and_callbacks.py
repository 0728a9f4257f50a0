"""Money: the unlimited pack falls as it charges; billing in cash (charge_type "cash",
currency, list price; legacy objects and callbacks with final_balance_deduction; a balance that
falls, refunds failures and refuses with 1101 when short); prices of the new kinds. Callbacks go
only to the hosts and ports the config allows."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest

from .._helpers import Api, StartEmulator, test_account
from ._client import IMG, VID, body, call, items, wait_image, wait_new
from ._receiver import Receiver
from ._shapes import same_shape
from ._vendor import load

UNLIMITED = 1_000_000.0


async def _remaining(api: Api) -> float:
    now = int(time.time() * 1000)
    _, answer, _ = await api.call(
        "GET", "/account/costs", params={"start_time": now - 86_400_000, "end_time": now}
    )
    pack = answer["data"]["resource_pack_subscribe_infos"][0]
    assert pack["total_quantity"] == UNLIMITED
    return float(pack["remaining_quantity"])


async def test_an_unlimited_pack_shows_what_was_charged(start_emulator: StartEmulator) -> None:
    _emu, api = await start_emulator(duration=(0.05, 0.05))
    assert await _remaining(api) == UNLIMITED
    # kling-2.6 1080p with native audio, 10 s: 10 units; kling-v2-6 std 5 s: 1.5
    payload = {
        "prompt": "x",
        "settings": {"audio": "native", "resolution": "1080p", "duration": 10},
    }
    status, answer = await call(api, "POST", "/text-to-video/kling-2.6", payload)
    assert status == 200, answer
    assert (await api.create())[0] == 200
    assert await _remaining(api) == UNLIMITED - 11.5


# (path, body, units): the vendor's price tables
PRICES: list[tuple[str, dict[str, Any], str]] = [
    ("/omni-video/kling-3.0-omni", body(items(), duration=10, resolution="1080p"), "8"),
    ("/omni-video/kling-3.0-omni", body(items(), duration=5, audio="native"), "4"),
    ("/omni-video/kling-3.0-omni", body(items(("feature_video", VID)), duration=10), "9"),
    ("/omni-video/kling-o1", body(items(("base_video", VID)), resolution="1080p"), "6"),
    ("/omni-video/kling-3.0-omni", body(items(), duration=4, resolution="4k"), "12"),
    (
        "/motion-control/kling-3.0",
        body(items(("image", IMG), ("video", VID)), character_orientation="video"),
        "4.5",
    ),
    (
        "/motion-control/kling-2.6",
        body(
            items(("image", IMG), ("video", VID)), character_orientation="image", resolution="1080p"
        ),
        "4",
    ),
]


@pytest.mark.parametrize(("path", "payload", "units"), PRICES)
async def test_new_kinds_are_priced_from_the_vendor_tables(
    start_emulator: StartEmulator, path: str, payload: dict[str, Any], units: str
) -> None:
    emu, api = await start_emulator(test_account(units=100.0), duration=(0.05, 0.05))
    status, answer = await call(api, "POST", path, payload)
    assert status == 200, answer
    task = await wait_new(api, answer["data"]["id"])
    assert task["billing"] == [{"charge_type": "unit", "amount": units, "package_type": "video"}]
    assert emu.stats()["units_left"] == {"test-access-key": 100.0 - float(units)}


async def test_cash_billing(start_emulator: StartEmulator) -> None:
    account = test_account(units=10.0, balance=2.0)
    emu, api = await start_emulator(
        account, billing="cash", currency="USD", cash_discount=0.25, duration=(0.05, 0.05)
    )
    # kling-2.6 1080p native 10 s = 10 units = $1.40 list, $1.05 after 25% off
    payload = {
        "prompt": "x",
        "settings": {"audio": "native", "resolution": "1080p", "duration": 10},
    }
    status, answer = await call(api, "POST", "/text-to-video/kling-2.6", payload)
    assert status == 200, answer
    task = await wait_new(api, answer["data"]["id"])
    assert task["billing"] == [
        {
            "charge_type": "cash",
            "cash_type": "balance",
            "amount": "1.05",
            "currency": "USD",
            "list_price": "1.4",
        }
    ]
    stats = emu.stats()
    assert stats["balance_left"] == {"test-access-key": pytest.approx(0.95)}
    assert stats["units_left"] == {"test-access-key": 10.0}  # the pack is not touched
    assert stats["cash_charged"] == pytest.approx(1.05)
    # the next 10-unit task needs $1.05 and $0.95 is left: account in arrears
    status, refused = await call(api, "POST", "/text-to-video/kling-2.6", payload)
    assert (status, refused["code"]) == (429, 1101), refused
    assert "1.05" in refused["message"]
    assert "0.95" in refused["message"]
    # a legacy task: final_balance_deduction; an image task at the image pack's price
    status, legacy = await api.create(model_name="kling-v2-6")  # std 5 s: 1.5 units
    assert status == 200, legacy
    done = await api.wait(legacy["data"]["task_id"])
    assert done["final_unit_deduction"] == "0"
    assert done["final_balance_deduction"] == {"quota": "0.1575", "list_price": "0.21"}
    status, image = await call(api, "POST", "/v1/images/generations", {"prompt": "a puppy", "n": 2})
    assert status == 200, image
    done = await wait_image(api, image["data"]["task_id"])
    # kling-v3: 8 units an image at $0.0035 a unit
    assert done["final_balance_deduction"] == {"quota": "0.042", "list_price": "0.056"}


async def test_failed_cash_tasks_are_refunded(start_emulator: StartEmulator) -> None:
    emu, api = await start_emulator(
        test_account(balance=5.0), billing="cash", failure_rate=1.0, duration=(0.05, 0.05)
    )
    status, answer = await call(api, "POST", "/text-to-video/kling-2.6", {"prompt": "x"})
    assert status == 200
    assert emu.stats()["balance_left"]["test-access-key"] == pytest.approx(5.0 - 0.21)
    task = await wait_new(api, answer["data"]["id"])
    assert task["status"] == "failed"
    assert task["billing"][0]["amount"] == "0"
    assert emu.stats()["balance_left"]["test-access-key"] == pytest.approx(5.0)


async def _until(condition: Any, limit: float = 5.0) -> None:
    for _ in range(int(limit / 0.02)):  # bounded
        if condition():
            return
        await asyncio.sleep(0.02)
    raise AssertionError("condition not met in time")


async def test_legacy_callbacks_carry_the_cash_deduction(
    start_emulator: StartEmulator, receiver: Receiver
) -> None:
    emu, api = await start_emulator(billing="cash", duration=(0.1, 0.1))
    status, _ = await api.create(model_name="kling-v2-6", callback_url=receiver.url)
    assert status == 200
    await _until(lambda: emu.stats()["callbacks_sent"] == 3)
    final = receiver.bodies[-1]
    assert final["task_status"] == "succeed"
    assert final["final_balance_deduction"] == {"quota": "0.21", "list_price": "0.21"}


async def test_new_wire_callbacks_have_the_keys_of_the_vendor_example(
    start_emulator: StartEmulator, receiver: Receiver
) -> None:
    example = load("kling-get-started-callbacks__01-new-callback-body.response.json")
    for billing in ("unit", "cash"):
        receiver.deliveries.clear()
        emu, api = await start_emulator(billing=billing, duration=(0.1, 0.1))
        payload = body(items(("feature_video", VID)), multi_shot=True)
        payload["options"] = {"callback_url": receiver.url, "external_task_id": "cb"}
        status, answer = await call(api, "POST", "/omni-video/kling-3.0-omni", payload)
        assert status == 200, answer
        await _until(lambda e=emu: e.stats()["callbacks_sent"] == 3)
        statuses = [b["status"] for b in receiver.bodies]
        assert statuses == ["submitted", "processing", "succeeded"]
        for delivered in receiver.bodies:
            assert same_shape(delivered, example["body"], example["field_notes"]) == []


async def test_callbacks_go_only_to_allowed_hosts_and_ports(
    start_emulator: StartEmulator, receiver: Receiver
) -> None:
    port = receiver.url.split(":")[2].split("/")[0]
    other = str(int(port) + 1 if int(port) < 65535 else int(port) - 1)
    for hosts, delivered in (
        ((f"127.0.0.1:{port}",), True),
        ((f"localhost:{port}", "127.0.0.1"), True),
        ((f"127.0.0.1:{other}",), False),
        (("example.com",), False),
        ((), False),
    ):
        receiver.deliveries.clear()
        emu, api = await start_emulator(callback_hosts=hosts, duration=(0.05, 0.05))
        status, _ = await api.create(callback_url=receiver.url)
        assert status == 200  # accepted either way, as the service would
        await _until(lambda e=emu: e.stats()["callbacks_sent"] + e.stats()["callbacks_refused"])
        stats = emu.stats()
        assert (stats["callbacks_refused"] == 0) == delivered, hosts
        if delivered:
            await _until(lambda: len(receiver.deliveries) == 3)
        else:
            assert (stats["callbacks_failed"], receiver.deliveries) == (1, [])
    # the vendor examples' callback host is accepted at create and never called
    emu, api = await start_emulator(duration=(0.05, 0.05))
    status, _ = await call(
        api,
        "POST",
        "/text-to-video/kling-2.6",
        {"prompt": "x", "options": {"callback_url": "https://xxx/callback"}},
    )
    assert status == 200
    await _until(lambda: emu.stats()["callbacks_refused"] == 1)
