"""The SDK's reading of Kling's 2026 model catalog: names, wires, families, the capability map
per endpoint, retired models and prices.

Written from the vendor's capability map, pricing page and model pages (see
``../shared/API-2026.md``). The emulator keeps its own, independent reading; a table-driven
test checks that the two agree on every combination.

Two wires carry the same request: the *legacy* API (``/v1/videos/...``, ``model_name`` in the
body, JWT or API key) and the *new* API (``/image-to-video/{model}``, API key only). A model
is named differently on each (``kling-v3`` / ``kling-3.0``); both names belong to one *family*,
and the account's parallel-task limit is counted per family.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from decimal import Decimal
from typing import Literal

import attrs

from .errors import ValidationError

Wire = Literal["legacy", "new"]
ApiChoice = Literal["auto", "legacy", "new"]
#: What a task is (``Task.kind``): the legacy path's name for image and text to video, the
#: client's namespace for the others.
Endpoint = Literal["image2video", "text2video", "omni_video", "motion_control", "images"]

STD_PRO = ("std", "pro")
ALL_MODES = ("std", "pro", "4k")
FIVE_TEN = (5, 10)
THREE_TO_FIFTEEN = tuple(range(3, 16))
#: The new API's resolution for each legacy mode.
RESOLUTIONS: Mapping[str, str] = {"std": "720p", "pro": "1080p", "4k": "4k"}


@attrs.frozen
class ModelName:
    """One name of a model: its family and the wire that knows it by this name."""

    family: str
    wire: Wire


#: Every live model name. ``kling-3.0-turbo`` has no legacy name.
MODEL_NAMES: Mapping[str, ModelName] = {
    "kling-v3": ModelName("3.0", "legacy"),
    "kling-3.0": ModelName("3.0", "new"),
    "kling-3.0-turbo": ModelName("3.0-turbo", "new"),
    "kling-v2-6": ModelName("2.6", "legacy"),
    "kling-2.6": ModelName("2.6", "new"),
    "kling-v2-5-turbo": ModelName("2.5-turbo", "legacy"),
    "kling-2.5-turbo": ModelName("2.5-turbo", "new"),
}
#: family -> its name on each wire that serves it.
FAMILY_NAMES: Mapping[str, Mapping[Wire, str]] = {
    family: {n.wire: name for name, n in MODEL_NAMES.items() if n.family == family}
    for family in {n.family for n in MODEL_NAMES.values()}
}


@attrs.frozen
class Retired:
    when: str
    use: str


#: Models the vendor has switched off: a create is accepted and the task fails, billed nothing.
RETIRED: Mapping[str, Retired] = {
    "kling-v1": Retired("2026-09-15 (discontinued by 2026-09-20)", "kling-v2-6"),
    "kling-v1-5": Retired("2026-09-15", "kling-v2-6"),
    "kling-v1-6": Retired("2026-09-15", "kling-v2-6"),
    "kling-v2-1": Retired("2026-09-15", "kling-v2-6"),
    "kling-v2-1-master": Retired("2026-09-15", "kling-v3"),
}
#: Live on the legacy API by some reports, but absent from the vendor's 2026 map.
UNCONFIRMED = frozenset({"kling-v2-master"})

#: Features a request may use. ``plain`` is a request that uses none of the others.
FEATURE_NAMES: Mapping[str, str] = {
    "plain": "plain generation",
    "tail": "an end frame (image_tail)",
    "sound": "native audio (sound=True)",
    "voice": "voices (voices=...)",
    "multi_shot": "multi-shot (multi_shot / multi_prompt)",
    "elements": "elements (element_list)",
    "camera": "camera_control",
    "brush": "the motion brush (static_mask / dynamic_masks)",
}


@attrs.frozen
class Caps:
    """What one family offers on one endpoint. ``features`` maps a feature to the modes it is
    offered in; ``silent`` lists features that cannot be combined with sound; ``always_sound``
    means the model always makes audio (``sound=False`` cannot be honoured)."""

    modes: tuple[str, ...]
    durations: tuple[int, ...]
    features: Mapping[str, tuple[str, ...]]
    silent: frozenset[str] = frozenset()
    always_sound: bool = False
    exclusive: frozenset[frozenset[str]] = frozenset()
    #: Longest prompt, per wire.
    prompt_chars: Mapping[Wire, int] = attrs.field(factory=lambda: {"legacy": 2500, "new": 2500})
    #: The new API's ``settings.multi_shot`` exists for this model (elsewhere a multi-shot
    #: video is asked for by the shots in its prompt alone).
    multi_shot_setting: bool = False


_V3_I2V = Caps(
    ALL_MODES,
    THREE_TO_FIFTEEN,
    {"tail": ALL_MODES, "sound": ALL_MODES, "multi_shot": ALL_MODES, "elements": ALL_MODES},
    prompt_chars={"legacy": 2500, "new": 3072},
    multi_shot_setting=True,
)
_V3_T2V = Caps(
    ALL_MODES,
    THREE_TO_FIFTEEN,
    {"sound": ALL_MODES, "multi_shot": ALL_MODES},
    prompt_chars={"legacy": 2500, "new": 3072},
    multi_shot_setting=True,
)
#: 3.0 Turbo: multi-shot by the shots in the prompt (the page documents no setting for it).
_TURBO_3 = Caps(
    STD_PRO, THREE_TO_FIFTEEN, {"sound": STD_PRO, "multi_shot": STD_PRO}, always_sound=True
)
CAPABILITIES: Mapping[Endpoint, Mapping[str, Caps]] = {
    "image2video": {
        "3.0": _V3_I2V,
        "3.0-turbo": _TURBO_3,
        "2.6": Caps(
            STD_PRO,
            FIVE_TEN,
            {"tail": ("pro",), "sound": ("pro",), "voice": ("pro",)},
            silent=frozenset({"tail"}),
            exclusive=frozenset({frozenset({"tail", "voice"})}),
        ),
        "2.5-turbo": Caps(STD_PRO, FIVE_TEN, {"tail": ("pro",)}),
    },
    "text2video": {
        "3.0": _V3_T2V,
        "3.0-turbo": attrs.evolve(_TURBO_3, prompt_chars={"legacy": 2500, "new": 3072}),
        "2.6": Caps(STD_PRO, FIVE_TEN, {"sound": ("pro",)}),
        "2.5-turbo": Caps(STD_PRO, FIVE_TEN, {}),
    },
}
#: Fields only the legacy wire can carry (the new API has no place for them).
LEGACY_ONLY_FIELDS: Mapping[str, str] = {
    "negative_prompt": "negative_prompt",
    "cfg_scale": "cfg_scale",
    "camera": "camera_control",
    "brush": "static_mask / dynamic_masks",
}
_LEGACY_PATTERN = re.compile(r"^kling-v\d")


def family_of(model: str) -> str:
    """The concurrency family of a model name (unknown names are their own family)."""
    known = MODEL_NAMES.get(model)
    return known.family if known is not None else model


def choose_wire(model: str, api: ApiChoice) -> tuple[Wire, str]:
    """The wire a request for ``model`` goes out on, and the model's name on that wire.

    ``auto`` sends a model by the name it is given: legacy names (``kling-v3``) on the legacy
    API, new names (``kling-3.0``, ``kling-3.0-turbo``) on the new one. ``legacy``/``new`` force
    a wire and translate the name; a model the chosen wire does not serve is a
    ``ValidationError``.
    """
    known = MODEL_NAMES.get(model)
    if known is None:  # unknown, retired or unconfirmed: by the shape of its name
        natural: Wire = "legacy" if _LEGACY_PATTERN.match(model) else "new"
        wire = natural if api == "auto" else api
        if wire != natural and (model in RETIRED or model in UNCONFIRMED):
            raise ValidationError(
                "api", api, f"{model} exists only on the legacy API (not the new one)"
            )
        return wire, model
    wire = known.wire if api == "auto" else api
    name = FAMILY_NAMES[known.family].get(wire)
    if name is None:
        other = "legacy" if wire == "new" else "new"
        raise ValidationError(
            "api", api, f"{model} is served only by the {other} API, not the {wire} one"
        )
    return wire, name


def is_known(model: str) -> bool:
    return model in MODEL_NAMES


def per_second_price(family: str, mode: str, *, sound: bool, voice: bool) -> float | None:
    """Units per second of video from the vendor's price table, or None if it lists none."""
    if family == "3.0-turbo":
        return {"std": 0.8, "pro": 1.0}.get(mode)
    if family == "3.0":
        table = (
            {"std": 0.9, "pro": 1.2, "4k": 3.0} if sound else {"std": 0.6, "pro": 0.8, "4k": 3.0}
        )
        return table.get(mode)
    if family == "2.6":
        if voice:
            return 1.2 if mode == "pro" else None
        if sound:
            return 1.0 if mode == "pro" else None
        return {"std": 0.3, "pro": 0.5}.get(mode)
    if family == "2.5-turbo":
        return {"std": 0.3, "pro": 0.5}.get(mode)
    return None


