"""Every kind of job travels the queue unchanged: ``load_job(dump_job(job))`` is the same job,
with the same identity, so a worker runs (and keys, and names) what a local run would."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pytest

import kling_async as kling
from kling_async.batch import content_hash
from kling_async.models import Element, Shot, Voice
from kling_async.validation import AnyRequest
from kling_async.video_requests import ReferenceImage, ReferenceVideo
from kling_async.workers import dump_job, load_job

from .._helpers import png

URL = "https://example.com/still.png"


def _image(folder: Path, name: str, color: tuple[int, int, int]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.png"
    path.write_bytes(png(640, 360, color))
    return path


def _every_kind(folder: Path) -> dict[str, AnyRequest]:
    beach = _image(folder, "beach", (200, 120, 40))
    cat = _image(folder, "cat", (40, 120, 200))
    mask = _image(folder, "mask", (255, 255, 255))
    raw = png(640, 360, (10, 20, 30))
    as_base64 = base64.b64encode(png(640, 360, (30, 20, 10))).decode()
    return {
        "image-to-video, masks and camera": kling.ImageToVideo(
            image=beach,
            image_tail=raw,
            prompt="waves",
            negative_prompt="blur",
            model="kling-v1-5",
            mode="pro",
            cfg_scale=0.5,
            static_mask=mask,
            dynamic_masks=[
                kling.DynamicMask(mask, [kling.Point(1, 1), kling.Point(5, 5)]),
                kling.DynamicMask.from_top_left(raw, [(5, 10), (6, 20)], image_height=360),
            ],
            watermark=True,
            callback_url="https://example.com/hook",
            external_task_id="mine-1",
        ),
        "image-to-video, camera and voices": kling.ImageToVideo(
            image=URL,
            prompt="<<<voice_1>>> hello",
            camera_control=kling.CameraControl.simple(zoom=-5),
            sound=True,
            voices=("v1", Voice("v2", id="narrator")),
            api="legacy",
        ),
        "image-to-video, elements and shots": kling.ImageToVideo(
            image=as_base64,
            model="kling-3.0",
            elements=[Element(101), Element("102", id="hero", kind="video"), 7],
            multi_prompt=[Shot("waves @element_1", 2), Shot("gulls", 2), Shot("sunset", 1)],
            multi_shot=True,
            shot_type="customize",
            duration=5,
            extra_contents=[{"type": "x", "nested": [1, {"a": None}]}],
            extra_settings={"@": "not a tag", "path": "/not/an/image"},
            extra_options={"k": 1.5},
            extra_body={"top": [True, "x"]},
        ),
        "text-to-video": kling.TextToVideo(
            prompt="a storm at sea",
            duration=10,
            aspect_ratio="9:16",
            camera_control=kling.CameraControl.preset("down_back"),
            multi_shot=True,
            shot_type="intelligence",
        ),
        "omni video": kling.OmniVideo(
            model="kling-3.0-omni",
            prompt="the cat of @hero walks on the beach of @image_2 like @video_1",
            first_frame=ReferenceImage(cat, id="start"),
            last_frame=raw,
            images=[ReferenceImage(cat, id="hero"), beach, URL],
            elements=[Element(5, id="dog")],
            video=ReferenceVideo("https://example.com/ref.mp4", "feature", id="moves"),
            audio="off",
            multi_prompt=[Shot("one", 3), Shot("two", 2)],
            duration=5,
            aspect_ratio="1:1",
            mode="4k",
        ),
        "motion control": kling.MotionControl(
            model="kling-3.0",
            image=beach,
            video_url="https://example.com/moves.mp4",
            character_orientation="video",
            keep_original_sound=False,
            elements=[Element(9)],
            prompt="dance",
        ),
        "image generation": kling.ImageGeneration(
            prompt="a cat in the style of @element_1",
            negative_prompt="",
            model="kling-v2-1",
            image=cat,
            image_reference="subject",
            image_fidelity=0.4,
            human_fidelity=0.3,
            elements=[Element(3)],
            resolution="2k",
            n=2,
            aspect_ratio="21:9",
            callback_url="",
            extra_body={"seed": 3},
        ),
    }


KINDS = [
    "image-to-video, masks and camera",
    "image-to-video, camera and voices",
    "image-to-video, elements and shots",
    "text-to-video",
    "omni video",
    "motion control",
    "image generation",
]


def _travel(job: AnyRequest) -> AnyRequest:
    return load_job(json.loads(json.dumps(dump_job(job))))


@pytest.mark.parametrize("kind", KINDS)
def test_every_kind_travels_the_queue_unchanged(kind: str, tmp_path: Path) -> None:
    job = _every_kind(tmp_path)[kind]
    again = _travel(job)
    assert again == job
    assert type(again) is type(job)
    assert content_hash(again) == content_hash(job)
    assert _travel(again) == job  # and again: what a requeue sends


def test_every_kind_of_the_batch_tests_travels_unchanged(tmp_path: Path) -> None:
    from ..batch.test_kinds import _mixed

    for job in _mixed(tmp_path):
        assert _travel(job) == job
        assert content_hash(_travel(job)) == content_hash(job)


def test_images_travel_as_what_they_are(tmp_path: Path) -> None:
    job = _every_kind(tmp_path)["omni video"]
    data = dump_job(job)
    first = data["first_frame"]
    assert first["@"] == "ReferenceImage"
    assert first["image"] == {"path": str(tmp_path / "cat.png")}
    assert first["id"] == "start"
    assert set(data["last_frame"]) == {"base64"}
    assert data["images"][2] == {"text": URL}
    again = load_job(data)
    assert isinstance(again, kling.OmniVideo)
    assert again.last_frame == png(640, 360, (10, 20, 30))
    assert isinstance(again.last_frame, bytes)


def test_a_relative_image_path_is_made_absolute_and_keeps_its_identity(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Workers read images from shared storage, not from the enqueuer's working folder."""
    _image(tmp_path / "in", "cat", (1, 2, 3))
    monkeypatch.chdir(tmp_path)
    for image in (Path("in/cat.png"), "in/cat.png"):
        job = kling.MotionControl(
            image=image, video_url="https://e/v.mp4", character_orientation="image"
        )
        again = _travel(job)
        assert isinstance(again, kling.MotionControl)
        assert str(again.image) == str(tmp_path / "in" / "cat.png")
        assert type(again.image) is type(image)
        assert content_hash(again) == content_hash(job)


