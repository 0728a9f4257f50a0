"""Kling 3.0, 3.0 Turbo and 2.6 on the model-in-path API: elements, multi-shot, voices with
their labels, prompt limits per model and endpoint, 50 MB frames."""

from __future__ import annotations

import io
import random
import struct
import zlib

import pytest
from PIL import Image

import kling_async as kling
from kling_async import _wire  # the body builder is what these tests read
from kling_async.models import Element, Voice
from kling_async.validation import validate

URL = "https://example.com/frame.png"


async def _body(request: kling.ImageToVideo | kling.TextToVideo) -> dict[str, object]:
    request = kling.models.attrs.evolve(request, external_task_id="parity-1")
    call = await _wire.build(request, await validate(request))
    return call.body


async def test_elements_go_as_contents_with_labels_the_prompt_can_name() -> None:
    body = await _body(
        kling.ImageToVideo(
            model="kling-3.0",
            image=URL,
            prompt="@hero waves at @element_2",
            elements=(Element(161, id="hero"), "162"),
        )
    )
    contents = body["contents"]
    assert isinstance(contents, list)
    assert [c for c in contents if c["type"] == "element"] == [
        {"type": "element", "element_id": "161", "id": "hero"},
        {"type": "element", "element_id": "162", "id": "element_2"},
    ]


async def test_three_shots_render_into_the_prompt_and_set_multi_shot() -> None:
    body = await _body(
        kling.ImageToVideo(
            model="kling-3.0",
            image=URL,
            duration=9,
            multi_prompt=[("a", 3), ("b", 3), ("c", 3)],
            elements=(Element(1), Element(2)),
        )
    )
    assert body["contents"][0] == {  # type: ignore[index]
        "type": "prompt",
        "text": "shot 1, 3, a; shot 2, 3, b; shot 3, 3, c;",
    }
    assert body["settings"]["multi_shot"] is True  # type: ignore[index]


async def test_a_prompt_beside_the_shots_is_refused_on_the_new_api_only() -> None:
    shots = [("a", 2), ("b", 3)]
    with pytest.raises(kling.ValidationError, match="the shots alone") as caught:
        await validate(kling.TextToVideo(model="kling-3.0", prompt="p", multi_prompt=shots))
    assert caught.value.field == "prompt"
    await validate(kling.TextToVideo(model="kling-v3", prompt="p", multi_prompt=shots))


async def test_six_long_shots_can_outgrow_the_prompt_limit() -> None:
    shots = [("x" * 512, 2)] * 6
    with pytest.raises(kling.ValidationError, match="at most 3072 characters"):
        await validate(kling.TextToVideo(model="kling-3.0", duration=12, multi_prompt=shots))


async def test_multi_shot_alone_lets_kling_cut_the_shots_on_the_new_api_only() -> None:
    body = await _body(kling.TextToVideo(model="kling-3.0", prompt="p", multi_shot=True))
    assert body["settings"]["multi_shot"] is True  # type: ignore[index]
    with pytest.raises(kling.ValidationError, match="multi_shot"):
        await validate(kling.TextToVideo(model="kling-v3", prompt="p", multi_shot=True))


async def test_turbo_takes_shots_in_its_prompt_without_a_setting() -> None:
    body = await _body(
        kling.TextToVideo(model="kling-3.0-turbo", duration=4, multi_prompt=[("a", 2), ("b", 2)])
    )
    assert body["prompt"] == "shot 1, 2, a; shot 2, 2, b;"
    assert "multi_shot" not in body["settings"]  # type: ignore[operator]


@pytest.mark.parametrize(
    ("elements", "rule"),
    [
        ((1, 2, 3, 4), "at most 3 elements"),
        ((Element(1, id="x"), Element(2, id="x")), "labels must differ"),
        ((Element(1, id="two words"),), "label of letters"),
        (("abc",), "element id"),
    ],
)
async def test_bad_elements_are_named(elements: tuple[object, ...], rule: str) -> None:
    with pytest.raises(kling.ValidationError, match=rule) as caught:
        await validate(kling.ImageToVideo(model="kling-3.0", image=URL, elements=elements))
    assert "elements" in str(caught.value)


async def test_voices_carry_their_labels_and_need_sound() -> None:
    body = await _body(
        kling.ImageToVideo(
            model="kling-2.6",
            mode="pro",
            image=URL,
            prompt="@narrator speaks",
            voices=(Voice("9", id="narrator"),),
            sound=True,
        )
    )
    assert body["contents"][-1] == {"type": "voice", "voice_id": "9", "id": "narrator"}  # type: ignore[index]
    with pytest.raises(kling.ValidationError, match="need sound=True"):
        await validate(kling.ImageToVideo(model="kling-2.6", mode="pro", image=URL, voices=("9",)))


@pytest.mark.parametrize(
    ("request_type", "model", "limit"),
    [
        (kling.ImageToVideo, "kling-3.0", 3072),
        (kling.TextToVideo, "kling-3.0", 3072),
        (kling.TextToVideo, "kling-3.0-turbo", 3072),
        (kling.ImageToVideo, "kling-3.0-turbo", 2500),
        (kling.ImageToVideo, "kling-2.6", 2500),
        (kling.TextToVideo, "kling-2.6", 2500),
        (kling.ImageToVideo, "kling-2.5-turbo", 2500),
        (kling.ImageToVideo, "kling-v3", 2500),
    ],
)
async def test_prompt_limits_follow_the_model_and_endpoint(
    request_type: type[kling.ImageToVideo | kling.TextToVideo], model: str, limit: int
) -> None:
    extra = {"image": URL} if request_type is kling.ImageToVideo else {}
    await validate(request_type(model=model, prompt="x" * limit, **extra))  # type: ignore[arg-type]
    with pytest.raises(kling.ValidationError, match=f"at most {limit} characters"):
        await validate(request_type(model=model, prompt="x" * (limit + 1), **extra))  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def twelve_mb_png() -> bytes:
    """A valid 400x400 PNG made 12 MB by a private ancillary chunk (CRC and all)."""
    out = io.BytesIO()
    Image.new("RGB", (400, 400), (90, 120, 200)).save(out, "PNG")
    png = out.getvalue()
    payload = random.Random(7).randbytes(12 * 1024 * 1024)
    chunk = struct.pack(">I", len(payload)) + b"kLNg" + payload
    chunk += struct.pack(">I", zlib.crc32(b"kLNg" + payload))
    iend = png.rindex(b"IEND") - 4
    data = png[:iend] + chunk + png[iend:]
    assert 10 * 1024 * 1024 < len(data) < 50 * 1024 * 1024
    with Image.open(io.BytesIO(data)) as img:
        img.verify()
    return data


async def test_frames_up_to_50_mb_on_the_new_api_10_mb_on_the_legacy(twelve_mb_png: bytes) -> None:
    await validate(kling.ImageToVideo(model="kling-3.0-turbo", image=twelve_mb_png))
    with pytest.raises(kling.ValidationError, match="exceeds the 10 MB limit"):
        await validate(kling.ImageToVideo(model="kling-v2-6", image=twelve_mb_png))
