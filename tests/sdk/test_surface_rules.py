"""The rules of omni video, motion control and image generation as the vendor's pages state
them (``shared/vendor-examples/INDEX.md``, "limits"), and the forward-compatible extras:
each refusal names its field; each valid request goes out as the page shows."""

from __future__ import annotations

from typing import Any

import pytest

import kling_async as kling
from kling_async import _wire  # the body builder is what these tests read
from kling_async.models import Element, Shot
from kling_async.validation import check_fields, validate

from .._helpers import png

URL = "https://example.com/a.png"
MP4 = "https://example.com/v.mp4"
FEATURE = kling.ReferenceVideo(MP4, "feature")
BASE = kling.ReferenceVideo(MP4, "base")
VIDEO_EL = Element(7, kind="video")


def omni(**fields: Any) -> kling.OmniVideo:
    fields.setdefault("prompt", "a parrot")
    return kling.OmniVideo(**fields)


def motion(**fields: Any) -> kling.MotionControl:
    base: dict[str, Any] = {"image": URL, "video_url": MP4, "character_orientation": "video"}
    return kling.MotionControl(**{**base, **fields})


def image(**fields: Any) -> kling.ImageGeneration:
    fields.setdefault("prompt", "a puppy")
    return kling.ImageGeneration(**fields)


async def body_of(request: Any, **options: Any) -> dict[str, Any]:
    request = kling.models.attrs.evolve(request, external_task_id="rules-1")
    call = await _wire.build(request, await validate(request, **options))
    return call.body


REFUSED: list[tuple[str, Any, str]] = [
    # omni: the models' own limits
    ("o1 prompt > 2500", omni(model="kling-o1", prompt="x" * 2501), "prompt"),
    ("3.0 omni prompt > 3072", omni(prompt="x" * 3073), "prompt"),
    ("3.0 omni 16 s", omni(duration=16), "duration"),
    ("o1 11 s", omni(model="kling-o1", duration=11, images=[URL]), "duration"),
    ("o1 3 s with no reference", omni(model="kling-o1", duration=3, first_frame=URL), "duration"),
    ("o1 native audio", omni(model="kling-o1", audio="native"), "audio"),
    ("o1 4k", omni(model="kling-o1", mode="4k"), "mode"),
    ("o1 multi-shot", omni(model="kling-o1", multi_shot=True), "multi_shot"),
    ("omni 21:9", omni(aspect_ratio="21:9"), "aspect_ratio"),
    ("last frame alone", omni(last_frame=URL), "last_frame"),
    ("original sound, no video", omni(audio="original"), "audio"),
    ("no prompt", kling.OmniVideo(), "prompt"),
    ("unknown omni model", omni(model="kling-9-omni"), "model"),
    # omni: the reference video
    ("base video + first frame", omni(video=BASE, first_frame=URL), "first_frame"),
    ("base video + multi-shot", omni(video=BASE, multi_shot=True), "multi_shot"),
    ("base video + native audio", omni(video=BASE, audio="native"), "audio"),
    ("3.0 feature video, single shot", omni(video=FEATURE, multi_shot=False), "multi_shot"),
    ("3.0 feature video with sound", omni(video=FEATURE, audio="original"), "audio"),
    (
        "o1 feature video + last frame",
        omni(model="kling-o1", video=FEATURE, first_frame=URL, last_frame=URL),
        "last_frame",
    ),
    ("video not by URL", omni(video=kling.ReferenceVideo("v.mp4")), "video.url"),
    ("video role", omni(video=kling.ReferenceVideo(MP4, "edit")), "video.role"),  # type: ignore[arg-type]
    # omni: how many references
    ("4 elements with a frame", omni(first_frame=URL, elements=[1, 2, 3, 4]), "images + elements"),
    ("8 references", omni(images=[URL] * 4, elements=[1, 2, 3, 4]), "images + elements"),
    ("5 refs with a video", omni(video=FEATURE, images=[URL] * 3, elements=[1, 2]), "images"),
    ("4 video elements", omni(elements=[VIDEO_EL] * 2 + [Element(8, kind="video")] * 2), "images"),
    (
        "both element kinds with a video",
        omni(video=FEATURE, elements=[1, VIDEO_EL]),
        "images + elements",
    ),
    (
        "2 video elements with a video",
        omni(video=FEATURE, elements=[VIDEO_EL, Element(8, kind="video")]),
        "images",
    ),
    ("o1 video element", omni(model="kling-o1", elements=[VIDEO_EL]), "images + elements"),
    (
        "o1 first+last frames + reference",
        omni(model="kling-o1", first_frame=URL, last_frame=URL, images=[URL]),
        "images + elements",
    ),
    ("labels alike", omni(images=[URL, kling.ReferenceImage(URL, id="image_1")]), "labels.id"),
    ("shots off the duration", omni(duration=5, multi_prompt=[Shot("a", 2)]), "multi_prompt"),
    # motion control
    ("no orientation", motion(character_orientation=None), "character_orientation"),
    ("no image", motion(image=None), "image"),
    ("no video", motion(video_url=None), "video_url"),
    ("motion 4k", motion(model="kling-3.0", mode="4k"), "mode"),
    ("2.6 element", motion(elements=[1]), "elements"),
    ("3.0 two elements", motion(model="kling-3.0", elements=[1, 2]), "elements"),
    (
        "element + image orientation",
        motion(model="kling-3.0", elements=[1], character_orientation="image"),
        "character_orientation",
    ),
    ("motion prompt > 2500", motion(prompt="x" * 2501), "prompt"),
    # image generation
    ("n 10", image(n=10), "n"),
    ("n 0", image(n=0), "n"),
    ("fidelity on kling-v3", image(image=URL, image_fidelity=0.5), "image_fidelity"),
    ("fidelity 2", image(model="kling-v2-1", image=URL, human_fidelity=2), "human_fidelity"),
    ("reference without image", image(image_reference="face"), "image"),
    ("negative prompt with image", image(image=URL, negative_prompt="blur"), "negative_prompt"),
    ("resolution 4k", image(resolution="4k"), "resolution"),
    ("ratio 5:4", image(aspect_ratio="5:4"), "aspect_ratio"),
    ("11 inputs", image(image=URL, elements=list(range(1, 11))), "elements + image"),
    ("no prompt", kling.ImageGeneration(), "prompt"),
    ("kling-v3-omni is not on this endpoint", image(model="kling-v3-omni"), "model"),
    # forward compatibility
    (
        "settings on the legacy API",
        kling.ImageToVideo(image=URL, extra_settings={"a": 1}),
        "extra_settings",
    ),
    ("extras that are not JSON", omni(extra_settings={"a": object()}), "extra_settings"),
    ("contents without a type", omni(extra_contents=[{"url": URL}]), "extra_contents[0]"),
]


