"""The SDK builds the vendor's own create examples: for each of the 24 (image and text to video,
omni video, motion control, image generation), the equivalent request object gives the same
path and body, key for key (the example URLs passed as URLs, labels left to their defaults).

The example's empty ``external_task_id`` is the one placeholder: the request carries an id of
its own, which must be what goes out. Every other value is reproduced as the example sends it
(the image example's ``negative_prompt: ""`` and ``callback_url: ""`` are values the request
carries). ``contents`` must come out in the example's order too, except where the vendor's own
examples disagree on an order (``ORDER_FREE``): there the same items in another order pass."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

import kling_async as kling
from kling_async import _wire  # the body builder itself is what this test holds to the spec
from kling_async.models import Element, Voice
from kling_async.validation import validate
from kling_async.video_requests import ReferenceVideo

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


AnyRequest = (
    kling.ImageToVideo | kling.TextToVideo | kling.OmniVideo | kling.MotionControl
    | kling.ImageGeneration
)  # fmt: skip
Build = Callable[[dict[str, Any]], AnyRequest]


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


def _omni(model: str, mode: str, **more: Any) -> Build:
    """An omni request: the example's prompt, frames, reference images, elements and video
    (by URL and kind; labels left to the SDK), plus the settings given here."""

    def build(ex: dict[str, Any]) -> kling.OmniVideo:
        def urls(kind: str) -> list[str]:
            return [str(c["url"]) for c in _content(ex, kind)]

        videos = [ReferenceVideo(u, "feature") for u in urls("feature_video")] + [
            ReferenceVideo(u, "base") for u in urls("base_video")
        ]
        return kling.OmniVideo(
            model=model,
            mode=mode,  # type: ignore[arg-type]
            prompt=_prompt(ex),
            first_frame=(urls("first_frame") or [None])[0],
            last_frame=(urls("last_frame") or [None])[0],
            images=urls("refer_image"),
            elements=[Element(c["element_id"]) for c in _content(ex, "element")],
            video=videos[0] if videos else None,
            **_common(ex),
            **more,
        )

    return build


def _motion(model: str, **more: Any) -> Build:
    def build(ex: dict[str, Any]) -> kling.MotionControl:
        return kling.MotionControl(
            model=model,
            mode="pro",
            prompt=_prompt(ex),
            image=_url(ex, "image"),
            video_url=_url(ex, "video"),
            character_orientation="video",
            keep_original_sound=True,
            **_common(ex),
            **more,
        )

    return build


def _image_generation(ex: dict[str, Any]) -> kling.ImageGeneration:
    body = ex["body"]
    return kling.ImageGeneration(
        model="kling-v2-1",
        prompt="Generate a Pixar-style puppy",
        negative_prompt="",
        image=body["image"],
        n=2,
        callback_url="",
    )


OMNI_PROMPT_ONLY = _omni("kling-3.0-omni", "pro", duration=5, audio="native", multi_shot=False)
MOTION_30 = _motion("kling-3.0")

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
    # omni video: kling-3.0-omni
    "kling-omni-3.0-ovg__01-create-task.request.json": OMNI_PROMPT_ONLY,
    "kling-omni-3.0-ovg__03-only-prompt.request.json": OMNI_PROMPT_ONLY,
    "kling-omni-3.0-ovg__04-first-frame-refer-image.request.json": OMNI_PROMPT_ONLY,
    "kling-omni-3.0-ovg__05-first-last-frame-element.request.json": _omni(
        "kling-3.0-omni", "pro", duration=5, audio="native", multi_shot=True
    ),
    "kling-omni-3.0-ovg__06-feature-video.request.json": _omni(
        "kling-3.0-omni", "4k", audio="off", multi_shot=True
    ),
    "kling-omni-3.0-ovg__07-base-video.request.json": _omni(
        "kling-3.0-omni", "pro", audio="original", multi_shot=False
    ),
    # omni video: kling-o1
    "kling-o1-video__01-create-task.request.json": _omni(
        "kling-o1", "pro", duration=3, audio="off"
    ),
    "kling-o1-video__03-first-frame-refer-image.request.json": _omni(
        "kling-o1", "pro", duration=3, audio="off"
    ),
    "kling-o1-video__04-first-frame-multi-image-elements-feature-video.request.json": _omni(
        "kling-o1", "pro", aspect_ratio="16:9", audio="off"
    ),
    "kling-o1-video__05-base-video-refer-image.request.json": _omni(
        "kling-o1", "pro", aspect_ratio="16:9", audio="off"
    ),
    # motion control
    "kling-motion-control-2.6__01-create-task.request.json": _motion("kling-2.6"),
    "kling-motion-control-3.0__01-create-task.request.json": MOTION_30,
    "kling-omni-3.0-motion-control__01-create-task.request.json": MOTION_30,
    # image generation (/v1/images/generations: the legacy-style body)
    "kling-image-2.1-generation__01-create-task.request.json": _image_generation,
    "kling-image-omni-3.0-generation__01-create-task.request.json": _image_generation,
}
#: Examples whose ``contents`` order the SDK does not follow: the vendor lists an element
#: before the first frame here but after the frames in kling-omni-3.0-ovg__05; the SDK sends
#: one order (prompt, frames, reference images, elements, video) and Kling reads the items
#: by type and label, not position.
ORDER_FREE = {"kling-o1-video__04-first-frame-multi-image-elements-feature-video.request.json"}


def _sorted_contents(body: dict[str, Any]) -> dict[str, Any]:
    if "contents" not in body:
        return body
    return {**body, "contents": sorted(body["contents"], key=lambda c: sorted(c.items()))}


def test_every_create_example_of_the_vendor_is_mapped() -> None:
    """All 24, and nothing else: a new example without its request fails here."""
    assert sorted(REQUESTS) == create_examples()
    assert len(create_examples()) == 24


@pytest.mark.parametrize("name", sorted(REQUESTS))
async def test_the_sdk_builds_the_vendors_body(name: str) -> None:
    example = load(name)
    request = REQUESTS[name](example)
    request = kling.models.attrs.evolve(request, external_task_id=f"golden-{name[:20]}")
    plan = await validate(request)
    call = await _wire.build(request, plan)
    expected = example["body"]
    holder = expected.get("options", expected)
    assert holder["external_task_id"] == ""  # the placeholder, and the only one filled in
    holder["external_task_id"] = request.external_task_id
    assert call.path == example["path"]
    if name in ORDER_FREE:
        assert call.body != expected  # the order differs: else this exemption is stale
        assert _sorted_contents(call.body) == _sorted_contents(expected)
    else:
        assert call.body == expected
    assert plan.wire == ("legacy" if call.path.startswith("/v1/") else "new")


def test_shots_render_into_the_new_apis_prompt_syntax() -> None:
    request = kling.TextToVideo(
        model="kling-3.0",
        duration=5,
        multi_prompt=[("she looks out", 3), ("the train enters a tunnel", 2)],
    )
    assert kling.models.new_prompt(request) == (
        "shot 1, 3, she looks out; shot 2, 2, the train enters a tunnel;"
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
