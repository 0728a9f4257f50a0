"""``client.elements`` and ``client.voices`` against the emulator: an element made once from
a folder of images, listed, found, named by a batch of videos, deleted (then refused); bad
requests refused before anything is sent, naming the field, the value and the rule."""

from __future__ import annotations

from pathlib import Path

import pytest
from PIL import Image

import kling_async as kling

from .._helpers import StartEmulator, fast_client


def photos(folder: Path, count: int, size: tuple[int, int] = (400, 400)) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(count):
        Image.new("RGB", size, (40 * i, 120, 200)).save(folder / f"view-{i}.png")
    return folder


async def test_an_element_from_a_folder_lives_is_used_and_is_deleted(
    tmp_path: Path, start_emulator: StartEmulator
) -> None:
    emu, _ = await start_emulator(clock=kling.VirtualClock(), asset_seconds=1.0)
    folder = photos(tmp_path / "corgi", 3)
    async with fast_client(emu) as client:
        task = await client.elements.create_from_folder(
            folder, name="Corgi", description="Our corgi, three angles"
        )
        assert task.status is kling.TaskStatus.SUBMITTED
        assert task.task.external_task_id  # the key a lost create is reconciled by
        done = await client.elements.wait(task)
        (element,) = done.elements
        assert element.name == "Corgi"
        assert element.usable
        assert element.reference_type == "image_refer"
        assert len(element.raw["element_image_list"]["refer_images"]) == 2  # frontal + 2
        listed = [t async for t in client.elements.list()]
        assert [t.task_id for t in listed] == [task.task_id]
        assert await client.elements.find(element.element_id) == element
        assert (await client.elements.get(task.task.external_task_id or "")).task_id == task.task_id

        jobs = [
            kling.ImageToVideo(
                image=folder / "view-0.png",
                prompt=f"@element_1 runs, take {n}",
                model="kling-3.0",
                elements=(element.element_id,),
            )
            for n in range(2)
        ]
        outcomes = [o async for o in client.batch(jobs, tmp_path / "videos")]
        assert [o.status for o in outcomes] == [kling.OutcomeStatus.SUCCEEDED] * 2

        await client.elements.delete(element.element_id)
        gone = await client.elements.get(task.task_id)
        assert gone.elements[0].status is kling.AssetStatus.DELETED
        with pytest.raises(kling.InvalidRequestError, match="has been deleted"):
            await client.image_to_video.create(jobs[0])


async def test_presets_and_voices(start_emulator: StartEmulator) -> None:
    emu, _ = await start_emulator(clock=kling.VirtualClock(), asset_seconds=1.0)
    async with fast_client(emu) as client:
        presets = [e for t in [t async for t in client.elements.presets()] for e in t.elements]
        assert presets
        assert all(e.owned_by == "kling" for e in presets)
        task = await client.voices.create(name="Narrator", voice_url="https://x.test/me.mp3")
        (voice,) = (await client.voices.wait(task)).voices
        assert voice.name == "Narrator"
        assert await client.voices.find(voice.voice_id) == voice
        assert [v async for v in client.voices.presets()]
        await client.voices.delete(voice.voice_id)
        assert (await client.voices.get(task.task_id)).voices[0].status is kling.AssetStatus.DELETED


@pytest.mark.parametrize(
    ("fields", "field", "rule"),
    [
        ({"name": "x" * 21}, "name", "at most 20"),
        ({"description": "d" * 101}, "description", "at most 100"),
        ({"refer_images": ()}, "refer_images", "1 to 3"),
        ({"refer_images": ("a.png",) * 4}, "refer_images", "1 to 3"),
        ({"tags": ("o_999",)}, "tags[0]", "must be one of"),
        ({"frontal_image": None}, "frontal_image", "is required"),
    ],
)
def test_bad_element_requests_name_the_field_and_the_rule(
    fields: dict[str, object], field: str, rule: str
) -> None:
    good: dict[str, object] = {
        "name": "Corgi",
        "description": "a dog",
        "frontal_image": "front.png",
        "refer_images": ("side.png",),
    }
    with pytest.raises(kling.ValidationError) as caught:
        kling.ElementRequest(**{**good, **fields})  # type: ignore[arg-type]
    assert caught.value.field == field
    assert rule in caught.value.rule


def test_a_folder_of_one_or_five_images_is_refused(tmp_path: Path) -> None:
    for count in (1, 5):
        folder = photos(tmp_path / f"n{count}", count)
        with pytest.raises(kling.ValidationError, match="refer_images") as caught:
            kling.ElementRequest.from_folder(folder, name="n", description="d")
        assert caught.value.value == count - 1


def test_bad_voice_requests() -> None:
    with pytest.raises(kling.ValidationError, match="voice_url / video_id"):
        kling.VoiceRequest(name="v")
    with pytest.raises(kling.ValidationError, match="voice_url"):
        kling.VoiceRequest(name="v", voice_url="https://x.test/a.txt")
    with pytest.raises(kling.ValidationError, match="at most 20"):
        kling.VoiceRequest(name="v" * 21, video_id="123")


async def test_a_small_image_is_refused_before_anything_is_sent(
    tmp_path: Path, start_emulator: StartEmulator
) -> None:
    emu, _ = await start_emulator(clock=kling.VirtualClock())
    folder = photos(tmp_path / "small", 2, size=(100, 100))
    async with fast_client(emu) as client:
        with pytest.raises(kling.ValidationError, match="at least 300 px"):
            await client.elements.create_from_folder(folder, name="n", description="d")
        assert client.requests_sent == 0