@pytest.mark.parametrize(("case", "request_", "field"), REFUSED, ids=[c[0] for c in REFUSED])
def test_each_documented_rule_refuses_naming_its_field(
    case: str, request_: Any, field: str
) -> None:
    with pytest.raises(kling.ValidationError) as caught:
        check_fields(request_)
    assert caught.value.field.startswith(field), (case, str(caught.value))


ACCEPTED: list[tuple[str, Any]] = [
    ("o1 3 s with a reference image", omni(model="kling-o1", duration=3, images=[URL])),
    ("o1 10 s from a first frame", omni(model="kling-o1", duration=10, first_frame=URL)),
    ("7 references", omni(images=[URL] * 4, elements=[1, 2, 3])),
    (
        "3 video elements + 4 refs",
        omni(elements=[*(Element(i, kind="video") for i in (1, 2, 3)), 4], images=[URL] * 3),
    ),
    ("one video element with a video", omni(video=FEATURE, elements=[VIDEO_EL])),
    ("shots adding up", omni(duration=6, multi_prompt=[Shot("a", 2), Shot("b", 4)])),
    ("motion 3.0 with an element", motion(model="kling-3.0", elements=[1])),
    (
        "image to image, empty negative prompt",
        image(image=URL, negative_prompt="", callback_url=""),
    ),
    (
        "kling-v2-1 fidelities",
        image(model="kling-v2-1", image=URL, image_fidelity=0.2, human_fidelity=1),
    ),
]


@pytest.mark.parametrize(("case", "request_"), ACCEPTED, ids=[c[0] for c in ACCEPTED])
def test_what_the_pages_allow_is_accepted(case: str, request_: Any) -> None:
    check_fields(request_)


async def test_omni_labels_count_frames_then_reference_images() -> None:
    body = await body_of(
        omni(
            prompt="@image_1 meets @hero in @video_1",
            first_frame=URL,
            images=[kling.ReferenceImage(URL, id="hero"), URL],
            elements=[Element(5)],
            video=FEATURE,
        )
    )
    assert [(c["type"], c.get("id")) for c in body["contents"]] == [
        ("prompt", None),
        ("first_frame", "image_1"),
        ("refer_image", "hero"),
        ("refer_image", "image_3"),
        ("element", "element_1"),
        ("feature_video", "video_1"),
    ]


async def test_omni_shots_render_into_the_prompt_and_o1_sends_no_multi_shot_setting() -> None:
    body = await body_of(omni(duration=4, multi_prompt=[Shot("a", 1), Shot("b", 3)]))
    assert body["contents"][0]["text"] == "a parrot shot 1, 1, a; shot 2, 3, b;"
    assert body["settings"] == {"resolution": "720p", "duration": 4, "multi_shot": True}
    o1 = await body_of(omni(model="kling-o1", multi_shot=False))
    assert "multi_shot" not in o1["settings"]


