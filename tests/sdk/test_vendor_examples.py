"""The SDK builds the vendor's own create examples: for each example of the model-in-path video
API, the equivalent request object gives the same path and body, key for key (the example URLs
passed as URLs). The example's empty ``external_task_id`` is a placeholder: the request carries
an id of its own, which must be what goes out."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

import kling_async as kling
from kling_async import _wire  # the body builder itself is what this test holds to the spec
from kling_async.models import Element, Voice
from kling_async.validation import validate

from .._vendor import create_examples, load


def _content(example: dict[str, Any], kind: str) -> list[dict[str, Any]]:
    return [c for c in example["body"].get("contents", []) if c["type"] == kind]


def _prompt(example: dict[str, Any]) -> str:
    body = example["body"]
    return body["prompt"] if "prompt" in body else _content(example, "prompt")[0]["text"]


def _url(example: dict[str, Any], kind: str) -> str:
    return str(_content(example, kind)[0]["url"])


def _common(example: dict[str, Any]) -> dict[str, Any]:
    options = example["body"]["options"]
    fields: dict[str, Any] = {"callback_url": options["callback_url"]}
    if "watermark_info" in options:
        fields["watermark"] = options["watermark_info"]["enabled"]
    return fields


Build = Callable[[dict[str, Any]], kling.ImageToVideo | kling.TextToVideo]


def _i2v(model: str, mode: str, duration: int, **more: Any) -> Build:
    def build(ex: dict[str, Any]) -> kling.ImageToVideo:
        return kling.ImageToVideo(
            model=model,
            mode=mode,  # type: ignore[arg-type]
            duration=duration,
            prompt=_prompt(ex),
            image=_url(ex, "first_frame"),
            **_common(ex),
            **{k: v(ex) if callable(v) else v for k, v in more.items()},
        )

    return build


def _t2v(model: str, mode: str, duration: int, ratio: str, **more: Any) -> Build:
    def build(ex: dict[str, Any]) -> kling.TextToVideo:
        return kling.TextToVideo(
            model=model,
            mode=mode,  # type: ignore[arg-type]
            duration=duration,
            aspect_ratio=ratio,  # type: ignore[arg-type]
            prompt=_prompt(ex),
            **_common(ex),
            **more,
        )

    return build


#: Example file -> the request a user writes for it.
REQUESTS: dict[str, Build] = {
    "kling-2.5-turbo-i2v__01-create-task.request.json": _i2v("kling-2.5-turbo", "pro", 5),
    "kling-2.6-i2v__01-create-task.request.json": _i2v(
        "kling-2.6", "pro", 5, sound=True, voices=(Voice("891495440020668439", id="1"),)
    ),
    "kling-2.6-t2v__01-create-task.request.json": _t2v("kling-2.6", "pro", 10, "9:16"),
    "kling-3.0-turbo-i2v__01-create-task.request.json": _i2v("kling-3.0-turbo", "pro", 10),
    "kling-3.0-turbo-t2v__01-create-task.request.json": _t2v("kling-3.0-turbo", "std", 3, "9:16"),
    "kling-omni-3.0-i2v__01-create-task.request.json": _i2v(
        "kling-3.0", "4k", 10, sound=False, multi_shot=False
    ),
    "kling-omni-3.0-i2v__03-only-first-frame.request.json": _i2v(
        "kling-3.0", "4k", 10, sound=False, multi_shot=False
    ),
    "kling-omni-3.0-i2v__04-first-last-frame-element.request.json": _i2v(
        "kling-3.0",
        "pro",
        10,
        sound=True,
        multi_shot=False,
        image_tail=lambda ex: _url(ex, "last_frame"),
        elements=lambda ex: tuple(
            Element(c["element_id"], id=c["id"]) for c in _content(ex, "element")
        ),
    ),
    "kling-omni-3.0-t2v__01-create-task.request.json": _t2v(
        "kling-3.0", "4k", 15, "16:9", sound=False, multi_shot=True
    ),
}


def test_every_mapped_example_is_a_create_example_of_the_vendor() -> None:
    assert set(REQUESTS) <= set(create_examples())
    assert len(create_examples()) == 24


@pytest.mark.parametrize("name", sorted(REQUESTS))
async def test_the_sdk_builds_the_vendors_body(name: str) -> None:
    example = load(name)
    request = REQUESTS[name](example)
    request = kling.models.attrs.evolve(request, external_task_id=f"golden-{name[:20]}")
    plan = await validate(request)
    call = await _wire.build(request, plan)
    expected = example["body"]
    expected["options"]["external_task_id"] = request.external_task_id
    assert (call.path, call.body) == (example["path"], expected)
    assert plan.wire == "new"


def test_shots_render_into_the_new_apis_prompt_syntax() -> None:
    request = kling.TextToVideo(
        model="kling-3.0",
        duration=5,
        prompt="A girl on a train.",
        multi_prompt=[("she looks out", 3), ("the train enters a tunnel", 2)],
    )
    assert kling.models.new_prompt(request) == (
        "A girl on a train. shot 1, 3, she looks out; shot 2, 2, the train enters a tunnel;"
    )


def test_legacy_voice_markers_become_the_voices_labels() -> None:
    request = kling.ImageToVideo(
        model="kling-2.6",
        image="https://example.com/a.png",
        prompt="<<<voice_1>>> says hi to <<<voice_2>>>, not <<<voice_3>>>",
        voices=("111", Voice("222", id="bob")),
        sound=True,
        mode="pro",
    )
    assert kling.models.new_prompt(request) == "@1 says hi to @bob, not <<<voice_3>>>"
