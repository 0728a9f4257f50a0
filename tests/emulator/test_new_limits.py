"""Each limit of the vendor pages this emulator learned, refused in the vendor's words: code 1201
(HTTP 400) for a bad value, 1203 (404) for an unknown model, with a message naming the field,
the value and the rule."""

from __future__ import annotations

from typing import Any

import pytest

from .._helpers import Api
from ._client import IMG, VID, body, call, items
from ._vendor import vendor_error_table

ELEMENTS4 = [("element", str(160 + i)) for i in range(4)]
IMAGE_BODY = {"model_name": "kling-v3", "prompt": "a puppy"}

# (id, path, body, HTTP status, code, words the message must contain)
CASES: list[tuple[str, str, dict[str, Any], int, int, tuple[str, ...]]] = [
    (
        "3.0-four-elements",
        "/image-to-video/kling-3.0",
        body(items(("first_frame", IMG), *ELEMENTS4)),
        400,
        1201,
        ("contents[element]", "4 elements", "at most 3"),
    ),
    (
        "2.6-no-elements",
        "/image-to-video/kling-2.6",
        body(items(("first_frame", IMG), ("element", "161"))),
        400,
        1201,
        ("contents[element]", "kling-2.6", "does not offer elements"),
    ),
    (
        "element-without-id",
        "/image-to-video/kling-3.0",
        body([*items(("first_frame", IMG)), {"type": "element", "element_id": "161"}]),
        400,
        1201,
        ("contents[2].id", "required"),
    ),
    (
        "3.0-prompt-3073",
        "/text-to-video/kling-3.0",
        {"prompt": "x" * 3073},
        400,
        1201,
        ("prompt", "3073", "3072"),
    ),
    (
        "2.6-prompt-2501",
        "/text-to-video/kling-2.6",
        {"prompt": "x" * 2501},
        400,
        1201,
        ("prompt", "2501", "2500"),
    ),
    (
        "turbo-i2v-prompt-2501",
        "/image-to-video/kling-3.0-turbo",
        body(items(("first_frame", IMG), prompt="x" * 2501)),
        400,
        1201,
        ("contents[0].text", "2501", "2500"),
    ),
    (
        "o1-prompt-2501",
        "/omni-video/kling-o1",
        body(items(prompt="x" * 2501)),
        400,
        1201,
        ("contents[0].text", "2501", "2500"),
    ),
    (
        "motion-prompt-2501",
        "/motion-control/kling-2.6",
        body(
            items(("image", IMG), ("video", VID), prompt="x" * 2501), character_orientation="video"
        ),
        400,
        1201,
        ("contents[0].text", "2501", "2500"),
    ),
    (
        "multi-shot-not-a-bool",
        "/text-to-video/kling-3.0",
        {"prompt": "sea", "settings": {"multi_shot": "yes"}},
        400,
        1201,
        ("settings.multi_shot", "'yes'", "true or false"),
    ),
    (
        "multi-shot-on-2.6",
        "/text-to-video/kling-2.6",
        {"prompt": "sea", "settings": {"multi_shot": True}},
        400,
        1201,
        ("settings.multi_shot", "not a field"),
    ),
    (
        "shots-sum",
        "/text-to-video/kling-3.0",
        {"prompt": "shot 1, 2, a door; shot 2, 2, a hall;", "settings": {"duration": 5}},
        400,
        1201,
        ("prompt", "sum to 4 s", "5 s"),
    ),
    (
        "seven-shots",
        "/text-to-video/kling-3.0-turbo",
        {
            "prompt": "".join(f"shot {i}, 1, s{i};" for i in range(1, 8)),
            "settings": {"duration": 7},
        },
        400,
        1201,
        ("prompt", "7 shots", "1 to 6"),
    ),
    (
        "shot-words-513",
        "/text-to-video/kling-3.0",
        {"prompt": f"shot 1, 5, {'w' * 513};", "settings": {"duration": 5}},
        400,
        1201,
        ("prompt", "513 characters", "512"),
    ),
    (
        "o1-native-audio",
        "/omni-video/kling-o1",
        body(items(), audio="native"),
        400,
        1201,
        ("settings.audio", "'native'", "'original', 'off'"),
    ),
    (
        "omni-bad-audio",
        "/omni-video/kling-3.0-omni",
        body(items(), audio="loud"),
        400,
        1201,
        ("settings.audio", "'loud'", "'native', 'original', 'off'"),
    ),
    (
        "omni-original-without-video",
        "/omni-video/kling-3.0-omni",
        body(items(), audio="original"),
        400,
        1201,
        ("settings.audio", "'original'", "feature_video or base_video"),
    ),
    (
        "omni-feature-audio",
        "/omni-video/kling-3.0-omni",
        body(items(("feature_video", VID)), audio="native"),
        400,
        1201,
        ("settings.audio", "'native'", "only 'off'"),
    ),
    (
        "omni-base-with-frame",
        "/omni-video/kling-3.0-omni",
        body(items(("base_video", VID), ("first_frame", IMG))),
        400,
        1201,
        ("contents[base_video]", "first_frame"),
    ),
    (
        "omni-base-multi-shot",
        "/omni-video/kling-3.0-omni",
        body(items(("base_video", VID)), multi_shot=True),
        400,
        1201,
        ("settings.multi_shot", "base_video"),
    ),
    (
        "omni-two-videos",
        "/omni-video/kling-3.0-omni",
        body(items(("feature_video", VID), ("base_video", VID))),
        400,
        1201,
        ("contents[video]", "2 reference videos", "at most 1"),
    ),
    (
        "omni-last-frame-alone",
        "/omni-video/kling-3.0-omni",
        body(items(("last_frame", IMG))),
        400,
        1201,
        ("contents[last_frame]", "first_frame"),
    ),
    (
        "omni-four-elements-with-first-frame",
        "/omni-video/kling-3.0-omni",
        body(items(("first_frame", IMG), *ELEMENTS4)),
        400,
        1201,
        ("contents[element]", "4 elements", "at most 3"),
    ),
    (
        "omni-eight-references",
        "/omni-video/kling-3.0-omni",
        body(items(*[("refer_image", IMG)] * 4, *ELEMENTS4)),
        400,
        1201,
        ("refer_image/element", "= 8", "at most 7"),
    ),
    (
        "omni-five-references-with-video",
        "/omni-video/kling-3.0-omni",
        body(
            items(
                ("feature_video", VID),
                *[("refer_image", IMG)] * 3,
                ("element", "1"),
                ("element", "2"),
            )
        ),
        400,
        1201,
        ("refer_image/element", "= 5", "at most 4 with a reference video"),
    ),
    (
        "omni-duration-16",
        "/omni-video/kling-3.0-omni",
        body(items(), duration=16),
        400,
        1201,
        ("settings.duration", "16", "3-15"),
    ),
    (
        "o1-duration-11",
        "/omni-video/kling-o1",
        body(items(), duration=11),
        400,
        1201,
        ("settings.duration", "11", "3-10"),
    ),
    (
        "o1-first-frame-only-3s",
        "/omni-video/kling-o1",
        body(items(("first_frame", IMG)), duration=3),
        400,
        1201,
        ("settings.duration", "3 s", "5, 10", "only a first frame"),
    ),
    (
        "o1-4k",
        "/omni-video/kling-o1",
        body(items(), resolution="4k"),
        400,
        1201,
        ("settings.resolution", "'4k'", "'720p', '1080p'"),
    ),
    (
        "o1-frames-and-refs",
        "/omni-video/kling-o1",
        body(items(("first_frame", IMG), ("last_frame", IMG), ("refer_image", IMG))),
        400,
        1201,
        ("kling-o1", "first and last frames", "1 images"),
    ),
    (
        "omni-no-prompt",
        "/omni-video/kling-3.0-omni",
        body(items(("first_frame", IMG), prompt=None)),
        400,
        1201,
        ("contents[prompt]", "required"),
    ),
    (
        "omni-unknown-model",
        "/omni-video/kling-9",
        body(items()),
        404,
        1203,
        ("kling-9", "kling-3.0-omni", "kling-o1"),
    ),
    (
        "motion-no-orientation",
        "/motion-control/kling-3.0",
        body(items(("image", IMG), ("video", VID))),
        400,
        1201,
        ("settings.character_orientation", "required"),
    ),
    (
        "motion-bad-orientation",
        "/motion-control/kling-3.0",
        body(items(("image", IMG), ("video", VID)), character_orientation="side"),
        400,
        1201,
        ("settings.character_orientation", "'side'", "'image', 'video'"),
    ),
    (
        "motion-no-video",
        "/motion-control/kling-3.0",
        body(items(("image", IMG)), character_orientation="image"),
        400,
        1201,
        ("contents[video]", "0 video items", "exactly one"),
    ),
    (
        "motion-2.6-element",
        "/motion-control/kling-2.6",
        body(
            items(("image", IMG), ("video", VID), ("element", "5")), character_orientation="video"
        ),
        400,
        1201,
        ("contents[3].type", "'element'"),
    ),
    (
        "motion-3.0-two-elements",
        "/motion-control/kling-3.0",
        body(
            items(("image", IMG), ("video", VID), ("element", "5"), ("element", "6")),
            character_orientation="video",
        ),
        400,
        1201,
        ("contents[element]", "2 elements", "at most 1"),
    ),
    (
        "motion-native-audio",
        "/motion-control/kling-2.6",
        body(items(("image", IMG), ("video", VID)), character_orientation="video", audio="native"),
        400,
        1201,
        ("settings.audio", "'native'", "'original', 'off'"),
    ),
    (
        "motion-video-not-a-url",
        "/motion-control/kling-2.6",
        body(items(("image", IMG), ("video", "dance.mp4")), character_orientation="video"),
        400,
        1201,
        ("contents[2].url (video)", "'dance.mp4'", "http(s) URL"),
    ),
    (
        "image-n-10",
        "/v1/images/generations",
        {**IMAGE_BODY, "n": 10},
        400,
        1201,
        ("n", "10", "1 to 9"),
    ),
    (
        "image-n-0",
        "/v1/images/generations",
        {**IMAGE_BODY, "n": 0},
        400,
        1201,
        ("n", "0", "1 to 9"),
    ),
    (
        "image-ratio",
        "/v1/images/generations",
        {**IMAGE_BODY, "aspect_ratio": "5:4"},
        400,
        1201,
        ("aspect_ratio", "'5:4'", "'21:9'"),
    ),
    (
        "image-negative-with-image",
        "/v1/images/generations",
        {**IMAGE_BODY, "image": IMG, "negative_prompt": "blur"},
        400,
        1201,
        ("negative_prompt", "image-to-image"),
    ),
    (
        "image-fidelity-on-v3",
        "/v1/images/generations",
        {**IMAGE_BODY, "image": IMG, "image_fidelity": 0.5},
        400,
        1201,
        ("image_fidelity", "kling-v2-1", "kling-v3"),
    ),
    (
        "image-fidelity-range",
        "/v1/images/generations",
        {**IMAGE_BODY, "model_name": "kling-v2-1", "image": IMG, "image_fidelity": 1.5},
        400,
        1201,
        ("image_fidelity", "1.5", "0 to 1"),
    ),
    (
        "image-reference-without-image",
        "/v1/images/generations",
        {**IMAGE_BODY, "image_reference": "face"},
        400,
        1201,
        ("image", "required", "'face'"),
    ),
    (
        "image-eleven-references",
        "/v1/images/generations",
        {**IMAGE_BODY, "image": IMG, "element_list": [{"element_id": i} for i in range(10)]},
        400,
        1201,
        ("element_list", "= 11", "at most 10"),
    ),
    (
        "image-resolution",
        "/v1/images/generations",
        {**IMAGE_BODY, "resolution": "4k"},
        400,
        1201,
        ("resolution", "'4k'", "'1k', '2k'"),
    ),
    (
        "image-unknown-field",
        "/v1/images/generations",
        {**IMAGE_BODY, "duration": "5"},
        400,
        1201,
        ("duration", "not a field"),
    ),
    (
        "image-unknown-model",
        "/v1/images/generations",
        {**IMAGE_BODY, "model_name": "kling-v9"},
        404,
        1203,
        ("model_name", "kling-v9", "kling-v2-1"),
    ),
]


@pytest.mark.parametrize(
    ("path", "payload", "status", "code", "words"),
    [case[1:] for case in CASES],
    ids=[case[0] for case in CASES],
)
async def test_limits_are_refused_naming_field_value_and_rule(
    emu_api: tuple[Any, Api],
    path: str,
    payload: dict[str, Any],
    status: int,
    code: int,
    words: tuple[str, ...],
) -> None:
    emu, api = emu_api
    got, answer = await call(api, "POST", path, payload)
    assert (got, answer["code"]) == (status, code), answer
    assert (got, code) in vendor_error_table()  # the vendor's code, with its HTTP status
    for word in words:
        assert word in answer["message"], (word, answer["message"])
    assert emu.stats()["creates"] == 0
