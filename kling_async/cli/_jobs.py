"""Turning command-line input into jobs: image files and folders, manifests (CSV or JSON
Lines) with one row per image, and the flags that fill in what a row leaves out."""

from __future__ import annotations

import csv
import fnmatch
import io
import json
import string
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any, TextIO

import attrs
import click

from .. import _catalog
from ..errors import ValidationError
from ..models import CAMERA_PRESETS, CameraControl, ImageToVideo, Shot, TextToVideo

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg")
#: Manifest columns and the request field each fills.
COLUMNS = {
    "image": "image",
    "prompt": "prompt",
    "negative_prompt": "negative_prompt",
    "end_frame": "image_tail",
    "camera": "camera_control",
    "model": "model",
    "mode": "mode",
    "duration": "duration",
    "external_id": "external_task_id",
    "cfg_scale": "cfg_scale",
    "api": "api",
    "aspect_ratio": "aspect_ratio",
}
#: Job fields that only image to video has (left out of a text-to-video row's job).
IMAGE_ONLY_FIELDS = frozenset(
    {"image", "image_tail", "static_mask", "dynamic_masks", "elements", "camera_control"}
)
#: Camera presets image to video can take: the ``simple`` moves (the named types such as
#: ``forward_up`` are text to video only).
IMAGE_CAMERA_PRESETS = tuple(n for n, move in CAMERA_PRESETS.items() if isinstance(move, tuple))
#: Models named in help texts: the live ones of Kling's 2026 map.
LIVE_MODELS = "kling-v2-6 (default), kling-v2-5-turbo, kling-v3, kling-3.0-turbo, kling-3.0"


@attrs.frozen
class BadRow:
    """An input that could not become a job: where it is and why."""

    source: str
    reason: str


def find_images(paths: list[Path], recursive: bool) -> Iterator[Path]:
    """Image files named directly, and those inside named folders, in a stable order."""
    yield from (path for path, _ in scan(paths, recursive)[0])


def _matches(relative: Path, patterns: tuple[str, ...]) -> bool:
    """``relative`` (to the folder named) or its file name matches one of the globs."""
    text = relative.as_posix()
    return any(fnmatch.fnmatch(text, g) or fnmatch.fnmatch(relative.name, g) for g in patterns)


def scan(
    paths: list[Path],
    recursive: bool,
    include: tuple[str, ...] = (),
    exclude: tuple[str, ...] = (),
    skip: Path | None = None,
) -> tuple[list[tuple[Path, str]], list[str]]:
    """Image files named directly and inside named folders, in a stable order, each with its
    sub-folder relative to the folder named (``""`` at the top, and for files named directly);
    and a note per kind of thing left out: files that are not JPG/PNG, sub-folders without
    ``-r``, files ``--include``/``--exclude`` leave out (globs on the path relative to the
    folder named, or on the file name; files named directly are always taken). ``skip`` (the
    output folder) is never looked into."""
    found: list[tuple[Path, str]] = []
    other: list[Path] = []
    folders: list[Path] = []
    filtered: list[Path] = []
    for path in paths:
        if not path.is_dir():
            found.append((path, ""))  # named on purpose: validation says if it cannot be used
            continue
        entries = sorted(path.rglob("*") if recursive else path.glob("*"))
        left_out: list[Path] = []  # the output folder, when it is inside an input folder
        for entry in entries:
            relative = entry.relative_to(path)
            if any(part.startswith(".") for part in relative.parts):
                continue  # hidden files (.DS_Store, the journal) are nobody's input
            if any(entry.is_relative_to(d) for d in left_out):
                continue
            if entry.is_dir():
                if skip is not None and entry.resolve() == skip.resolve():
                    left_out.append(entry)
                elif not recursive:
                    folders.append(entry)
            elif entry.suffix.lower() in IMAGE_SUFFIXES:
                if (include and not _matches(relative, include)) or _matches(relative, exclude):
                    filtered.append(entry)
                else:
                    sub = relative.parent
                    found.append((entry, "" if sub == Path(".") else sub.as_posix()))
            elif entry.is_file():
                other.append(entry)
    notes = []
    if other:
        kinds = sorted({p.suffix.lower() or "(no suffix)" for p in other})
        notes.append(
            f"{len(other)} file(s) that are not JPG or PNG ({', '.join(kinds)}: "
            f"{_some(other)}): Kling takes .jpg, .jpeg and .png only; convert them to include them"
        )
    if folders:
        notes.append(f"{len(folders)} sub-folder(s) ({_some(folders)}): add -r to include them")
    if filtered:
        notes.append(
            f"{len(filtered)} image(s) left out by --include/--exclude ({_some(filtered)})"
        )
    return found, notes


