"""What the kinds beyond image/text to video cost, and what a unit costs in cash.

From the vendor's pricing pages (kling-pricing-video, kling-pricing-image, late 2026): units per
second of output for omni video and motion control, units per image for image generation, and
each table's dollar price per unit (video $0.14, image $0.0035), which the emulator uses as the
list price when it bills in cash. Image and text to video keep ``EmulatorConfig.unit_cost``.
"""

from __future__ import annotations

from ._shared import TaskSpec

#: omni model -> (without video input: (silent, native audio), with video input) by mode
_OMNI: dict[str, dict[str | None, tuple[float, float, float]]] = {
    "kling-3.0-omni": {"std": (0.6, 0.8, 0.9), "pro": (0.8, 1.0, 1.2), "4k": (3.0, 3.0, 3.0)},
    "kling-o1": {"std": (0.6, 0.6, 0.9), "pro": (0.8, 0.8, 1.2)},
}
_MOTION: dict[str, dict[str | None, float]] = {
    "kling-3.0": {"std": 0.9, "pro": 1.2},
    "kling-2.6": {"std": 0.5, "pro": 0.8},
}
#: image model -> (text to image, image to image) units per image
_IMAGE: dict[str, tuple[float, float]] = {
    "kling-v3": (8.0, 8.0),
    "kling-v3-omni": (8.0, 8.0),
    "kling-v2-1": (4.0, 8.0),
}
#: Models the config allows but no table lists: 1 unit per second or per image.
_UNKNOWN_RATE = 1.0
#: Dollars per unit of each resource pack, the list price of a cash charge.
CASH_PER_UNIT = {"video": 0.14, "image": 0.0035}


def kind_units(spec: TaskSpec) -> float:
    """Units an omni-video, motion-control or image-generation task costs."""
    if spec.product == "image":
        text, with_image = _IMAGE.get(spec.model, (_UNKNOWN_RATE, _UNKNOWN_RATE))
        per_image = with_image if "image_to_image" in spec.features else text
        return round(per_image * spec.count, 6)
    seconds = int(spec.duration)
    if spec.kind == "omni_video":
        modes = _OMNI.get(spec.model, {})
        silent, native, video = modes.get(spec.mode, (_UNKNOWN_RATE,) * 3)
        rate = video if spec.video_input else native if spec.sound else silent
    else:
        rate = _MOTION.get(spec.model, {}).get(spec.mode, _UNKNOWN_RATE)
    return round(rate * seconds, 6)
