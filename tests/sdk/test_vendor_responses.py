"""Golden test, the other way: every response and callback example of the vendor
(``*.response.json``) parses into the SDK's types through ``_convert`` — with the right kind,
status, outputs (videos, images) and billing (units; cash as ``Task.cost``).

Type placeholders. The pages document many values by their type word (``"string"``, ``"int"``,
``"boolean"``) instead of a value. The test replaces a type word — only a type word, never a
real value — by a value of the documented type, chosen per field name (``PLACEHOLDERS``):
``status`` by the page's "succeeded" (``succeed`` on the legacy shape), ``duration`` by "5",
a billing ``amount`` by "1.5" in ``currency`` "USD" (list price "2"), ``index`` by 0... Ids and
URLs documented as ``"string"`` stay ``"string"`` (a usable id, an opaque URL). A billing item's
``charge_type`` (documented ``cash`` or ``unit``) is read both ways: each example runs once
as a resource-pack charge and once as a cash charge. The one example that is not a task (the
concurrency page's 1303 answer) is read by ``errors.error_for``, as the transport reads it.
"""

from __future__ import annotations

import copy
import glob
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from kling_async import _convert  # the response reader is what this test holds to the spec
from kling_async.errors import ConcurrencyLimitError, ResponseFormatError, error_for
from kling_async.results import Cost, Image, Task, Video
from kling_async.states import TaskStatus

from .._vendor import examples_dir, load

RESPONSES = sorted(Path(p).name for p in glob.glob(str(examples_dir() / "*.response.json")))
#: field name -> the value a type word stands for (status and charge_type: see below).
PLACEHOLDERS: dict[str, Any] = {
    "duration": "5",
    "amount": "1.5",
    "currency": "USD",
    "list_price": "2",
    "final_unit_deduction": "3",
    "quota": "0.8",
    "index": 0,
    "enabled": True,
    "cash_type": "balance",
    "package_type": "video",
}
TYPE_WORDS = {"string", "int", "boolean"}
#: The new API's create paths -> the kind of task they make (``Task.kind``).
KINDS = {
    "image-to-video": "image2video",
    "text-to-video": "text2video",
    "omni-video": "omni_video",
    "motion-control": "motion_control",
}


def _concrete(value: Any, status: str, charge: str, key: str = "") -> Any:
    if isinstance(value, dict):
        return {k: _concrete(v, status, charge, k) for k, v in value.items()}
    if isinstance(value, list):
        return [_concrete(v, status, charge, key) for v in value]
    if value not in TYPE_WORDS:
        return value
    if key in ("status", "task_status"):
        return status
    if key == "charge_type":
        return charge
    return PLACEHOLDERS.get(key, value)


def _tasks(example: dict[str, Any], charge: str) -> tuple[list[Task], str]:
    """The tasks an example holds, read as the SDK reads that answer; and the wire."""
    path, body = example["path"], example["body"]
    legacy = path.startswith("/v1/") or "task_id" in body
    status = "succeed" if legacy else "succeeded"
    body = _concrete(copy.deepcopy(body), status, charge)
    wire = "legacy" if legacy else "new"
    if path == "{callback_url}":  # a callback: the body itself, as webhooks reads it
        return [_convert.task_from_wire(body, "video", _convert.callback_wire(body))], wire
    data = body["data"]
    kind = "images" if path.startswith("/v1/images/") else KINDS.get(path.split("/")[1], "video")
    if isinstance(data, list):
        return _convert.tasks_from_wire(data, kind, wire), wire
    if "result" in data:  # the cursor list
        return _convert.tasks_from_wire(data["result"], kind, wire), wire
    return [_convert.task_from_wire(data, kind, wire)], wire


def test_every_response_example_is_covered() -> None:
    assert len(RESPONSES) == 47
    assert sum(1 for n in RESPONSES if "callbacks" in n) == 4