def _some(paths: list[Path], shown: int = 3) -> str:
    names = [p.name for p in paths[:shown]]
    more = len(paths) - shown
    return ", ".join(names) + (f" and {more} more" if more > 0 else "")


def camera(value: str) -> CameraControl:
    """A camera preset name (``zoom_in``...) as a ``CameraControl``."""
    if value not in CAMERA_PRESETS:
        raise ValidationError(
            "camera", value, f"unknown preset; choose from {', '.join(CAMERA_PRESETS)}"
        )
    return CameraControl.preset(value)


def _fields_from_row(row: dict[str, Any], base: Path) -> dict[str, Any]:
    unknown = sorted(k for k in row if k not in COLUMNS and row[k] not in (None, ""))
    if unknown:
        raise ValidationError("columns", unknown, f"unknown; known: {', '.join(COLUMNS)}")
    fields: dict[str, Any] = {}
    for column, field in COLUMNS.items():
        value = row.get(column)
        if value is None or (isinstance(value, str) and not value.strip()):
            continue
        if isinstance(value, str) and "\x00" in value:
            raise ValidationError(column, value, "contains a NUL character")
        if not isinstance(value, str | int | float) or isinstance(value, bool):
            raise ValidationError(column, value, "must be a string or a number")
        if column in ("image", "end_frame"):
            text = str(value).strip()
            is_url = text.startswith(("http://", "https://"))
            fields[field] = text if is_url else base / text
        elif column == "camera":
            fields[field] = camera(str(value).strip())
        elif column == "duration":
            try:
                fields[field] = int(str(value).strip())
            except ValueError:
                raise ValidationError(
                    "duration", value, "must be a whole number of seconds"
                ) from None
        elif column == "cfg_scale":
            try:
                fields[field] = float(value)
            except (TypeError, ValueError):
                raise ValidationError("cfg_scale", value, "must be a number from 0 to 1") from None
        else:
            fields[field] = str(value).strip()
    if "image" not in fields and "image_tail" not in fields and "prompt" not in fields:
        raise ValidationError(
            "image", None, "every row needs an image, or a prompt for a text-to-video row"
        )
    return fields


def read_manifest(path: Path) -> Iterator[tuple[str, dict[str, Any]] | BadRow]:
    """Rows of a CSV (with a header) or JSON Lines manifest, as (where, fields) or BadRow.
    ``-`` reads standard input (JSON Lines if it starts with ``{``, else CSV; image paths
    relative to the current folder)."""
    if str(path) == "-":
        text = sys.stdin.read()
        jsonl = text.lstrip().startswith("{")
        yield from _manifest_rows(io.StringIO(text, newline=""), "stdin", Path.cwd(), jsonl)
        return
    jsonl = path.suffix.lower() in (".jsonl", ".ndjson", ".json")
    with path.open(encoding="utf-8", newline=None if jsonl else "") as f:
        yield from _manifest_rows(f, path.name, path.parent, jsonl)


