"""A job as the queue carries it: plain JSON, and back — every kind a local batch runs.

One walk over the job's attrs fields, typed by their declarations: a field declared an
image (``ImageInput`` or ``ImageRef``: frames, masks, reference images, a character...)
travels as what it is: a file path (made absolute: workers read it from storage they share
with the enqueuer, as they write videos to a shared folder), an http(s) URL or other text,
or base64 bytes. A field declared a ``Mapping`` (the ``extra_*`` fields) travels as the JSON
it is sent as. A nested attrs object (a camera move, a shot, an element, a voice, a motion
brush stroke and its points, a reference image or video) travels tagged with its class, so a
field that takes several (``int | str | Element``) gets back what it was given. The job's
identity (its content hash) is the same on both sides, so the queue's job key, the store's
record and the external id all agree.
"""

from __future__ import annotations

import base64
import binascii
import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any, TypeAlias

import attrs

from .. import models
from .._images import locate
from ..errors import ValidationError
from ..image_requests import ImageGeneration
from ..validation import AnyRequest
from ..video_requests import MotionControl, OmniVideo, ReferenceImage, ReferenceVideo

#: What the queue carries: every kind of job a local batch runs.
Job: TypeAlias = AnyRequest
_KINDS: dict[str, type[Job]] = {
    cls.__name__: cls
    for cls in (models.ImageToVideo, models.TextToVideo, OmniVideo, MotionControl, ImageGeneration)
}
#: The attrs objects a job's fields may hold, by the tag they travel under.
_PARTS: dict[str, type] = {
    cls.__name__: cls
    for cls in (
        models.CameraControl,
        models.CameraConfig,
        models.DynamicMask,
        models.Point,
        models.Shot,
        models.Voice,
        models.Element,
        ReferenceImage,
        ReferenceVideo,
    )
}
#: The key naming a nested object's class.
_TAG = "@"
#: Objects 0.1's workers queued without a tag (``camera_control`` and its ``config``, the
#: shots of ``multi_prompt``), by where they stand: a job queued before an upgrade still runs.
_UNTAGGED: dict[str, type] = {
    "camera_control": models.CameraControl,
    "camera_control.config": models.CameraConfig,
    "multi_prompt": models.Shot,
}
#: A field declared to hold an image (or images), and one holding JSON sent as given.
_IMAGE_TYPE = re.compile(r"\bImage(Input|Ref)\b")
_JSON_TYPE = re.compile(r"\bMapping\b")


def _role(field: attrs.Attribute[Any]) -> str:
    """How a field travels: ``image``, ``json`` or ``value`` (by its declared type)."""
    declared = field.type if isinstance(field.type, str) else repr(field.type)
    if _IMAGE_TYPE.search(declared):
        return "image"
    return "json" if _JSON_TYPE.search(declared) else "value"


def _is_default(field: attrs.Attribute[Any], value: Any) -> bool:
    default = field.default
    if default is attrs.NOTHING or isinstance(default, attrs.Factory):  # type: ignore[arg-type]
        return False
    return type(value) is type(default) and bool(value == default)


# -- out -----------------------------------------------------------------------------------


def _image_out(where: str, value: Any) -> Any:
    if attrs.has(type(value)):  # a reference image: its own fields say what they hold
        return _object_out(where, value)
    if isinstance(value, os.PathLike):
        return {"path": str(Path(value).absolute())}
    if isinstance(value, bytes | bytearray):
        return {"base64": base64.b64encode(bytes(value)).decode()}
    if isinstance(value, str):
        source = locate(where, value)  # a path given as text is made absolute too
        relative = source.kind == "file" and not Path(value).is_absolute()
        return {"text": str(Path(value).absolute()) if relative else value}
    raise ValidationError(where, type(value).__name__, "cannot be sent to a worker")


