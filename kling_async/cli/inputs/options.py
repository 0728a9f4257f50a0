"""The option checks: options that cannot work with the model they go to are said once,
naming the option, its value and the rule, before anything is sent."""

from __future__ import annotations

from typing import Any

import click

from ... import _catalog
from ...errors import ValidationError
from ...models import ImageToVideo, TextToVideo
from .jobs import OPTION_FIELDS, Input

#: Capability-map feature -> the option that asks for it.
_FEATURE_OPTIONS = {
    "camera": "camera",
    "tail": "end_frame",
    "sound": "sound",
    "voice": "voice",
    "multi_shot": "multi_prompt",
    "elements": "element",
}
_FEATURE_WORDS = {"camera": "camera control"}


def _flag(option: str, opts: dict[str, Any]) -> str:
    """How the user wrote an option: ``--camera zoom_in``, ``--sound``, ``--voice v1``."""
    name = "--" + option.replace("_", "-")
    value = opts.get(option)
    if isinstance(value, bool):
        return name if value else f"--no-{option.replace('_', '-')}"
    if isinstance(value, tuple | list):
        return " ".join(f"{name} {v}" for v in value)
    return name if value is None else f"{name} {value}"


def check_options(
    inputs: list[Input], opts: dict[str, Any], *, api: str, allow_unknown_models: bool
) -> None:
    """Options that cannot work with the model they go to, said once before anything is
    sent: raises ``click.UsageError`` naming the option, its value and the rule. Fields a
    manifest row gave itself are left to each job's own validation."""
    seen: set[tuple[str, str, int, str | None, frozenset[str]]] = set()
    for item in inputs:
        job = item.job
        key = (job.model, job.mode, int(job.duration), job.api, item.from_options)
        if key in seen:
            continue
        seen.add(key)
        problem = _option_problem(job, item.from_options, opts, api, allow_unknown_models)
        if problem is not None:
            raise click.UsageError(problem)


def _option_problem(
    job: ImageToVideo | TextToVideo,
    given: frozenset[str],
    opts: dict[str, Any],
    api: str,
    allow_unknown: bool,
) -> str | None:
    model, mode, duration = job.model, job.mode, int(job.duration)
    by = "" if "model" in given else " (the model its manifest row names)"
    used = {o for o in given if o in OPTION_FIELDS and opts.get(o) not in (None, (), False)}
    if opts.get("sound") is False and "sound" in given:
        used.add("sound")
    if not _catalog.is_known(model):
        if allow_unknown or "model" not in given:
            return None  # sent unchecked, or a row's own model: its job says what is wrong
        retired = _catalog.RETIRED.get(model)
        if retired is not None:
            return f"--model {model}: retired on {retired.when}; use {retired.use}"
        return (
            f"--model {model}: not in Kling's 2026 capability map (live models: "
            f"{', '.join(_catalog.MODEL_NAMES)}); add --allow-unknown-models to send it unchecked"
        )
    endpoint: _catalog.Endpoint = "image2video" if isinstance(job, ImageToVideo) else "text2video"
    kind = "image to video" if endpoint == "image2video" else "text to video"
    caps = _catalog.CAPABILITIES[endpoint][_catalog.family_of(model)]
    if "mode" in given and mode not in caps.modes:
        return f"--mode {mode}: {model}{by} offers {', '.join(caps.modes)} for {kind}"
    if "duration" in given and duration not in caps.durations:
        low, high = caps.durations[0], caps.durations[-1]
        offered = f"{low} to {high}" if len(caps.durations) > 2 else f"{low} or {high}"
        if "multi_prompt" in used and opts.get("duration") != duration:  # the shots' total
            return (
                f"{_flag('multi_prompt', opts)}: its shots add up to {duration} s; {model}{by} "
                f"makes videos of {offered} seconds"
            )
        return f"--duration {duration}: {model}{by} makes videos of {offered} seconds"
    if "cfg_scale" in used:
        flag = _flag("cfg_scale", opts)
        return f"{flag}: {model}{by} takes no cfg_scale (no model of Kling's 2026 map does)"
    if "multi_prompt" in used and isinstance(job.multi_prompt, tuple) and job.multi_prompt:
        total = sum(int(getattr(shot, "duration", 0) or 0) for shot in job.multi_prompt)
        if total != duration:
            return (
                f"{_flag('multi_prompt', opts)}: its shots add up to {total} s; the video is "
                f"{duration} s (--duration): make them match"
            )
    if "voice" in used and len(opts.get("voice") or ()) > 2:
        return f"{_flag('voice', opts)}: at most 2 voices"
    if "element" in used and len(opts.get("element") or ()) > 3:
        return f"{_flag('element', opts)}: at most 3 elements"
    if "voice" in used and opts.get("sound") is not True:
        return f"{_flag('voice', opts)}: voices need --sound"
    if caps.always_sound and opts.get("sound") is False and "sound" in given:
        return f"--no-sound: {model}{by} always makes audio; leave --no-sound out"
    features = {f for f, o in _FEATURE_OPTIONS.items() if o in used}
    if opts.get("sound") is False:
        features.discard("sound")
    for feature in sorted(features):
        flag = _flag(_FEATURE_OPTIONS[feature], opts)
        what = _FEATURE_WORDS.get(feature) or _catalog.FEATURE_NAMES[feature].split(" (")[0]
        modes = caps.features.get(feature)
        if modes is None:
            able = [
                name
                for name, n in _catalog.MODEL_NAMES.items()
                if feature in _catalog.CAPABILITIES[endpoint][n.family].features
            ]
            others = (
                f"models that do: {', '.join(able)}"
                if able
                else "no model of Kling's 2026 map does; --allow-unknown-models with a model "
                "outside the map to send it anyway"
            )
            return f"{flag}: {model}{by} offers no {what} for {kind} ({others})"
        if mode not in modes:
            return f"{flag}: {model}{by} offers {what} only with --mode {' or '.join(modes)}"
        if feature in caps.silent and "sound" in features:
            return f"{flag} with --sound: {model}{by} makes videos with {what} only silent"
    for group in caps.exclusive:
        if group <= features:
            flags = " with ".join(_flag(_FEATURE_OPTIONS[f], opts) for f in sorted(group))
            return f"{flags}: {model}{by} cannot combine them; use one"
    try:
        wire, _ = _catalog.choose_wire(model, job.api or api)  # type: ignore[arg-type]
    except ValidationError:
        return None  # each job says so (it names the row's api)
    if wire == "new":
        # elements go on the new API too (kling-3.0 image to video: contents of type element)
        legacy_only = {"negative_prompt", "cfg_scale", "camera", "multi_prompt"}
        for option in sorted(used & legacy_only):
            legacy = _catalog.FAMILY_NAMES[_catalog.family_of(model)].get("legacy")
            use = f"; use --model {legacy} (the legacy API) for it" if legacy else ""
            return (
                f"{_flag(option, opts)}: the new API (model {model}{by}) has no field for it{use}"
            )
    return None