async def test_a_base_video_says_single_shot_since_the_default_is_multi_shot() -> None:
    body = await body_of(omni(video=BASE))
    assert body["settings"]["multi_shot"] is False


async def test_motion_control_sends_its_sound_choice_as_audio() -> None:
    body = await body_of(
        motion(model="kling-3.0", keep_original_sound=False, elements=[Element(3)])
    )
    assert body["settings"] == {
        "character_orientation": "video",
        "resolution": "720p",
        "audio": "off",
    }
    assert body["contents"][-1] == {"type": "element", "element_id": "3", "id": "element_1"}
    assert "audio" not in (await body_of(motion()))["settings"]


async def test_image_generation_sends_only_what_is_given_and_counts_n_slots() -> None:
    request = image(n=9, aspect_ratio="21:9", resolution="2k", elements=[4])
    assert request.slots == 9
    assert omni().slots == motion().slots == 1
    body = await body_of(request)
    assert body == {
        "model_name": "kling-v3",
        "prompt": "a puppy",
        "n": 9,
        "aspect_ratio": "21:9",
        "resolution": "2k",
        "element_list": [{"element_id": 4}],
        "external_task_id": "rules-1",
    }


async def test_a_local_image_is_read_and_encoded_for_each_endpoint(tmp_path: Any) -> None:
    path = tmp_path / "frame.png"
    path.write_bytes(png(640, 360))
    for request in (omni(first_frame=path), motion(image=path), image(image=path)):
        body = await body_of(request)
        text = str(body)
        assert URL not in text  # the bytes went, base64
        assert "frame.png" not in text
    tiny = tmp_path / "tiny.png"
    tiny.write_bytes(png(100, 100))
    for request in (omni(first_frame=tiny), motion(image=tiny), image(image=tiny)):
        with pytest.raises(kling.ValidationError, match="at least 300 px"):
            await validate(request)


# -- forward compatibility ------------------------------------------------------------------


async def test_an_unknown_model_goes_out_unchanged_when_allowed() -> None:
    """kling-4.0 (not in the map): 21:9, 20 s and a 5,000-character prompt are not 3.0's
    limits to hold it to: the body carries them as given."""
    prompt = "p" * 5000
    request = kling.TextToVideo(
        model="kling-4.0",
        aspect_ratio="21:9",
        duration=20,
        prompt=prompt,  # type: ignore[arg-type]
    )
    with pytest.raises(kling.ValidationError):
        check_fields(request)
    body = await body_of(request, allow_unknown_models=True)
    assert body["prompt"] == prompt
    assert body["settings"] == {"resolution": "720p", "duration": 20, "aspect_ratio": "21:9"}
    later = omni(model="kling-4.0-omni", prompt=prompt, duration=20, aspect_ratio="21:9")
    body = await body_of(later, allow_unknown_models=True)
    assert body["settings"]["duration"] == 20
    assert body["contents"][0]["text"] == prompt
    with pytest.raises(kling.ValidationError, match="whole number"):  # shared by every model
        check_fields(
            kling.TextToVideo(model="kling-4.0", prompt="x", duration=0), allow_unknown_models=True
        )


async def test_extras_go_out_as_given_merged_last() -> None:
    extras: dict[str, Any] = {
        "extra_contents": [{"type": "sketch", "url": URL}],
        "extra_settings": {"resolution": "8k", "fps": 60},
        "extra_options": {"priority": "high"},
    }
    for request in (
        kling.ImageToVideo(model="kling-3.0", image=URL, **extras),
        kling.TextToVideo(model="kling-3.0", prompt="x", **extras),
        omni(**extras),
        motion(**extras),
    ):
        body = await body_of(request)
        assert body["contents"][-1] == {"type": "sketch", "url": URL}
        assert body["settings"]["resolution"] == "8k"  # the extra wins: merged last
        assert body["settings"]["fps"] == 60
        assert body["options"]["priority"] == "high"
        assert body["options"]["external_task_id"] == "rules-1"
    legacy = await body_of(kling.ImageToVideo(image=URL, extra_body={"mode": "turbo", "x": [1]}))
    assert (legacy["mode"], legacy["x"]) == ("turbo", [1])
    images = await body_of(image(extra_body={"n": 4, "style": "anime"}))
    assert (images["n"], images["style"]) == (4, "anime")


async def test_one_extra_content_may_be_given_alone() -> None:
    body = await body_of(omni(extra_contents={"type": "sketch", "url": URL}))
    assert body["contents"][-1] == {"type": "sketch", "url": URL}