def _value_out(where: str, value: Any, role: str) -> Any:
    if isinstance(value, tuple | list) and role != "json":
        return [_value_out(f"{where}[{i}]", item, role) for i, item in enumerate(value)]
    if role == "image":
        return _image_out(where, value)
    if role == "json":
        return _json_out(value)
    if attrs.has(type(value)):
        return _object_out(where, value)
    if value is None or isinstance(value, bool | int | float | str):
        return value
    raise ValidationError(where, type(value).__name__, "cannot be sent to a worker")


def _json_out(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {str(k): _json_out(v) for k, v in value.items()}
    if isinstance(value, tuple | list):
        return [_json_out(v) for v in value]
    return value


def _fields_out(where: str, value: Any) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for field in attrs.fields(type(value)):
        item = getattr(value, field.name)
        if not _is_default(field, item):
            name = f"{where}.{field.name}" if where else field.name
            out[field.name] = _value_out(name, item, _role(field))
    return out


def _object_out(where: str, value: Any) -> dict[str, Any]:
    tag = type(value).__name__
    if _PARTS.get(tag) is not type(value):
        raise ValidationError(where, tag, "cannot be sent to a worker")
    return {_TAG: tag, **_fields_out(where, value)}


def dump_job(job: Job) -> dict[str, Any]:
    """The job as JSON-ready data (``load_job`` makes it again), any kind a local batch runs;
    a value that cannot travel (not a path, bytes or text where an image goes) is a
    ``ValidationError`` naming its field."""
    kind = type(job).__name__
    if _KINDS.get(kind) is not type(job):
        raise ValidationError("job", kind, f"must be one of {', '.join(_KINDS)}")
    return {"kind": kind, **_fields_out("", job)}


# -- in ------------------------------------------------------------------------------------


def _image_in(where: str, value: Any) -> Any:
    if isinstance(value, Mapping) and _TAG in value:
        return _object_in(where, value)
    if isinstance(value, Mapping) and len(value) == 1:
        if "path" in value:
            return Path(value["path"])
        if "base64" in value:
            try:
                return base64.b64decode(value["base64"], validate=True)
            except (binascii.Error, ValueError, TypeError):
                raise ValidationError(where, "...", "is not valid base64") from None
        if "text" in value:
            return value["text"]
    raise ValidationError(where, _short(value), "is not an image dump_job wrote")


def _value_in(where: str, value: Any, role: str) -> Any:
    if role == "json":
        return value
    if isinstance(value, list):
        return tuple(_value_in(f"{where}[{i}]", item, role) for i, item in enumerate(value))
    if role == "image":
        return _image_in(where, value)
    if isinstance(value, Mapping):
        return _object_in(where, value)
    return value


def _build(where: str, cls: type, data: Mapping[str, Any]) -> Any:
    declared = {field.name: field for field in attrs.fields(cls)}
    values: dict[str, Any] = {}
    for name, item in data.items():
        field = declared.get(name)
        if field is None:
            raise ValidationError(
                f"{where}.{name}" if where else name, _short(item), "no such field"
            )
        values[name] = _value_in(f"{where}.{name}" if where else name, item, _role(field))
    try:
        return cls(**values)
    except (TypeError, ValueError) as exc:
        raise ValidationError(where or "job", cls.__name__, f"cannot be rebuilt: {exc}") from None


def _object_in(where: str, value: Mapping[str, Any]) -> Any:
    fields = dict(value)
    tag = fields.pop(_TAG, None)
    cls = _PARTS.get(str(tag)) if tag is not None else _UNTAGGED.get(re.sub(r"\[\d+\]", "", where))
    if cls is None:
        raise ValidationError(where, _short(value), "is not an object dump_job wrote")
    return _build(where, cls, fields)


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def load_job(data: dict[str, Any]) -> Job:
    """The job ``dump_job`` made; raises ``ValidationError`` for data it did not make."""
    fields = dict(data)
    kind = fields.pop("kind", None)
    cls = _KINDS.get(str(kind))
    if cls is None:
        raise ValidationError("kind", kind, f"must be one of {', '.join(_KINDS)}")
    job: Job = _build("", cls, fields)
    return job
