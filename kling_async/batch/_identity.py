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

from .._images import LARGEST_BYTES, checked_file, locate, open_checked
from ..errors import ValidationError
from ..models import CameraControl, DynamicMask
from ..money import GENERATED_PREFIX
from ..video_requests import ReferenceImage
from ._work import Job

#: Fields that hold one image (across every kind of job: frames, masks, a character).
_IMAGE_FIELDS = ("image", "image_tail", "static_mask", "first_frame", "last_frame")


#: Bytes of a file read and hashed per worker-thread call: a cancellation point between two.
_CHUNK = 1 << 20


def _hash_chunk(field: str, path: Path, found: os.stat_result, offset: int, digest: Any) -> int:
    """Read and hash the chunk at ``offset`` (blocking); the bytes read, 0 at the end. The
    file is opened (without blocking, still the same regular file) and closed each time, so
    a cancelled hash leaves no descriptor open."""
    with open_checked(field, path, found) as f:
        f.seek(offset)
        block = f.read(_CHUNK)
    if offset + len(block) > LARGEST_BYTES:
        raise ValidationError(field, str(path), "grew over the largest size any wire takes")
    digest.update(block)
    return len(block)


def _file_digest(field: str, path: Path) -> str:
    """A file's digest (blocking): a regular file no larger than any wire takes, or refused
    before it is read."""
    found = checked_file(field, path)
    digest, offset = hashlib.sha256(), 0
    while read := _hash_chunk(field, path, found, offset, digest):
        offset += read
    return "sha256:" + digest.hexdigest()


async def _file_digest_async(field: str, path: Path) -> str:
    """``_file_digest`` off the loop, a chunk per worker-thread call (cancellable between
    chunks: Ctrl-C stops a scan at once)."""
    found = await asyncio.to_thread(checked_file, field, path)
    digest, offset = hashlib.sha256(), 0
    while read := await asyncio.to_thread(_hash_chunk, field, path, found, offset, digest):
        offset += read
    return "sha256:" + digest.hexdigest()


def _image_digest(field: str, value: Any, files: dict[str, str] | None = None) -> str:
    source = locate(field, value)
    if source.kind == "url":
        return "url:" + str(source.url)
    if source.data is None:
        assert source.path is not None
        known = (files or {}).get(field)
        return known if known is not None else _file_digest(field, source.path)
    return "sha256:" + hashlib.sha256(source.data).hexdigest()


def _reference(value: Any) -> Any:
    return value.image if isinstance(value, ReferenceImage) else value


def job_images(job: Job) -> list[tuple[str, Any]]:
    """The job's images that are set, each with its name (``dynamic_masks[0].mask``,
    ``images[1]``)."""
    named = [(f, _reference(getattr(job, f, None))) for f in _IMAGE_FIELDS]
    masks = getattr(job, "dynamic_masks", None) or ()
    named += [
        (f"dynamic_masks[{i}].mask", m.mask)
        for i, m in enumerate(masks)
        if isinstance(m, DynamicMask)
    ]
    references = getattr(job, "images", None) or ()
    named += [(f"images[{i}]", _reference(r)) for i, r in enumerate(references)]
    return [(field, value) for field, value in named if value is not None]


def _plain(value: Any) -> Any:
    if isinstance(value, CameraControl):
        return attrs.asdict(value)
    if isinstance(value, tuple | list):
        return [_plain(v) for v in value]
    return value


#: Fields that do not make a job another: the same content under another id, or told to
#: another receiver (``animate --listen HOST:0`` gets a new port each run), is the same job.
_NOT_CONTENT = ("external_task_id", "callback_url")


def content_hash(
    job: Job, files: dict[str, str] | None = None, *, with_callback_url: bool = False
) -> str:
    """The job's identity (blocking: reads images; call through ``job_identity``). ``files``:
    digests of its image files already computed, by field name. ``with_callback_url``: the
    identity as versions before 0.2 made it (its callback URL counted; ``job_identities``)."""
    fields: dict[str, Any] = {"kind": type(job).__name__}
    for field in attrs.fields(type(job)):
        value = getattr(job, field.name)
        if value is None:
            continue
        if field.name in _NOT_CONTENT and not (with_callback_url and field.name == "callback_url"):
            continue
        if field.name in _IMAGE_FIELDS and isinstance(value, ReferenceImage):  # a labelled frame
            digest = _image_digest(field.name, value.image, files)
            fields[field.name] = {"image": digest, "id": value.id}
        elif field.name in _IMAGE_FIELDS:
            fields[field.name] = _image_digest(field.name, value, files)
        elif field.name == "images":  # an omni video's reference images, with their labels
            fields[field.name] = [
                {
                    "image": _image_digest(f"images[{i}]", _reference(r), files),
                    "id": r.id if isinstance(r, ReferenceImage) else None,
                }
                for i, r in enumerate(value)
            ]
        elif field.name == "dynamic_masks":
            fields[field.name] = [
                {
                    "mask": _image_digest(f"dynamic_masks[{i}].mask", m.mask, files),
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


def _reads_files(job: Job) -> bool:
    for _, value in job_images(job):
        if isinstance(value, bytes | bytearray) and len(value) <= _INLINE_BYTES:
            continue
        if isinstance(value, str) and value.startswith(("http://", "https://")):
            continue
        return True  # a path (read from disk), large bytes or base64 text
    return False


async def job_identity(job: Job) -> str:
    """The job's content hash: on the loop for URL images, text-to-video and small in-memory
    images; else off it, its image files a chunk per worker-thread call (each checked to be a
    regular file no larger than any wire takes before a byte is read: a FIFO, a socket, a
    device or a 2 GB file is refused at once with ``ValidationError``)."""
    identity, _ = await job_identities(job)
    return identity


async def job_identities(job: Job) -> tuple[str, str | None]:
    """``job_identity``, and for a job with a callback URL the identity versions before 0.2
    gave it (they counted the URL): a journal they wrote may hold the job under that one."""
    callback = getattr(job, "callback_url", None)
    if not _reads_files(job):
        return content_hash(job), content_hash(job, with_callback_url=True) if callback else None
    files: dict[str, str] = {}
    for field, value in job_images(job):
        source = locate(field, value)
        if source.kind == "file":
            assert source.path is not None
            files[field] = await _file_digest_async(field, source.path)
    identity = await asyncio.to_thread(content_hash, job, files)
    if not callback:
        return identity, None
    return identity, await asyncio.to_thread(content_hash, job, files, with_callback_url=True)


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


def job_name(job: Job, job_id: str) -> str:
    """A file-system-safe name: the image's file stem where there is one, else the hash;
    at most ``MAX_NAME_BYTES`` bytes."""
    for _, value in job_images(job):
        if isinstance(value, os.PathLike) or (
            isinstance(value, str) and "." in value and not value.startswith(("http", "data:"))
        ):
            stem = Path(value).stem
            safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in stem).strip("._")
            safe = cap_bytes(safe).rstrip("._")
            if safe:
                return safe
    return f"job-{job_id[:12]}"
