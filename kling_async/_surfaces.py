"""The SDK's reading of the vendor's pages for the endpoints beyond image and text to video:
omni video, motion control and image generation (``shared/vendor-examples/INDEX.md``, each
page's limits). The emulator keeps its own reading.

Omni video and motion control exist on the model-in-path (new) API only; image generation on
the legacy-style ``/v1/images/generations`` only.
"""

from __future__ import annotations

from collections.abc import Mapping

import attrs

from ._catalog import ALL_MODES, FIVE_TEN, STD_PRO, THREE_TO_FIFTEEN

OMNI_AUDIO = ("native", "original", "off")
VIDEO_ROLES = ("feature", "base")
ORIENTATIONS = ("image", "video")


@attrs.frozen
class OmniCaps:
    """What one omni model takes. ``bare_durations``: the durations allowed when the video
    has no reference at all (no reference image, element or video), else None."""

    family: str
    modes: tuple[str, ...]
    durations: tuple[int, ...]
    bare_durations: tuple[int, ...] | None
    prompt_chars: int
    audio: tuple[str, ...]
    #: ``settings.multi_shot`` and shots in the prompt.
    multi_shot: bool
    #: Video-character elements (else multi-image elements only).
    video_elements: bool


OMNI: Mapping[str, OmniCaps] = {
    "kling-3.0-omni": OmniCaps(
        "3.0-omni", ALL_MODES, THREE_TO_FIFTEEN, None, 3072, OMNI_AUDIO, True, True
    ),
    # O1: 3-10 s, but 5 or 10 without references; no native audio, no multi-shot.
    "kling-o1": OmniCaps(
        "o1", STD_PRO, tuple(range(3, 11)), FIVE_TEN, 2500, ("original", "off"), False, False
    ),
}
#: Elements next to a first frame (or first and last frames), on either omni model.
OMNI_MAX_ELEMENTS_WITH_FRAMES = 3


@attrs.frozen
class MotionCaps:
    family: str
    modes: tuple[str, ...]
    max_elements: int
    prompt_chars: int = 2500


MOTION: Mapping[str, MotionCaps] = {
    "kling-2.6": MotionCaps("2.6", STD_PRO, 0),
    "kling-3.0": MotionCaps("3.0", STD_PRO, 1),
}


@attrs.frozen
class ImageCaps:
    #: ``image_fidelity`` / ``human_fidelity`` (kling-v2-1 only).
    fidelity: bool
    prompt_chars: int = 2500


IMAGES: Mapping[str, ImageCaps] = {
    "kling-v2-1": ImageCaps(fidelity=True),
    "kling-v3": ImageCaps(fidelity=False),
}
IMAGE_RATIOS = ("16:9", "9:16", "1:1", "4:3", "3:4", "3:2", "2:3", "21:9")
IMAGE_RESOLUTIONS = ("1k", "2k")
IMAGE_N = (1, 9)
IMAGE_REFERENCES = ("subject", "face")
#: Elements plus reference images one image task may take.
IMAGE_MAX_INPUTS = 10


def omni_count_rule(
    caps: OmniCaps,
    *,
    frames: bool,
    last_frame: bool,
    refs: int,
    image_elements: int,
    video_elements: int,
    video: bool,
) -> str | None:
    """The omni page's rule the numbers of references break, or None when they break none."""
    elements = image_elements + video_elements
    if frames and elements > OMNI_MAX_ELEMENTS_WITH_FRAMES:
        return f"at most {OMNI_MAX_ELEMENTS_WITH_FRAMES} elements with a first frame"
    if not caps.video_elements:  # O1
        if video_elements:
            return "takes multi-image elements only (no video-character element)"
        if last_frame and (refs or elements):
            return "with first and last frames takes no reference image and no element"
        return _four_or_seven(
            refs + elements, "reference images + elements", video, "with a reference video"
        )
    if video:
        if image_elements and video_elements:
            return "with a reference video takes one kind of element, not both"
        if video_elements > 1:
            return "with a reference video at most 1 video-character element"
        if refs + image_elements > 4:
            return "with a reference video: reference images + elements at most 4"
        return None
    if video_elements > 3:
        return "at most 3 video-character elements"
    return _four_or_seven(
        refs + image_elements,
        "reference images + multi-image elements",
        video_elements > 0,
        "next to video-character elements",
    )


def _four_or_seven(count: int, what: str, crowded: bool, why: str) -> str | None:
    """The omni pages' limit on reference images plus elements: at most 7, or 4 when
    ``crowded`` (a reference video on O1, video-character elements on 3.0), said with ``why``.
    """
    most = 4 if crowded else 7
    if count <= most:
        return None
    return f"{what} at most {most}" + (f" {why}" if crowded else "")