def _manifest_rows(
    f: TextIO, name: str, base: Path, jsonl: bool
) -> Iterator[tuple[str, dict[str, Any]] | BadRow]:
    if jsonl:
        for number, line in enumerate(f, 1):
            where = f"{name}:{number}"
            if not line.strip():
                continue
            try:
                row = json.loads(line)
                if not isinstance(row, dict):
                    raise ValueError("a row must be a JSON object")
                yield where, _fields_from_row(row, base)
            except ValueError as exc:  # JSONDecodeError and ValidationError are ValueErrors
                yield BadRow(where, str(exc))
            except RecursionError:
                yield BadRow(where, "nested too deeply to be a manifest row")
        return
    reader = csv.DictReader(f)
    header = reader.fieldnames or []
    if "image" not in header and "end_frame" not in header:
        yield BadRow(name, "a CSV manifest needs a header row with an 'image' column")
        return
    number = 1
    while True:
        number += 1
        where = f"{name}:{number}"
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:  # e.g. a cell over the csv module's size limit
            yield BadRow(where, f"not a CSV row: {exc}")
            continue
        if None in row:  # more cells than header columns
            yield BadRow(where, f"{len(row[None])} cell(s) more than the header has")
            continue
        try:
            yield where, _fields_from_row(dict(row), base)
        except ValueError as exc:
            yield BadRow(where, str(exc))


