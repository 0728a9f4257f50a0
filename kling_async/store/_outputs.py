"""The record of finished outputs kept in the output folder itself, beside the videos:
``OUT/.kling-outputs/<job_id>.json`` says which file is that job's finished video, and how
big it was when it was finished.

The Redis job store writes one when a job's video is complete (before it records the job
``done`` in Redis), and reads it when Redis has no record of a job: a Redis restarted
without persistence has forgotten every job, but the folder has not — a job whose video is
there, whole, is recorded ``done`` again under its own file (and skipped), never made and
downloaded again as ``<name>-<id8>.mp4``. A file that is gone, or of another size, is not
taken for the job's video: the job is made as a new one. Blocking functions (run them in a
thread).
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import time
from pathlib import Path

from ._contract import inside

log = logging.getLogger("kling_async.workers")
#: The folder of the records, inside the output folder.
OUTPUTS_FOLDER = ".kling-outputs"


def _marker(folder: Path, job_id: str) -> Path:
    return folder / OUTPUTS_FOLDER / f"{job_id}.json"


def mark_done(folder: Path, job_id: str, output: str) -> bool:
    """Record that ``output`` (relative to ``folder``) is ``job_id``'s finished video. False
    when it cannot be (no such file; the record unwritable): the job is only not recognised
    after Redis lost its data, as before."""
    marker = _marker(folder, job_id)
    part = marker.with_name(f"{marker.name}.{os.getpid()}.tmp")
    try:
        size = (folder / output).stat().st_size
        marker.parent.mkdir(parents=True, exist_ok=True)
        record = {"output": output, "size": size, "at": time.time()}
        part.write_text(json.dumps(record), encoding="utf-8")
        os.replace(part, marker)  # whole or not at all, on a shared folder too
    except OSError as exc:
        log.warning("the record of %s's output could not be written: %s", job_id[:12], exc)
        with contextlib.suppress(OSError):
            part.unlink(missing_ok=True)
        return False
    return True


def finished_at(folder: Path, job_id: str) -> float | None:
    """When (``time.time()`` of the worker that finished it) ``job_id``'s video was
    recorded finished; None when no record says so."""
    try:
        data = json.loads(_marker(folder, job_id).read_text(encoding="utf-8"))
        return float(data["at"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def done_output(folder: Path, job_id: str) -> str | None:
    """The output recorded as ``job_id``'s finished video, when that file is still there
    with the size it was finished with; else None."""
    try:
        data = json.loads(_marker(folder, job_id).read_text(encoding="utf-8"))
        output, size = str(data["output"]), int(data["size"])
    except (OSError, ValueError, KeyError, TypeError):
        return None
    if not inside(folder, output):
        return None
    with contextlib.suppress(OSError):
        if (folder / output).stat().st_size == size:
            return output
    return None


__all__ = ["OUTPUTS_FOLDER", "done_output", "finished_at", "mark_done"]
