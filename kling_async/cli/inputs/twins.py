"""Inputs that are the same job — the same image and settings under other names: the job is
made once (and paid once), and its video is given to every name, hard-linked or copied.

The first input in the order given is the original; the others are its twins. A twin's video
goes to its own output name (``<stem>.mp4``, or what ``--name`` makes of it) in the output
folder, unless an input sent has that name or a different file is already there (then
``<name>-<id8>.mp4``).
"""

from __future__ import annotations

import asyncio
import contextlib
import filecmp
import os
import shutil
from pathlib import Path

from ...batch import Outcome, job_identity
from ...errors import ValidationError
from ...states import RUN_OK
from ..output.statuses import Duplicate, status_of
from .jobs import Input

_HASHING = 8  # images hashed at once (each in a worker thread)


async def group_twins(
    inputs: list[Input],
) -> tuple[list[Input], dict[int, list[Input]], dict[int, str]]:
    """The inputs to send (each job once, in order); by ``id()`` of an original's job, its
    twins; and by ``id()`` of every job, its identity (the batch's job id). An input whose
    identity cannot be computed (a missing file) is sent as it is: the batch reports why it
    is invalid."""
    gate = asyncio.Semaphore(_HASHING)

    async def identity(item: Input) -> str | None:
        async with gate:
            try:
                return await job_identity(item.job)
            except (OSError, ValueError, ValidationError):
                return None

    identities = await asyncio.gather(*(identity(i) for i in inputs))
    unique: list[Input] = []
    first: dict[str, Input] = {}
    twins: dict[int, list[Input]] = {}
    for item, ident in zip(inputs, identities, strict=True):
        original = first.get(ident) if ident is not None else None
        if original is None:
            if ident is not None:
                first[ident] = item
            unique.append(item)
        else:
            twins.setdefault(id(original.job), []).append(item)
    known = {id(i.job): ident for i, ident in zip(inputs, identities, strict=True) if ident}
    return unique, twins, known


def twin_target(folder: Path, name: str, job_id: str, taken: set[str]) -> Path:
    """Where a twin's video goes (see the module's docstring): ``name`` is its own output
    name, ``taken`` the names of the inputs sent."""
    if name in taken:
        name = f"{name}-{job_id[:8]}"
    return folder / f"{name}.mp4"


def _same_file(a: Path, b: Path) -> bool:
    try:
        return os.path.samefile(a, b) or filecmp.cmp(a, b, shallow=False)
    except OSError:
        return False


def place_copy(original: Path, target: Path, job_id: str) -> Path:
    """Give ``target`` the video at ``original`` (a hard link where the file system allows,
    else a copy) and return where it went. A different file already at ``target`` is never
    overwritten: the copy goes to ``<stem>-<id8>.mp4`` (then ``-2``, ``-3``...). Blocking:
    call it in a worker thread."""
    candidates = [target, target.with_name(f"{target.stem}-{job_id[:8]}{target.suffix}")]
    candidates += [
        target.with_name(f"{target.stem}-{job_id[:8]}-{n}{target.suffix}") for n in range(2, 100)
    ]
    for candidate in candidates:
        if not os.path.lexists(candidate):
            break
        if _same_file(original, candidate):
            return candidate
    else:
        raise OSError(f"no free name for a copy of {original.name} near {target}")
    candidate.parent.mkdir(parents=True, exist_ok=True)
    partial = candidate.with_name(candidate.name + ".copying")
    with contextlib.suppress(FileNotFoundError):
        partial.unlink()
    try:
        os.link(original, partial)
    except OSError:  # another file system, or no hard links here
        shutil.copyfile(original, partial)
    os.replace(partial, candidate)
    return candidate


def give_twin(original: Path, original_source: str, source: str, target: Path, job_id: str) -> Path:
    """The twin's video: the original's own when both name the same file, else a copy (see
    ``place_copy``). Blocking: call it in a worker thread."""
    if Path(source).resolve() == Path(original_source).resolve():
        return original
    return place_copy(original, target, job_id)


class TwinCopier:
    """Gives each twin of a finished job its own copy of the video."""

    def __init__(
        self,
        unique: list[Input],
        twins: dict[int, list[Input]],
        names: dict[int, str | None],
        out_dir: Path,
    ) -> None:
        self.by_job = {id(item.job): item for item in unique}
        self.twins = twins
        self.names = names
        self.out_dir = out_dir
        self.taken = {n for item in unique if (n := names[id(item.job)]) is not None}

    async def copies(self, outcome: Outcome) -> list[Duplicate]:
        """The twins of the job that just ended, each with its copy (or why it has none)."""
        original = self.by_job.get(id(outcome.job))
        done = []
        for twin in self.twins.get(id(outcome.job), []):
            assert original is not None
            name = self.names[id(twin.job)] or outcome.name
            target = twin_target(self.out_dir, name, outcome.job_id, self.taken)
            try:
                copy = await _copy_for(outcome, original, twin, target)
            except OSError as exc:  # e.g. the disk is full: this name only
                why = f"could not copy {outcome.path} to {target}: {exc}"
                done.append(Duplicate(name, twin.source, None, outcome, why))
                continue
            done.append(Duplicate(name, twin.source, copy, outcome))
        return done


async def _copy_for(outcome: Outcome, original: Input, twin: Input, target: Path) -> Path | None:
    """The twin's own copy of its original's video (None when there is no video)."""
    if outcome.path is None or status_of(outcome) not in RUN_OK:
        return None
    return await asyncio.to_thread(
        give_twin, outcome.path, original.source, twin.source, target, outcome.job_id
    )
