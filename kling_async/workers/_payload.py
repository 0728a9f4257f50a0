"""A job as the queue carries it: plain JSON, and back.

Images travel as what they are: a file path (made absolute: workers read it from storage they
share with the enqueuer, as they write videos to a shared folder), an http(s) URL, or base64
text. The job's identity (its content hash) is the same on both sides, so the queue's job key,
the store's record and the external id all agree.
"""

from __future__ import annotations

import base64
import os
from pathlib import Path
from typing import Any

import attrs

from ..errors import ValidationError
from ..models import CameraConfig, CameraControl, ImageToVideo, TextToVideo

#: The kinds of job queue workers run (the others run in a local batch).
Job = ImageToVideo | TextToVideo
_IMAGES = ("image", "image_tail", "static_mask")


def _image_out(field: str, value: Any) -> dict[str, str]:
    if isinstance(value, os.PathLike):
        return {"path": str(Path(value).resolve())}
    if isinstance(value, bytes | bytearray):
        return {"base64": base64.b64encode(bytes(value)).decode()}
    if isinstance(value, str):
        return {"text": value}
    raise ValidationError(field, type(value).__name__, "cannot be sent to a worker")


def _image_in(value: dict[str, str]) -> Any:
    if "path" in value:
        return Path(value["path"])
    return value.get("base64") or value["text"]


def dump_job(job: Job) -> dict[str, Any]:
    """The job as JSON-ready data (``load_job`` makes it again); a kind workers do not run
    is a ``ValidationError``."""
    if not isinstance(job, Job):
        raise ValidationError(
            "job",
            type(job).__name__,
            "queue workers run image and text to video only; run it in a local batch",
        )
    out: dict[str, Any] = {"kind": type(job).__name__}
    for field in attrs.fields(type(job)):
        value = getattr(job, field.name)
        if value is None or value == ():
            continue
        if field.name in _IMAGES:
            out[field.name] = _image_out(field.name, value)
        elif field.name == "dynamic_masks":
            raise ValidationError(field.name, "...", "is not supported by queue workers yet")
        elif field.name == "camera_control":
            out[field.name] = attrs.asdict(value)
        elif field.name == "multi_prompt":
            out[field.name] = [attrs.asdict(shot) for shot in value]
        elif isinstance(value, tuple):
            out[field.name] = list(value)
        else:
            out[field.name] = value
    return out


def load_job(data: dict[str, Any]) -> Job:
    """The job ``dump_job`` made; raises ``ValidationError`` for data it did not make."""
    fields = dict(data)
    kind = fields.pop("kind", None)
    cls: type[Job]
    if kind == "ImageToVideo":
        cls = ImageToVideo
    elif kind == "TextToVideo":
        cls = TextToVideo
    else:
        raise ValidationError("kind", kind, "must be ImageToVideo or TextToVideo")
    for name in _IMAGES:
        if name in fields:
            fields[name] = _image_in(fields[name])
    camera = fields.get("camera_control")
    if camera is not None:
        config = camera.get("config")
        fields["camera_control"] = CameraControl(
            camera["type"], CameraConfig(**config) if config is not None else None
        )
    try:
        return cls(**fields)
    except TypeError as exc:
        raise ValidationError("job", kind, f"cannot be rebuilt: {exc}") from None
