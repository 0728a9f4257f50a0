"""The emulator's model catalogue: names on both wires, families, retired models, offers.

Written from /tmp/kling-2026-spec.md (the late-2026 capability map) independently of the SDK:
the two must agree because both follow the same decisions, not because one reads the other.

Modes are ``std`` (720p), ``pro`` (1080p) and ``4k``; durations are kept as strings of whole
seconds (the legacy wire's spelling) on both wires. Features: ``tail`` (end frame), ``sound``
(native audio), ``voice`` (voices; they imply sound), ``multi_shot`` and ``elements`` (legacy
kling-v3 only). Camera control and the motion brush are offered by no live model.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol, TypeVar

import attrs

STD, PRO, K4 = "std", "pro", "4k"
#: New-wire ``settings.resolution`` -> the legacy mode it stands for.
RESOLUTIONS: dict[str, str] = {"720p": STD, "1080p": PRO, "4k": K4}
MODE_RESOLUTION = {mode: res for res, mode in RESOLUTIONS.items()}
SHORT = ("5", "10")
LONG = tuple(str(s) for s in range(3, 16))
MAX_PROMPT = 2500
MAX_PROMPT_3_0_T2V = 3072
MAX_PROMPT_3_0 = MAX_PROMPT_3_0_T2V  # 3.0 image and text to video, 3.0-omni, turbo t2v
#: An unknown model served by ``EmulatorConfig.allow_models``: what every model of the wire
#: shares, nothing one model adds: whole seconds from 3 (no model goes shorter) to 30 (twice
#: the longest today), any resolution, any W:H ratio, every feature, prompts up to 20,000.
GENERIC_SECONDS = range(3, 31)
GENERIC_DURATIONS = tuple(str(s) for s in GENERIC_SECONDS)
GENERIC_MAX_PROMPT = 20_000

FEATURE_NAMES = {
    "tail": "an end frame",
    "sound": "native audio",
    "voice": "voices",
    "multi_shot": "multi-shot",
    "elements": "elements",
}


@attrs.frozen
class Offer:
    """What one model offers for one kind of task (image or text to video)."""

    modes: tuple[str | None, ...]
    durations: tuple[str, ...]
    #: feature -> the modes it is offered in
    features: Mapping[str, frozenset[str | None]] = attrs.field(factory=dict)
    #: features offered only without sound
    silent: frozenset[str] = frozenset()
    #: the model always generates audio: asking for none is refused
    always_sound: bool = False
    max_prompt: int = MAX_PROMPT
    #: the prompt may be written in the multi-shot syntax (new wire: kling-3.0, 3.0-turbo)
    shots: bool = False
    #: ``settings.multi_shot`` is a field (new wire: kling-3.0; turbo documents none)
    shot_setting: bool = False
    #: element items the new wire's contents may carry
    max_elements: int = 3


@attrs.frozen
class Model:
    name: str
    family: str
    wire: str  # "legacy" or "new"
    offers: Mapping[str, Offer] = attrs.field(factory=dict)  # kind -> offer
    retired: bool = False


_3 = frozenset({STD, PRO, K4})
_2 = frozenset({STD, PRO})
_P = frozenset({PRO})

_V3_I2V = Offer((STD, PRO, K4), LONG, {"tail": _3, "sound": _3, "multi_shot": _3, "elements": _3})
_V3_T2V = Offer((STD, PRO, K4), LONG, {"sound": _3, "multi_shot": _3})
_V26_I2V = Offer((STD, PRO), SHORT, {"tail": _P, "sound": _P, "voice": _P}, frozenset({"tail"}))
_V26_T2V = Offer((STD, PRO), SHORT, {"sound": _P})
_V25T_I2V = Offer((STD, PRO), SHORT, {"tail": _P})
_V25T_T2V = Offer((STD, PRO), SHORT)
_MASTER = Offer((None,), SHORT)
_TURBO = Offer((STD, PRO), LONG, {"sound": _2, "multi_shot": _2}, always_sound=True)


class _Named(Protocol):
    @property
    def name(self) -> str: ...


N = TypeVar("N", bound=_Named)


def by_name(*entries: N) -> dict[str, N]:
    """A catalogue table: ``entries`` keyed by their names, in the order given."""
    return {entry.name: entry for entry in entries}


def _both(i2v: Offer, t2v: Offer) -> dict[str, Offer]:
    return {"image2video": i2v, "text2video": t2v}


#: Models of the legacy wire (``model_name`` in the body of ``/v1/videos/<kind>``).
LEGACY_MODELS = by_name(
    Model("kling-v3", "3.0", "legacy", _both(_V3_I2V, _V3_T2V)),
    Model("kling-v2-6", "2.6", "legacy", _both(_V26_I2V, _V26_T2V)),
    Model("kling-v2-5-turbo", "2.5-turbo", "legacy", _both(_V25T_I2V, _V25T_T2V)),
    # not in the 2026 vendor map, status unconfirmed: accepted, no mode, 5|10 s, plain
    Model("kling-v2-master", "kling-v2-master", "legacy", _both(_MASTER, _MASTER)),
    *(
        Model(name, name, "legacy", retired=True)
        for name in ("kling-v1", "kling-v1-5", "kling-v1-6", "kling-v2-1", "kling-v2-1-master")
    ),
)

#: Models of the new wire (``POST /image-to-video/{model}``, ``/text-to-video/{model}``).
NEW_MODELS = by_name(
    Model(
        "kling-3.0-turbo",
        "3.0-turbo",
        "new",
        _both(
            attrs.evolve(_TURBO, shots=True),
            attrs.evolve(_TURBO, max_prompt=MAX_PROMPT_3_0, shots=True),
        ),
    ),
    Model(
        "kling-3.0",
        "3.0",
        "new",
        _both(
            attrs.evolve(_V3_I2V, max_prompt=MAX_PROMPT_3_0, shots=True, shot_setting=True),
            attrs.evolve(_V3_T2V, max_prompt=MAX_PROMPT_3_0, shots=True, shot_setting=True),
        ),
    ),
    Model("kling-2.6", "2.6", "new", _both(_V26_I2V, _V26_T2V)),
    Model("kling-2.5-turbo", "2.5-turbo", "new", _both(_V25T_I2V, _V25T_T2V)),
)

_ALL = frozenset({STD, PRO, K4})
_GENERIC = Offer(
    (STD, PRO, K4),
    GENERIC_DURATIONS,
    dict.fromkeys(FEATURE_NAMES, _ALL),
    max_prompt=GENERIC_MAX_PROMPT,
    shots=True,
    shot_setting=True,
    max_elements=7,
)


def generic_model(name: str) -> Model:
    """An unknown new-wire model the config allows: the checks every model shares, no more."""
    return Model(name, name, "new", _both(_GENERIC, _GENERIC))


#: The other wire's spelling of a name, for "model not found" hints.
OTHER_NAME = {
    "kling-v3": "kling-3.0",
    "kling-v2-6": "kling-2.6",
    "kling-v2-5-turbo": "kling-2.5-turbo",
}
OTHER_NAME |= {new: old for old, new in OTHER_NAME.items()}


def family_of(model: str) -> str:
    """The concurrency family of a model name of either wire (unknown names: their own)."""
    found = LEGACY_MODELS.get(model) or NEW_MODELS.get(model)
    return found.family if found is not None else model


def discontinued(model: str) -> str:
    """The ``task_status_msg`` of a task created on a retired model (observed live)."""
    return f"The model '{model}' has been discontinued and is no longer available."
