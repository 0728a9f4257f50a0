"""External ids the API could never be asked about again are refused before anything is sent,
on both wires: a create whose answer is lost is found by its external id, and on the new API
``GET /tasks?external_task_ids=a,b`` splits the list on commas and trims each id."""

from __future__ import annotations

import pytest

import kling_async as kling
from kling_async.batch import external_id_for
from kling_async.money import new_external_id
from kling_async.validation import check_external_id

from .._helpers import StartEmulator, fast_client, png

#: (id, words of the rule)
UNQUERYABLE = [
    ("a,b", "must not contain ','"),
    ("job-1,", "must not contain ','"),
    (" lead", "whitespace"),
    ("trail ", "whitespace"),
    ("line\nbreak", "control characters"),
    ("cr\r\nlf", "control characters"),
    ("tab\there", "control characters"),
    ("nul\x00", "control characters"),
    ("esc\x1b[0m", "control characters"),
    ("sep\u2028arator", "control characters"),
]
#: (model, the wire it goes out on)
WIRES = [("kling-v2-6", "legacy"), ("kling-3.0-turbo", "new")]


@pytest.mark.parametrize(("model", "wire"), WIRES)
async def test_unqueryable_external_ids_are_refused_on_both_wires_and_nothing_is_sent(
    start_emulator: StartEmulator, model: str, wire: str
) -> None:
    emu, _ = await start_emulator(video_bytes=100)
    async with fast_client(emu) as client:
        for bad, words in UNQUERYABLE:
            with pytest.raises(kling.ValidationError) as caught:
                await client.image_to_video.create(
                    image=png(), prompt="p", model=model, external_task_id=bad
                )
            assert caught.value.field == "external_task_id"
            assert caught.value.value == bad
            assert words in caught.value.rule
        assert emu.stats()["requests"] == 0  # nothing was sent for any of them
        # the ids the SDK makes itself still go out, and a lost create is found by them
        derived = external_id_for("salt", "job-id", 3)
        emu.inject("lost_create", count=2, route="create")
        made = await client.image_to_video.create(image=png(), prompt="p", model=model)
        found = await client.image_to_video.create(
            image=png(), prompt="p", model=model, external_task_id=derived
        )
    assert (made.wire, found.wire) == (wire, wire)
    assert made.external_task_id is not None
    assert made.external_task_id.startswith("kling-async-")
    assert found.external_task_id == derived
    assert emu.stats()["creates"] == 2


def test_the_rule_names_field_value_and_why() -> None:
    with pytest.raises(kling.ValidationError) as caught:
        check_external_id("a,b")
    assert str(caught.value).startswith("external_task_id: 'a,b' — must not contain ','")
    assert "never be looked up" in caught.value.rule
    odd = ["job?x=1#frag", "../../evil", "ünï-cödé", "x" * 256]
    for fine in [new_external_id(), external_id_for("s", "j", 0), *odd]:
        check_external_id(fine)  # odd but queryable: percent-encoded on the wire