def read_shots(path: Path) -> tuple[Shot, ...]:
    """A multi-shot script: a JSON list of ``{"prompt", "duration"}`` objects, or a text file
    with one shot a line, ``<seconds> <prompt>`` (blank lines and ``#`` comments skipped)."""
    text = path.read_text(encoding="utf-8")
    if path.suffix.lower() == ".json":
        try:
            items = json.loads(text)
        except ValueError as exc:
            raise ValidationError("multi_prompt", str(path), f"not valid JSON: {exc}") from None
        if not isinstance(items, list) or not all(isinstance(i, dict) for i in items):
            raise ValidationError(
                "multi_prompt", str(path), 'must be a JSON list of {"prompt", "duration"}'
            )
        return tuple(Shot(i.get("prompt"), i.get("duration")) for i in items)
    shots = []
    for number, line in enumerate(text.splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        seconds, _, prompt = line.partition(" ")
        if not seconds.isdigit() or not prompt.strip():
            raise ValidationError(
                f"multi_prompt ({path.name}:{number})",
                line,
                "each line is '<seconds> <prompt>', e.g. '3 a wide shot of the harbour'",
            )
        shots.append(Shot(prompt.strip(), int(seconds)))
    return tuple(shots)


def build_job(defaults: dict[str, Any], fields: dict[str, Any]) -> ImageToVideo | TextToVideo:
    """A job from the flags' defaults and a row's own values (the row wins). A row with a
    prompt and neither ``image`` nor ``end_frame`` is text to video: the image-only flags
    (``--end-frame``, ``--element``, ``--camera``) do not apply to it."""
    text = "image" not in fields and "image_tail" not in fields
    merged = {**defaults, **fields}
    try:
        if text:
            kept = {k: v for k, v in merged.items() if k not in IMAGE_ONLY_FIELDS}
            return TextToVideo(**kept)
        if "aspect_ratio" in fields:
            raise ValidationError(
                "aspect_ratio",
                fields["aspect_ratio"],
                "only a text-to-video row (no image) takes one; an image sets its own",
            )
        merged.pop("aspect_ratio", None)
        return ImageToVideo(**merged)
    except ValidationError:
        raise
    except (TypeError, ValueError) as exc:
        raise ValidationError("row", sorted(fields), str(exc)) from None


@attrs.frozen
class Input:
    """One job to make, where it came from, and which of its fields the options filled in
    (the rest came from its manifest row)."""

    source: str
    job: ImageToVideo | TextToVideo
    from_options: frozenset[str]
    #: Its sub-folder under the folder named on the command line ("" at the top).
    folder: str = ""


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
#: The job field each of those options fills.
_OPTION_FIELDS = {
    "camera": "camera_control",
    "end_frame": "image_tail",
    "sound": "sound",
    "voice": "voices",
    "multi_prompt": "multi_prompt",
    "element": "elements",
    "negative_prompt": "negative_prompt",
    "cfg_scale": "cfg_scale",
    "model": "model",
    "mode": "mode",
    "duration": "duration",
}


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
    used = {o for o in given if o in _OPTION_FIELDS and opts.get(o) not in (None, (), False)}
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
        legacy_only = {"negative_prompt", "cfg_scale", "camera", "multi_prompt", "element"}
        for option in sorted(used & legacy_only):
            legacy = _catalog.FAMILY_NAMES[_catalog.family_of(model)].get("legacy")
            use = f"; use --model {legacy} (the legacy API) for it" if legacy else ""
            return (
                f"{_flag(option, opts)}: the new API (model {model}{by}) has no field for it{use}"
            )
    return None


def make_input(
    source: str, defaults: dict[str, Any], fields: dict[str, Any], folder: str = ""
) -> Input:
    """A job from the options' defaults and a row's own fields, remembering which options it
    took (raises ``ValidationError``)."""
    job = build_job(defaults, fields)
    image = isinstance(job, ImageToVideo)
    given = frozenset(
        o
        for o, f in _OPTION_FIELDS.items()
        if f not in fields and (image or f not in IMAGE_ONLY_FIELDS)
    )
    return Input(source, job, given, folder)


#: What ``--name`` may use: ``{stem}`` (the image's name without suffix), ``{name}`` (with
#: it), ``{folder}`` (its sub-folder under the folder named, "" at the top), ``{index}`` (its
#: place among the inputs, from 1; ``{index:04d}`` pads), ``{model}``, ``{mode}``,
#: ``{duration}``.
PLACEHOLDERS = ("stem", "name", "folder", "index", "model", "mode", "duration")


def check_template(template: str) -> str:
    """A ``--name`` template, checked (placeholders known, format specs valid), without a
    trailing ``.mp4``. Raises ``click.BadParameter``."""
    try:
        fields = [f for _, f, _, _ in string.Formatter().parse(template) if f is not None]
    except ValueError as exc:
        raise click.BadParameter(f"{template!r}: {exc}", param_hint="'--name'") from None
    known = ", ".join("{" + p + "}" for p in PLACEHOLDERS)
    for field in fields:
        if field not in PLACEHOLDERS:
            shown = "{" + field + "}" if field else "{}"
            raise click.BadParameter(
                f"{template!r}: unknown placeholder {shown}; known: {known}",
                param_hint="'--name'",
            )
    if not fields:
        raise click.BadParameter(
            f"{template!r}: would give every video the same name; use a placeholder ({known})",
            param_hint="'--name'",
        )
    sample = dict.fromkeys(PLACEHOLDERS, "x") | {"index": 1, "duration": 5}
    try:
        template.format(**sample)
    except (ValueError, TypeError, IndexError) as exc:
        raise click.BadParameter(f"{template!r}: {exc}", param_hint="'--name'") from None
    return template[: -len(".mp4")] if template.lower().endswith(".mp4") else template


def safe_part(text: str) -> str:
    """One path component, file-system safe (as the batch names its videos)."""
    safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in text).strip("._")
    return safe.encode("utf-8")[:200].decode("utf-8", "ignore").rstrip("._")


def output_name(item: Input, index: int, template: str | None) -> str | None:
    """Where an input's video goes, relative to the output folder and without ``.mp4``:
    ``<sub-folder>/<stem>`` by default (``-r`` mirrors sub-folders), or the ``--name``
    template filled in. Every component is made file-system safe; none can climb out. None:
    the batch's own name (an image given by URL, without a template)."""
    job = item.job
    image = getattr(job, "image", None) or getattr(job, "image_tail", None)
    if isinstance(image, Path):
        stem, name = image.stem, image.name
    elif isinstance(job, TextToVideo):  # a manifest row: "<manifest>-<line>"
        where, _, line = item.source.rpartition(":")
        stem = name = f"{Path(where).stem}-{line}" if where else item.source
    elif template is None:
        return None
    else:
        stem = name = item.source
    if template is None:
        text = f"{item.folder}/{stem}" if item.folder else stem
    else:
        text = template.format(
            stem=stem,
            name=name,
            folder=item.folder,
            index=index,
            model=job.model,
            mode=job.mode,
            duration=job.duration,
        )
    parts = [safe_part(p) for p in text.replace("\\", "/").split("/")]
    return "/".join(p for p in parts if p) or f"video-{index}"