@pytest.mark.parametrize("charge", ["unit", "cash"])
@pytest.mark.parametrize("name", RESPONSES)
def test_every_response_and_callback_example_parses(name: str, charge: str) -> None:
    example = load(name)
    if "code" in example["body"] and "data" not in example["body"]:  # an error answer
        body = example["body"]
        error = error_for(body["code"], body["message"], http_status=429, body=body)
        assert isinstance(error, ConcurrencyLimitError)
        assert error.request_id is None or isinstance(error.request_id, str)
        return
    tasks, wire = _tasks(example, charge)
    assert len(tasks) == 1
    task = tasks[0]
    raw = example["body"].get("data", example["body"])
    raw = raw[0] if isinstance(raw, list) else raw.get("result", [raw])[0]
    assert task.wire == wire
    assert task.task_id == str(raw.get("id", raw.get("task_id")))
    documented = raw.get("status", raw.get("task_status"))
    expected = TaskStatus.SUCCEEDED if documented in TYPE_WORDS else TaskStatus.parse(documented)
    assert task.status is expected
    assert expected is not TaskStatus.UNKNOWN
    path = example["path"]
    if path.startswith("/v1/images/"):
        assert task.kind == "images"
    elif path != "{callback_url}":
        assert task.kind == KINDS.get(path.split("/")[1], "video")
    _outputs_and_billing(task, raw, charge)


def _outputs_and_billing(task: Task, raw: dict[str, Any], charge: str) -> None:
    outputs = raw.get("outputs")
    result = raw.get("task_result")
    if outputs:  # the new shape: one output of each type
        assert task.videos == (Video("string", "string", "string", 5.0),)
        assert task.images == (Image(0, "string", "string"),)
    elif result:  # the legacy shape: task_result.images / videos
        images = result.get("images", [])
        assert task.images == tuple(
            Image(0, "string", "string" if "watermark_url" in i else None) for i in images
        )
        videos = result.get("videos", [])
        assert task.videos == tuple(Video("string", "string", None, 5.0) for _ in videos)
    else:  # a create answer, a test callback: nothing made yet
        assert (task.videos, task.images) == ((), ())
    if raw.get("billing"):
        if charge == "unit":
            assert (task.units, task.cost) == (1.5, None)
        else:
            assert task.units is None
            assert task.cost == Cost(Decimal("1.5"), "USD", Decimal("2"))
    elif "final_unit_deduction" in raw:  # the legacy task: units and the balance deduction
        assert task.units == 3.0
        assert task.cost == Cost(Decimal("0.8"), None, Decimal("2"))
    else:
        assert (task.units, task.cost) == (None, None)


def test_cash_billing_adds_up_and_keeps_its_currency() -> None:
    body = {
        "id": "1",
        "status": "succeeded",
        "billing": [
            {"charge_type": "cash", "amount": "0.10", "currency": "CNY", "list_price": "0.2"},
            {"charge_type": "cash", "amount": "0.20", "currency": "CNY"},
            {"charge_type": "unit", "amount": "4"},
        ],
    }
    task = _convert.task_from_wire(body, "video", "new")
    assert task.cost == Cost(Decimal("0.30"), "CNY", Decimal("0.2"))
    assert task.units == 4.0


def test_cash_in_two_currencies_is_an_unexpected_shape() -> None:
    body = {
        "id": "1",
        "status": "succeeded",
        "billing": [
            {"charge_type": "cash", "amount": "1", "currency": "CNY"},
            {"charge_type": "cash", "amount": "1", "currency": "USD"},
        ],
    }
    with pytest.raises(ResponseFormatError, match="several currencies"):
        _convert.task_from_wire(body, "video", "new")


@pytest.mark.parametrize("amount", ["lots", "NaN", True, None])
def test_an_amount_that_is_not_money_is_refused(amount: object) -> None:
    body = {"id": "1", "status": "failed", "billing": [{"charge_type": "cash", "amount": amount}]}
    with pytest.raises(ResponseFormatError):
        _convert.task_from_wire(body, "video", "new")


def test_image_outputs_are_numbered_in_order_on_the_new_api() -> None:
    body = {
        "id": "1",
        "status": "succeeded",
        "outputs": [
            {"type": "image", "url": "https://x/a.png"},
            {"type": "audio", "id": "9", "mp3_url": "https://x/a.mp3"},
            {"type": "image", "url": "https://x/b.png"},
        ],
    }
    task = _convert.task_from_wire(body, "images", "new")
    assert task.images == (Image(0, "https://x/a.png"), Image(1, "https://x/b.png"))
    assert task.videos == ()