def test_a_value_that_cannot_travel_is_refused_naming_its_field(tmp_path: Path) -> None:
    job = kling.OmniVideo(prompt="x", images=[ReferenceImage(image=object())])  # type: ignore[arg-type]
    with pytest.raises(kling.ValidationError) as caught:
        dump_job(job)
    assert caught.value.field == "images[0].image"
    assert "cannot be sent to a worker" in str(caught.value)


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"kind": "Nope"}, "kind"),
        ({"kind": "OmniVideo", "colour": "red"}, "colour"),
        ({"kind": "OmniVideo", "first_frame": {"zip": "x"}}, "first_frame"),
        ({"kind": "OmniVideo", "video": {"@": "Os", "url": "x"}}, "video"),
        ({"kind": "ImageToVideo", "image": {"base64": "%%%"}}, "image"),
        (
            {"kind": "TextToVideo", "camera_control": {"@": "CameraControl", "x": 1}},
            "camera_control.x",
        ),
    ],
)
def test_data_dump_job_did_not_write_is_refused_naming_the_field(
    data: dict[str, Any], field: str
) -> None:
    with pytest.raises(kling.ValidationError) as caught:
        load_job(data)
    assert caught.value.field == field


def test_jobs_queued_by_0_1_workers_still_load() -> None:
    """0.1 queued a camera move and shots without a class tag: a queue filled before an
    upgrade still runs on the new workers, as the same jobs (these dicts are what 0.1's
    ``dump_job`` wrote for them)."""
    camera = {
        "kind": "ImageToVideo",
        "image": {"text": URL},
        "prompt": "p",
        "model": "kling-v1",
        "mode": "std",
        "duration": 5,
        "camera_control": {
            "type": "simple",
            "config": {"horizontal": 0, "vertical": 0, "pan": 0, "tilt": 0, "roll": 0, "zoom": 5},
        },
    }
    shots = {
        "kind": "ImageToVideo",
        "image": {"text": URL},
        "model": "kling-v3",
        "mode": "std",
        "duration": 5,
        "multi_shot": True,
        "multi_prompt": [{"prompt": "a cat", "duration": 3}, {"prompt": "a dog", "duration": 2}],
    }
    assert load_job(camera) == kling.ImageToVideo(
        image=URL,
        prompt="p",
        model="kling-v1",
        camera_control=kling.CameraControl("simple", kling.CameraConfig(zoom=5)),
    )
    assert load_job(shots) == kling.ImageToVideo(
        image=URL,
        model="kling-v3",
        multi_shot=True,
        multi_prompt=(Shot("a cat", 3), Shot("a dog", 2)),
        duration=5,
    )
    # an untagged object anywhere else is still refused, naming where it stood
    with pytest.raises(kling.ValidationError, match="elements"):
        load_job({**shots, "elements": [{"id": 1}]})
