"""Motion control: ``POST /motion-control/kling-2.6`` and ``/motion-control/kling-3.0``.

The emulator's reading of the vendor pages (kling-motion-control-2.6, kling-motion-control-3.0,
kling-omni-3.0-motion-control): ``contents`` holds one ``image`` (the character's look: .jpg,
.jpeg, .png, up to 50 MB, sides >= 300 px, 1:2.5 to 2.5:1), one ``video`` (the motion, by URL),
an optional prompt (up to 2,500 characters) and, on kling-3.0 only, at most one ``element``.
``settings.character_orientation`` image|video is required; ``settings.audio`` original|off
(default original: the result keeps the motion video's sound, the new API's spelling of the
legacy ``keep_original_sound``); ``settings.resolution`` 720p|1080p. There is no duration: the
output follows the motion video, which the emulator does not fetch, so it makes a
``MOTION_SECONDS`` video and bills that. An unknown model allowed by the config gets the same
checks with elements allowed.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Any

from ._contents import object_field, read_contents, unknown_fields
from ._errors import invalid
from ._models import MAX_PROMPT, RESOLUTIONS
from ._rules_new import not_found, options_fields
from ._shared import TaskSpec, choice_field

#: model -> (concurrency family: the model version, shared with its video tasks; elements)
MOTION_MODELS: dict[str, tuple[str, int]] = {"kling-2.6": ("2.6", 0), "kling-3.0": ("3.0", 1)}
#: The length of a motion-control result: the motion video is not fetched, so not known.
MOTION_SECONDS = 5
ORIENTATIONS = ("image", "video")


def check_motion(name: str, body: Mapping[str, Any], allowed: Collection[str] = ()) -> TaskSpec:
    """Validate a motion-control create; raise ``Rejection`` naming the field and the rule."""
    if name in MOTION_MODELS:
        family, max_elements = MOTION_MODELS[name]
    elif name in allowed:
        family, max_elements = name, 1
    else:
        raise not_found("motion_control", name, MOTION_MODELS)
    where = f"POST /motion-control/{name}"
    unknown_fields(body, ("contents", "settings", "options"), where, "")
    settings = object_field(body, "settings")
    fields = ("character_orientation", "audio", "resolution")
    future = name not in MOTION_MODELS
    unknown_fields(settings, fields, where, "settings.", future=future)
    common = options_fields(body, where, future=future)
    types = ("prompt", "image", "video") + (("element",) if max_elements else ())
    found = read_contents(body.get("contents"), types, MAX_PROMPT, ("prompt", "image", "video"))
    images, videos, elements = found.count("image"), len(found.videos), len(found.element_ids)
    if images != 1:
        raise invalid(f"contents[image]: {images} image items; give exactly one (the character)")
    if videos != 1:
        raise invalid(f"contents[video]: {videos} video items; give exactly one (the motion)")
    if elements > max_elements:
        raise invalid(
            f"contents[element]: {elements} elements; {name} takes at most {max_elements}"
        )
    if settings.get("character_orientation") is None:
        raise invalid("settings.character_orientation: required, 'image' or 'video'")
    choice_field(
        settings, "character_orientation", ORIENTATIONS, name="settings.character_orientation"
    )
    audio = choice_field(settings, "audio", ("original", "off"), name="settings.audio")
    resolution = choice_field(settings, "resolution", ("720p", "1080p"), name="settings.resolution")
    return TaskSpec(
        kind="motion_control",
        model=name,
        mode=RESOLUTIONS[resolution or "720p"],
        duration=str(MOTION_SECONDS),
        prompt=found.prompt,
        features=frozenset(),
        image=found.first("image"),
        aspect_ratio="16:9",
        wire="new",
        family=family,
        audio=audio != "off",
        video_input=True,
        **common,
    )
