"""The manifest's columns, defined once as data: each column's name, the request field it
fills, how a cell is read, and its format in words. The parser (``manifest``), the kind of
job a row makes (``jobs``) and the docs' column table (``docs_table``) all come from
``COLUMNS``; the kinds a column applies to are the request types that have its field."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, cast

import attrs

from ...errors import ValidationError
from ...image_requests import ImageGeneration
from ...models import (
    CAMERA_PRESETS,
    CameraControl,
    DynamicMask,
    Element,
    ElementKind,
    ImageToVideo,
    Point,
    Shot,
    TextToVideo,
    Voice,
)
from ...validation import AnyRequest
from ...video_requests import (
    MotionControl,
    OmniVideo,
    ReferenceImage,
    ReferenceVideo,
    VideoRole,
)
from .shots import shot_of

#: A row's ``kind`` -> the request type it makes.
KINDS: dict[str, type[AnyRequest]] = {
    "image2video": ImageToVideo,
    "text2video": TextToVideo,
    "omni_video": OmniVideo,
    "motion_control": MotionControl,
    "images": ImageGeneration,
}
#: The column that chooses a row's kind (it fills no field).
KIND = "kind"
#: What separates the items of a list in a CSV cell.
SEPARATOR = ";"

Cell = Any  # a CSV cell is text; a JSON Lines value is text, a number, a bool, a list, a map
Reader = Callable[[str, Cell, Path], Any]


def camera(value: str) -> CameraControl:
    """A camera preset name (``zoom_in``...) as a ``CameraControl``."""
    if value not in CAMERA_PRESETS:
        raise ValidationError(
            "camera", value, f"unknown preset; choose from {', '.join(CAMERA_PRESETS)}"
        )
    return CameraControl.preset(value)


# -- cell readers: (column, cell, the manifest's folder) -> the field's value ------------


def _text(column: str, cell: Cell, base: Path) -> str:
    if isinstance(cell, bool) or not isinstance(cell, str | int | float):
        raise ValidationError(column, cell, "must be text (a string or a number)")
    if isinstance(cell, str) and "\x00" in cell:
        raise ValidationError(column, cell, "contains a NUL character")
    return str(cell).strip()


def _image(column: str, cell: Cell, base: Path) -> str | Path:
    text = _text(column, cell, base)
    return text if text.startswith(("http://", "https://")) else base / text


def _url(column: str, cell: Cell, base: Path) -> str:
    text = _text(column, cell, base)
    if not text.startswith(("http://", "https://")):
        raise ValidationError(column, text, "must be an http(s) URL")
    return text


def _integer(column: str, cell: Cell, base: Path) -> int:
    if isinstance(cell, int) and not isinstance(cell, bool):
        return cell
    text = _text(column, cell, base)
    if not text.isdigit():
        raise ValidationError(column, cell, "must be a whole number")
    return int(text)


def _number(column: str, cell: Cell, base: Path) -> float:
    try:
        return float(_text(column, cell, base))
    except ValueError:
        raise ValidationError(column, cell, "must be a number") from None


_TRUE = ("true", "yes", "1", "on")
_FALSE = ("false", "no", "0", "off")


def _boolean(column: str, cell: Cell, base: Path) -> bool:
    if isinstance(cell, bool):
        return cell
    text = _text(column, cell, base).lower()
    if text not in _TRUE + _FALSE:
        raise ValidationError(column, cell, f"must be true or false ({'/'.join(_TRUE + _FALSE)})")
    return text in _TRUE


def _camera(column: str, cell: Cell, base: Path) -> CameraControl:
    return camera(_text(column, cell, base))


def _items(column: str, cell: Cell, base: Path) -> list[Any]:
    """A list: a JSON list as it is, a text split at ``;`` (empty parts left out)."""
    if isinstance(cell, list):
        return cell
    text = _text(column, cell, base)
    return [part.strip() for part in text.split(SEPARATOR) if part.strip()]


def _labelled(column: str, item: Any, key: str) -> tuple[str, str | None]:
    """An ``id`` or ``id:label`` (or, in JSON, ``{key: id, "id": label}``)."""
    if isinstance(item, Mapping):
        ident, label = item.get(key), item.get("id")
    elif isinstance(item, bool) or not isinstance(item, str | int):
        ident, label = None, None
    else:
        ident, _, label = str(item).partition(":")
    if isinstance(ident, bool) or not isinstance(ident, str | int) or not str(ident).strip():
        raise ValidationError(column, item, f"each is an id or 'id:label' (or {{{key!r}, 'id'}})")
    return str(ident).strip(), (str(label).strip() or None) if label is not None else None


def _voices(column: str, cell: Cell, base: Path) -> tuple[str | Voice, ...]:
    out: list[str | Voice] = []
    for item in _items(column, cell, base):
        ident, label = _labelled(column, item, "voice_id")
        out.append(Voice(ident, label) if label else ident)
    return tuple(out)


def _elements(column: str, cell: Cell, base: Path) -> tuple[int | str | Element, ...]:
    out: list[int | str | Element] = []
    for item in _items(column, cell, base):
        ident, label = _labelled(column, item, "element_id")
        number: int | str = int(ident) if ident.isdigit() else ident
        kind = item.get("kind", "image") if isinstance(item, Mapping) else "image"
        if kind not in ("image", "video"):
            raise ValidationError(column, item, "an element's kind is image or video")
        out.append(
            Element(number, label, cast(ElementKind, kind)) if label or kind != "image" else number
        )
    return tuple(out)


def _shots(column: str, cell: Cell, base: Path) -> tuple[Shot, ...]:
    if isinstance(cell, list):
        shots = []
        for item in cell:
            if isinstance(item, Mapping):
                shots.append(Shot(item.get("prompt"), item.get("duration")))  # type: ignore[arg-type]
            else:
                shots.append(shot_of(_text(column, item, base), column))
        return tuple(shots)
    text = _text(column, cell, base).replace("\n", SEPARATOR)
    return tuple(shot_of(part, column) for part in text.split(SEPARATOR) if part.strip())


def _references(column: str, cell: Cell, base: Path) -> tuple[str | Path | ReferenceImage, ...]:
    out: list[str | Path | ReferenceImage] = []
    for item in _items(column, cell, base):
        if isinstance(item, Mapping):
            label = item.get("id")
            out.append(ReferenceImage(_image(column, item.get("image"), base), label))
        else:
            out.append(_image(column, item, base))
    return tuple(out)


def _json(column: str, cell: Cell, base: Path) -> Any:
    if isinstance(cell, dict | list):
        return cell
    try:
        return json.loads(_text(column, cell, base))
    except ValueError:
        raise ValidationError(column, cell, "must be JSON") from None


def _json_object(column: str, cell: Cell, base: Path) -> dict[str, Any]:
    value = _json(column, cell, base)
    if not isinstance(value, dict):
        raise ValidationError(column, cell, "must be a JSON object")
    return value


def _json_objects(column: str, cell: Cell, base: Path) -> tuple[dict[str, Any], ...]:
    value = _json(column, cell, base)
    items = [value] if isinstance(value, dict) else value
    if not isinstance(items, list) or not all(isinstance(i, dict) for i in items):
        raise ValidationError(column, cell, "must be a JSON object or a list of them")
    return tuple(items)


def _masks(column: str, cell: Cell, base: Path) -> tuple[DynamicMask, ...]:
    rule = 'a JSON list of {"mask": path, "trajectories": [[x, y], ...]}'
    value = _json(column, cell, base)
    if not isinstance(value, list):
        raise ValidationError(column, cell, rule)
    masks = []
    for item in value:
        points = item.get("trajectories") if isinstance(item, dict) else None
        if not isinstance(points, list) or not all(
            isinstance(p, list) and len(p) == 2 for p in points
        ):
            raise ValidationError(column, item, rule)
        mask = _image(column, item.get("mask"), base)
        masks.append(DynamicMask(mask, tuple(Point(x, y) for x, y in points)))
    return tuple(masks)


# -- the table ---------------------------------------------------------------------------


@attrs.frozen
class Column:
    """A manifest column: how a cell is read, its format, and the request field it fills
    (by default the field of the column's own name)."""

    name: str
    read: Reader
    format: str
    field: str = attrs.field(
        kw_only=True, default=attrs.Factory(lambda self: self.name, takes_self=True)
    )

    @property
    def kinds(self) -> tuple[str, ...]:
        """The kinds of row that take it: those whose request type has its field."""
        if self.name == KIND:
            return tuple(KINDS)
        return tuple(k for k, cls in KINDS.items() if self.field in attrs.fields_dict(cls))


_PATH = "a path (relative to the manifest) or an http(s) URL"
_LIST = f"`{SEPARATOR}`-separated in CSV, a list in JSON Lines"
_BOOL = "true or false (also yes/no, 1/0)"

#: Every manifest column, in the order the docs list them.
COLUMNS: tuple[Column, ...] = (
    Column(
        KIND,
        _text,
        f"one of {', '.join(KINDS)}; default: image2video with an `image` or "
        "`end_frame`, else text2video",
        field="",
    ),
    # what every video is made of
    Column("prompt", _text, "text"),
    Column("negative_prompt", _text, "text"),
    Column(
        "model",
        _text,
        "a model name; default: the kind's own (`--model` for image2video/text2video)",
    ),
    Column("mode", _text, "std, pro or 4k"),
    Column("duration", _integer, "whole seconds"),
    # image to video's images and moves
    Column("image", _image, _PATH),
    Column("end_frame", _image, _PATH, field="image_tail"),
    Column("static_mask", _image, _PATH),
    Column(
        "dynamic_masks",
        _masks,
        'JSON: `[{"mask": path, "trajectories": [[x, y], ...]}]` (Kling\'s bottom-left origin)',
    ),
    Column(
        "camera",
        _camera,
        "a preset: zoom_in, pan_left, tilt_up... (`--camera`'s names)",
        field="camera_control",
    ),
    # the picture and the sound
    Column("aspect_ratio", _text, "16:9, 9:16, 1:1 (images: also 4:3, 3:4, 3:2, 2:3, 21:9)"),
    Column("cfg_scale", _number, "a number from 0 to 1"),
    Column("sound", _boolean, _BOOL),
    Column("voices", _voices, f"voice ids, each `id` or `id:label`; {_LIST}"),
    # shots and elements
    Column("multi_shot", _boolean, _BOOL),
    Column("shot_type", _text, "customize or intelligence"),
    Column(
        "multi_prompt",
        _shots,
        "shots, each `<seconds> <prompt>`, "
        f"`{SEPARATOR}`-separated (`3 a wide shot; 2 a close-up`); in JSON Lines also a "
        'list of `{"prompt", "duration"}`',
    ),
    Column("elements", _elements, f"element ids, each `id` or `id:label`; {_LIST}"),
    # omni video
    Column("first_frame", _image, _PATH),
    Column("last_frame", _image, _PATH),
    Column(
        "images",
        _references,
        f'reference images, each {_PATH}; {_LIST} (JSON: also `{{"image", "id"}}` for a label)',
    ),
    Column("video", _url, "the reference video's http(s) URL"),
    Column("video_role", _text, "feature (default) or base: what `video` is", field="video"),
    Column("audio", _text, "native, original or off"),
    # motion control
    Column("video_url", _url, "the motion's video, an http(s) URL"),
    Column("character_orientation", _text, "image or video"),
    Column("keep_original_sound", _boolean, _BOOL),
    # image generation
    Column("image_reference", _text, "subject or face"),
    Column("image_fidelity", _number, "a number from 0 to 1"),
    Column("human_fidelity", _number, "a number from 0 to 1"),
    Column("resolution", _text, "1k or 2k"),
    Column("n", _integer, "how many images, 1 to 9"),
    # every create
    Column("watermark", _boolean, _BOOL),
    Column("callback_url", _text, "an http(s) URL Kling posts updates to"),
    Column("external_id", _text, "your own id for the job", field="external_task_id"),
    Column("api", _text, "auto, legacy or new"),
    # forward compatibility, merged last into the body as given
    Column("extra_contents", _json_objects, "JSON: an object or a list"),
    Column("extra_settings", _json_object, "JSON object"),
    Column("extra_options", _json_object, "JSON object"),
    Column("extra_body", _json_object, "JSON object"),
)
#: Column name -> column.
BY_NAME = {column.name: column for column in COLUMNS}


def infer_kind(fields: Mapping[str, Any]) -> str:
    """The kind of a row without a ``kind`` column: image to video with an image or an end
    frame, else text to video."""
    return "image2video" if "image" in fields or "image_tail" in fields else "text2video"


def read_row(row: Mapping[str, Cell], base: Path) -> dict[str, Any]:
    """A manifest row's request fields (and ``kind``, when given), each cell read by its
    column. Raises ``ValidationError`` naming the column, the value and the rule."""
    given = {
        k: v for k, v in row.items() if v is not None and not (isinstance(v, str) and not v.strip())
    }
    unknown = sorted(str(k) for k in given if k not in BY_NAME)
    if unknown:
        raise ValidationError("columns", unknown, f"unknown; known: {', '.join(BY_NAME)}")
    fields: dict[str, Any] = {}
    for name, cell in given.items():
        column = BY_NAME[name]
        value = column.read(name, cell, base)
        if name in (KIND, "video_role"):
            continue
        fields[column.field] = value
    kind = _text(KIND, given[KIND], base) if KIND in given else None
    if kind is not None and kind not in KINDS:
        raise ValidationError(KIND, kind, f"must be one of {', '.join(KINDS)}")
    if "video_role" in given:
        if "video" not in fields:
            raise ValidationError("video_role", given["video_role"], "needs a video column")
        role = _text("video_role", given["video_role"], base)
        if role not in ("feature", "base"):
            raise ValidationError("video_role", role, "must be feature or base")
        fields["video"] = ReferenceVideo(fields["video"], cast(VideoRole, role))
    elif "video" in fields:
        fields["video"] = ReferenceVideo(fields["video"])
    chosen = kind or infer_kind(fields)
    takes = attrs.fields_dict(KINDS[chosen])
    for name in given:
        column = BY_NAME[name]
        if name != KIND and column.field not in takes:
            raise ValidationError(name, given[name], _not_taken(name, chosen, kind is None))
    if kind is None and not {"image", "image_tail", "prompt", "multi_prompt"} & set(fields):
        raise ValidationError(
            "image", None, "every row needs an image, or a prompt for a text-to-video row"
        )
    if kind is not None:
        fields[KIND] = kind
    return fields


def _not_taken(name: str, kind: str, inferred: bool) -> str:
    """Why a row of ``kind`` cannot have column ``name``."""
    if inferred and kind == "image2video" and name == "aspect_ratio":
        return "only a text-to-video row (no image) takes one; an image sets its own"
    rows = ", ".join(BY_NAME[name].kinds)
    why = f" (a row {'with' if kind == 'image2video' else 'without'} an image and no kind)"
    return f"{kind} rows{why if inferred else ''} take none; it is for {rows} rows" + (
        " (give a kind column)" if inferred else ""
    )


def docs_table() -> str:
    """The docs' table of columns (docs/cli.md holds it; a test checks they agree)."""
    lines = ["| column | request field | kinds | format |", "|---|---|---|---|"]
    for column in COLUMNS:
        field = f"`{column.field}`" if column.field else "—"
        kinds = ", ".join(column.kinds) if column.name != KIND else "all"
        lines.append(f"| `{column.name}` | {field} | {kinds} | {column.format} |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":  # python -m kling_async.cli.inputs.columns: the docs' table
    print(docs_table(), end="")