#: Units per second assumed for a model the price table does not list: Kling 3.0's 1080p
#: price with audio, the dearest non-4k rate (a budget guard should over- not under-count).
UNLISTED_PER_SECOND = 1.2
UNLISTED_4K_PER_SECOND = 3.0
#: What one video unit costs in money: US$0.14, the list price of a unit on the vendor's
#: pricing page (kling.ai/document-api/pricing/base/video, "1 unit = $0.14"). A budget in
#: money (``max_cost``) counts a job billed in units at this price.
UNIT_PRICE = Decimal("0.14")
#: The currency of ``UNIT_PRICE``.
UNIT_PRICE_CURRENCY = "USD"


def units_for(model: str, mode: str, duration: int, *, sound: bool, voice: bool) -> float:
    """Units a successful task costs, from the vendor's per-second price table."""
    rate = per_second_price(family_of(model), mode, sound=sound, voice=voice)
    if rate is None:
        rate = UNLISTED_4K_PER_SECOND if mode == "4k" else UNLISTED_PER_SECOND
    return round(rate * duration, 4)


#: Omni video, units per second by model and mode: (no video input and silent, no video input
#: with native audio, with a video input). Vendor pricing page (kling-pricing-video): 3.0 Omni
#: 0.6/0.8/3.0 silent, 0.8/1.0/3.0 with audio, 0.9/1.2/3.0 with a video (720p/1080p/4k); O1
#: 0.6/0.8 without a video, 0.9/1.2 with one (O1 has no native audio line: as silent).
OMNI_PER_SECOND: Mapping[str, Mapping[str, tuple[float, float, float]]] = {
    "kling-3.0-omni": {"std": (0.6, 0.8, 0.9), "pro": (0.8, 1.0, 1.2), "4k": (3.0, 3.0, 3.0)},
    "kling-o1": {"std": (0.6, 0.6, 0.9), "pro": (0.8, 0.8, 1.2)},
}
#: Motion control, units per second of output by model and mode (the same page).
MOTION_PER_SECOND: Mapping[str, Mapping[str, float]] = {
    "kling-3.0": {"std": 0.9, "pro": 1.2},
    "kling-2.6": {"std": 0.5, "pro": 0.8},
}
#: Image generation, units per image: (text to image, image to image) by model
#: (kling-pricing-image: Image 3.0 and 3.0 Omni 8 at 1K and 2K; Image 2.1 4 and 8).
IMAGE_UNITS: Mapping[str, tuple[float, float]] = {
    "kling-v3": (8.0, 8.0),
    "kling-v3-omni": (8.0, 8.0),
    "kling-v2-1": (4.0, 8.0),
}
#: The dearest per-image price on the page (3.0 Omni at 4K), for a model it does not list.
UNLISTED_IMAGE_UNITS = 16.0


def omni_units(model: str, mode: str, seconds: int, *, video: bool, sound: bool) -> float:
    """Units an omni-video task of ``seconds`` costs (an unlisted model or mode at the
    dearest rate of its mode, so that a budget is never under-counted)."""
    rates = OMNI_PER_SECOND.get(model, {}).get(mode)
    if rates is None:
        rate = UNLISTED_4K_PER_SECOND if mode == "4k" else UNLISTED_PER_SECOND
    else:
        rate = rates[2] if video else rates[1] if sound else rates[0]
    return round(rate * seconds, 4)


def motion_units(model: str, mode: str, seconds: int) -> float:
    """Units a motion-control task of ``seconds`` of output costs."""
    rate = MOTION_PER_SECOND.get(model, {}).get(mode, UNLISTED_PER_SECOND)
    return round(rate * seconds, 4)


def image_units(model: str, count: int, *, from_image: bool) -> float:
    """Units an image-generation task of ``count`` images costs."""
    prices = IMAGE_UNITS.get(model)
    each = UNLISTED_IMAGE_UNITS if prices is None else prices[1] if from_image else prices[0]
    return round(each * count, 4)
