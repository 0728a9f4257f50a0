"""``common_fields``: what every create may carry besides the task, read once for both wires
and handed to ``TaskSpec`` as its fields."""

from __future__ import annotations

from kling_async.emulator._rules_new import options_fields
from kling_async.emulator._shared import TaskSpec, common_fields


def test_legacy_body_fields() -> None:
    body = {
        "external_task_id": "job-1",
        "callback_url": "https://example.com/hook",
        "watermark_info": {"enabled": True},
    }
    assert common_fields(body) == {
        "external_task_id": "job-1",
        "callback_url": "https://example.com/hook",
        "watermark": True,
    }
    assert common_fields({}) == {"external_task_id": None, "callback_url": None, "watermark": False}


def test_new_wire_options_empty_is_absent() -> None:
    body = {
        "options": {
            "external_task_id": "",
            "callback_url": "",
            "watermark_info": {"enabled": False},
        }
    }
    assert options_fields(body, "POST /image-to-video/kling-2.6") == {
        "external_task_id": None,
        "callback_url": None,
        "watermark": False,
    }


def test_fills_the_task_spec() -> None:
    common = common_fields({"external_task_id": "x", "watermark_info": {"enabled": True}})
    spec = TaskSpec("text2video", "kling-v3", "std", "5", "a cat", frozenset(), **common)
    assert (spec.external_task_id, spec.callback_url, spec.watermark) == ("x", None, True)
