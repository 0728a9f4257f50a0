"""Image preparation for ``animate``: each local image (and end frame) made into what the
model's wire takes (HEIC, WebP, GIF, BMP, TIFF, CMYK, 16-bit, sideways, too big...), cached in
``<out>/.kling-prepared``; the job then sends the prepared file. A file that cannot be made
sendable becomes an invalid input with the reason."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path
from typing import Any

import attrs

from ... import _catalog
from ..._prepare import PreparedCache, PreparedImage, prepare_image_async
from ..._prepare_pixels import Fit
from ...batch import job_identity
from ...errors import ValidationError
from ...models import ImageToVideo, TextToVideo
from ...validation import AnyRequest
from ...video_requests import MotionControl, OmniVideo
from .._journal_view import recorded_outputs
from .jobs import BadRow, Input, Prepared, image_slots, with_images

#: Where the prepared images go, in the output folder (a dot-folder: never taken as input).
CACHE_FOLDER = ".kling-prepared"
#: Images prepared at once: decoding is CPU work, in worker threads.
PREPARERS = max(2, min(4, os.cpu_count() or 2))


@attrs.frozen
class Options:
    """``animate``'s preparation options."""

    fit: Fit = "refuse"
    upscale: bool = False


def _wire(job: AnyRequest, api: str) -> _catalog.Wire:
    """The wire the job goes out on (its byte limit applies): the new one for omni video and
    motion control; the legacy one's smaller limit for image generation (``/v1/images``) and
    when the model cannot go out at all (its validation says why)."""
    if isinstance(job, OmniVideo | MotionControl):
        return "new"
    if not isinstance(job, ImageToVideo | TextToVideo):
        return "legacy"
    try:
        return _catalog.choose_wire(job.model, job.api or api)[0]  # type: ignore[arg-type]
    except ValidationError:
        return "legacy"


class _DryRunCache(PreparedCache):
    """``--dry-run`` writes nothing in OUT: it takes what OUT's cache holds and stores what it
    prepares in a scratch folder instead."""

    def __init__(self, folder: Path, scratch: Path) -> None:
        super().__init__(folder)
        self.scratch = PreparedCache(scratch)

    def save(self, key: str, prepared: PreparedImage) -> Path | None:
        return self.scratch.save(key, prepared)


def _slim(field: str, original: Path, prepared: PreparedImage) -> Prepared:
    sent: Path | bytes = prepared.path if prepared.path is not None else prepared.data
    return Prepared(field, original, sent, prepared.describe(), prepared.to_record())


async def prepare_inputs(
    inputs: list[Input],
    bad: list[BadRow],
    out_dir: Path,
    api: str,
    options: Options,
    scratch: Path | None = None,
) -> list[Input]:
    """Every input whose job has a local image (an image, end frame, first or last frame,
    reference image: ``image_slots``), with the prepared file in its
    place and ``Input.prepared`` saying what was done; an image that cannot be sent moves the
    input to ``bad`` (its reason). Each file is prepared once a run (an end frame shared by
    every job, twins), at most ``PREPARERS`` at a time. With ``scratch`` (a dry run) nothing
    is written in ``out_dir``: what is prepared anew goes there."""
    folder = out_dir / CACHE_FOLDER
    cache = PreparedCache(folder) if scratch is None else _DryRunCache(folder, scratch)
    gate = asyncio.Semaphore(PREPARERS)
    started: dict[tuple[str, str, str], asyncio.Task[Prepared | ValidationError]] = {}

    async def one(field: str, path: Path, wire: _catalog.Wire) -> Prepared | ValidationError:
        async with gate:
            try:
                prepared = await prepare_image_async(
                    path,
                    wire=wire,
                    fit=options.fit,
                    upscale=options.upscale,
                    cache=cache,
                    field=field,
                )
            except ValidationError as exc:
                return exc
            return _slim(field, path, prepared)

    def start(field: str, path: Path, wire: _catalog.Wire) -> asyncio.Task[Any]:
        key = (field, os.path.abspath(path), wire)
        if key not in started:
            started[key] = asyncio.ensure_future(one(field, path, wire))
        return started[key]

    wanted: list[tuple[Input, list[tuple[str, asyncio.Task[Any]]]]] = []
    for item in inputs:
        job = item.job
        wire = _wire(job, api)
        tasks = [
            (slot, start(slot, value, wire))
            for slot, value in image_slots(job)
            if isinstance(value, Path)
        ]
        wanted.append((item, tasks))
    if started:
        await asyncio.gather(*started.values())
    kept: list[Input] = []
    for item, tasks in wanted:
        done = [task.result() for _, task in tasks]
        refused = next((r for r in done if isinstance(r, ValidationError)), None)
        if refused is not None:
            bad.append(BadRow(item.source, str(refused)))
            continue
        if not done:
            kept.append(item)
            continue
        prepared = tuple(r for r in done if isinstance(r, Prepared))
        job = with_images(item.job, {p.field: p.sent for p in prepared})
        kept.append(attrs.evolve(item, job=job, prepared=prepared))
    return kept


def shown_sources(inputs: list[Input]) -> dict[str, str]:
    """The prepared file sent -> the input it came from (absolute path too: a job back from
    a queue worker names it so), for saying each outcome's source as the user gave it."""
    shown: dict[str, str] = {}
    for item in inputs:
        for prepared in item.prepared:
            if isinstance(prepared.sent, Path) and _changed(prepared):
                for key in (str(prepared.sent), str(prepared.sent.resolve())):
                    shown.setdefault(key, str(prepared.original))
    return shown


async def keep_as_sent_before(inputs: list[Input], journal: Path) -> list[Input]:
    """An input whose file an earlier run of this folder sent as it was (before ``animate``
    prepared images, or with ``--no-prepare``) keeps it as it was: its job is in the journal,
    and sending the prepared file instead would make (and pay for) its video again."""
    changed = [i for i, item in enumerate(inputs) if any(_changed(p) for p in item.prepared)]
    if not changed:
        return inputs
    recorded = await asyncio.to_thread(recorded_outputs, journal)
    if not recorded:
        return inputs
    kept = list(inputs)
    for index in changed:
        item = inputs[index]
        as_given = item.as_given()
        try:
            identity = await job_identity(as_given)
        except (OSError, ValueError, ValidationError):
            continue
        if identity in recorded:
            kept[index] = attrs.evolve(item, job=as_given, prepared=())
    return kept


def _changed(prepared: Prepared) -> bool:
    return prepared.sent != prepared.original
