"""Manifest columns (#24 item 9): one table, from which the parser reads every row, the docs'
column table is generated, and every field of every request type has a column. Each test
here failed before the table: a row with ``sound`` was refused as an unknown column, and
no row could be an omni video, a motion control or an image generation."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import attrs
import pytest

from kling_async.cli.inputs import collect
from kling_async.cli.inputs.columns import COLUMNS, KINDS, docs_table
from kling_async.image_requests import ImageGeneration
from kling_async.models import Element, ImageToVideo, Shot, TextToVideo, Voice
from kling_async.video_requests import MotionControl, OmniVideo, ReferenceImage, ReferenceVideo

ROOT = Path(__file__).resolve().parents[2]
#: Request fields no manifest column fills, each with why. Empty: every field has one.
NO_COLUMN: dict[str, str] = {}
#: The flags' defaults as ``animate`` makes them without options.
DEFAULTS = {"model": "kling-v2-6", "mode": "std", "duration": 5}


def test_every_field_of_every_request_type_has_a_column() -> None:
    filled = {column.field for column in COLUMNS}
    missing = [
        f"{cls.__name__}.{field.name}"
        for cls in KINDS.values()
        for field in attrs.fields(cls)
        if field.name not in filled and field.name not in NO_COLUMN
    ]
    assert missing == [], f"give these request fields a manifest column: {missing}"
    assert set(KINDS.values()) == {
        ImageToVideo,
        TextToVideo,
        OmniVideo,
        MotionControl,
        ImageGeneration,
    }


def test_the_docs_column_table_is_the_generated_one() -> None:
    text = (ROOT / "docs" / "cli.md").read_text(encoding="utf-8")
    start, end = "<!-- manifest-columns:start -->\n", "<!-- manifest-columns:end -->"
    assert start in text
    assert end in text
    shown = text.split(start, 1)[1].split(end, 1)[0]
    assert shown == docs_table(), (
        "docs/cli.md's column table is stale: paste `python -m kling_async.cli.inputs.columns`"
    )
    assert "| `video_role` | `video` | omni_video |" in shown
    assert all(line.count("|") == 5 for line in shown.splitlines())  # no "|" in a cell


def rows(tmp_path: Path, name: str, text: str) -> tuple[list[Any], list[Any]]:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    inputs, bad, _ = collect((), path, False, DEFAULTS)
    return inputs, bad


def test_a_csv_row_of_every_kind_becomes_its_request(tmp_path: Path) -> None:
    header = (
        "kind,image,prompt,model,elements,multi_prompt,images,video,video_role,video_url,"
        "character_orientation,duration,sound,voices,n,resolution,extra_settings,watermark"
    )
    lines = [
        ",a.png,,kling-3.0,101:hero;102,2 waves @hero; 2 gulls; 1 sunset,,,,,,5,,,,,,",
        ',,a fox,,,,,,,,,,yes,v1:narrator;v2,,,"{""x"": 1}",false',
        "omni_video,,@image_1 on @image_2,,,,cat.png;https://e.com/b.png,,,,,5,,,,,,",
        "omni_video,,make @video_1 autumn,kling-o1,,,,https://e.com/v.mp4,base,,,,,,,,,",
        "motion_control,d.png,,kling-3.0,,,,,,https://e.com/m.mp4,video,,,,,,,",
        "images,,a red kite,,,,,,,,,,,,2,2k,,",
    ]
    inputs, bad = rows(tmp_path, "m.csv", "\n".join([header, *lines]) + "\n")
    assert bad == []
    i2v, t2v, omni, o1, motion, images = (item.job for item in inputs)
    assert isinstance(i2v, ImageToVideo)
    assert i2v.image == tmp_path / "a.png"
    assert i2v.model == "kling-3.0"
    assert i2v.elements == (Element(101, "hero"), 102)
    assert i2v.multi_prompt == (Shot("waves @hero", 2), Shot("gulls", 2), Shot("sunset", 1))
    assert isinstance(t2v, TextToVideo)
    assert t2v.sound is True
    assert t2v.voices == (Voice("v1", "narrator"), "v2")
    assert t2v.extra_settings == {"x": 1}
    assert t2v.watermark is False
    assert isinstance(omni, OmniVideo)
    assert omni.images == (tmp_path / "cat.png", "https://e.com/b.png")
    # no model column: OmniVideo's default, not --model's kling-v2-6; nor --duration's 5
    assert omni.model == "kling-3.0-omni"
    assert isinstance(o1, OmniVideo)
    assert o1.duration is None
    assert o1.video == ReferenceVideo("https://e.com/v.mp4", "base")
    assert isinstance(motion, MotionControl)
    assert (motion.image, motion.character_orientation) == (tmp_path / "d.png", "video")
    assert motion.model == "kling-3.0"
    assert isinstance(images, ImageGeneration)
    assert (images.n, images.resolution, images.model) == (2, "2k", "kling-v3")


def test_json_lines_take_lists_objects_and_labels(tmp_path: Path) -> None:
    row = {
        "kind": "omni_video",
        "prompt": "@hero walks",
        "images": [{"image": "cat.png", "id": "hero"}, "dog.png"],
        "elements": [{"element_id": 7, "id": "hat", "kind": "video"}],
        "multi_prompt": [{"prompt": "a", "duration": 2}, "3 b"],
        "multi_shot": True,
        "duration": 5,
        "extra_contents": [{"type": "x"}],
        "first_frame": "https://e.com/f.png",
    }
    inputs, bad = rows(tmp_path, "m.jsonl", json.dumps(row) + "\n")
    assert bad == []
    job = inputs[0].job
    assert isinstance(job, OmniVideo)
    assert job.images == (ReferenceImage(tmp_path / "cat.png", "hero"), tmp_path / "dog.png")
    assert job.elements == (Element(7, "hat", "video"),)
    assert job.multi_prompt == (Shot("a", 2), Shot("b", 3))
    assert job.multi_shot is True
    assert job.extra_contents == ({"type": "x"},)
    assert inputs[0].local_images() == [
        "https://e.com/f.png",
        tmp_path / "cat.png",
        tmp_path / "dog.png",
    ]


@pytest.mark.parametrize(
    ("line", "words"),
    [
        ('{"image": "a.png", "sound": "maybe"}', "sound: 'maybe' — must be true or false"),
        ('{"kind": "video", "prompt": "x"}', "kind: 'video' — must be one of image2video"),
        ('{"prompt": "x", "images": "a.png"}', "images: 'a.png' — text2video rows"),
        ('{"prompt": "x", "images": "a.png"}', "(give a kind column)"),
        ('{"kind": "images", "prompt": "x", "duration": 5}', "it is for image2video, text2"),
        ('{"kind": "omni_video", "video_role": "base"}', "video_role: 'base' — needs a video"),
        ('{"kind": "omni_video", "video": "a.mp4"}', "video: 'a.mp4' — must be an http(s) URL"),
        ('{"prompt": "x", "extra_body": "{no"}', "extra_body: '{no' — must be JSON"),
        ('{"prompt": "x", "extra_options": [1]}', "must be a JSON object"),
        ('{"prompt": "x", "multi_prompt": "a b"}', "each shot is '<seconds> <prompt>'"),
        ('{"kind": "images", "prompt": "x", "n": "two"}', "n: 'two' — must be a whole number"),
        ('{"prompt": "x", "colour": "red"}', "columns: ['colour'] — unknown; known: kind"),
        ('{"image": "a.png", "voices": [true]}', "each is an id or 'id:label'"),
    ],
)
def test_a_bad_cell_names_the_column_the_value_and_the_rule(
    tmp_path: Path, line: str, words: str
) -> None:
    inputs, bad = rows(tmp_path, "m.jsonl", line + "\n")
    assert inputs == []
    assert [b.source for b in bad] == ["m.jsonl:1"]
    assert words in bad[0].reason, bad[0].reason


def test_the_flags_fill_only_the_kinds_they_describe(tmp_path: Path) -> None:
    defaults = DEFAULTS | {
        "prompt": "gentle",
        "sound": True,
        "watermark": True,
        "model": "kling-v3",
    }
    path = tmp_path / "m.csv"
    path.write_text(
        "kind,image,video_url,character_orientation\n"
        "motion_control,d.png,https://e.com/m.mp4,image\n"
        ",a.png,,\n"
    )
    inputs, bad, _ = collect((), path, False, defaults)
    assert bad == []
    motion, i2v = (item.job for item in inputs)
    assert isinstance(motion, MotionControl)
    assert (motion.model, motion.prompt, motion.watermark) == ("kling-2.6", "gentle", True)
    assert inputs[0].from_options == frozenset()
    assert isinstance(i2v, ImageToVideo)
    assert (i2v.model, i2v.sound, i2v.prompt) == ("kling-v3", True, "gentle")
    assert {"model", "sound"} <= inputs[1].from_options
