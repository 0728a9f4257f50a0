"""A job's identity: a hash of its content (image bytes plus every parameter), and its name.

Renaming an image does not change its job; changing the prompt makes a new one. Files are
hashed in a worker thread, a block at a time, never whole in memory.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
from pathlib import Path
from typing import Any

import attrs

from .._images import locate
from ..models import CameraControl, DynamicMask, ImageToVideo, TextToVideo
from ..money import GENERATED_PREFIX

_IMAGE_FIELDS = ("image", "image_tail", "static_mask")


def _image_digest(field: str, value: Any) -> str:
    source = locate(field, value)
    if source.kind == "url":
        return "url:" + str(source.url)
    digest = hashlib.sha256()
    if source.data is not None:
        digest.update(source.data)
    else:
        assert source.path is not None
        with source.path.open("rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                digest.update(block)
    return "sha256:" + digest.hexdigest()


def _plain(value: Any) -> Any:
    if isinstance(value, CameraControl):
        return attrs.asdict(value)
    if isinstance(value, tuple | list):
        return [_plain(v) for v in value]
    return value


def content_hash(job: ImageToVideo | TextToVideo) -> str:
    """The job's identity (blocking: reads images; call through ``job_identity``)."""
    fields: dict[str, Any] = {"kind": type(job).__name__}
    for field in attrs.fields(type(job)):
        value = getattr(job, field.name)
        if field.name == "external_task_id" or value is None:
            continue  # the same content under another id is the same job
        if field.name in _IMAGE_FIELDS:
            fields[field.name] = _image_digest(field.name, value)
        elif field.name == "dynamic_masks":
            fields[field.name] = [
                {
                    "mask": _image_digest(f"dynamic_masks[{i}].mask", m.mask),
                    "trajectories": [[p.x, p.y] for p in m.trajectories],
                }
                for i, m in enumerate(value)
                if isinstance(m, DynamicMask)
            ]
        else:
            fields[field.name] = _plain(value)
    canonical = json.dumps(fields, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


#: Bytes an image may have for its hash to be computed on the event loop (a thread hop costs
#: more than hashing this much).
_INLINE_BYTES = 256 * 1024


def _reads_files(job: ImageToVideo | TextToVideo) -> bool:
    values = [getattr(job, f, None) for f in _IMAGE_FIELDS]
    values += [
        m.mask for m in getattr(job, "dynamic_masks", None) or () if isinstance(m, DynamicMask)
    ]
    for value in values:
        if value is None:
            continue
        if isinstance(value, bytes | bytearray) and len(value) <= _INLINE_BYTES:
            continue
        if isinstance(value, str) and value.startswith(("http://", "https://")):
            continue
        return True  # a path (read from disk), large bytes or base64 text
    return False


async def job_identity(job: ImageToVideo | TextToVideo) -> str:
    """The job's content hash: in a worker thread when it reads files or hashes much data,
    on the loop otherwise (URL images, text-to-video, small in-memory images)."""
    if _reads_files(job):
        return await asyncio.to_thread(content_hash, job)
    return content_hash(job)


#: A name's cap in UTF-8 bytes: with ``-<id8>-<n>.mp4.part.json`` it stays under the 255
#: bytes most file systems allow for one path component.
MAX_NAME_BYTES = 200


def cap_bytes(text: str, limit: int = MAX_NAME_BYTES) -> str:
    """``text`` cut to at most ``limit`` UTF-8 bytes, never inside a character."""
    return text.encode("utf-8")[:limit].decode("utf-8", "ignore")


def external_id_for(salt: str, job_id: str, generation: int) -> str:
    """The external id a batch creates a job under: derived from the job's content hash, the
    journal's salt and how many times the job was created anew. The same job in the same
    folder always gets the same id, so even a lost journal cannot make it billed twice: the
    server refuses the id as taken and the SDK looks the task up instead."""
    digest = hashlib.sha256(f"{salt}:{job_id}:{generation}".encode()).hexdigest()[:32]
    return f"{GENERATED_PREFIX}{digest}"


def job_name(job: ImageToVideo | TextToVideo, job_id: str) -> str:
    """A file-system-safe name: the image's file stem where there is one, else the hash;
    at most ``MAX_NAME_BYTES`` bytes."""
    for value in (getattr(job, "image", None), getattr(job, "image_tail", None)):
        if isinstance(value, os.PathLike) or (
            isinstance(value, str) and "." in value and not value.startswith(("http", "data:"))
        ):
            stem = Path(value).stem
            safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in stem).strip("._")
            safe = cap_bytes(safe).rstrip("._")
            if safe:
                return safe
    return f"job-{job_id[:12]}"
