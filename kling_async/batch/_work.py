"""A job on its way through a batch: what every stage reads and adds to."""

from __future__ import annotations

from pathlib import Path

import attrs

from ..models import TextToVideo
from ..results import Task
from ..states import Stage
from ..store import JobRecord
from ..validation import AnyRequest, Plan
from ._outcome import Timings

#: What a batch runs: any request of Kling's video surface, and image generation.
Job = AnyRequest


def empty_record() -> JobRecord:
    """The record of a job not yet looked up in the journal."""
    return JobRecord("", "", "", "", None, None, None, None, None, 0)


@attrs.define(eq=False)
class Work:
    job: Job
    job_id: str
    name: str
    record: JobRecord
    #: Its timings so far (``finished`` is stamped on its outcome).
    timings: Timings
    #: How the job goes out (wire, model name there, family); None for an invalid job.
    plan: Plan | None = None
    task: Task | None = None
    #: Units this run counted against ``max_units`` for it (given back if nothing was made).
    charged: float = 0.0
    #: Where the job is now, for progress displays (see ``BatchEngine.states``).
    stage: Stage = Stage.QUEUED
    #: True once its outcome is out (a job is reported exactly once).
    reported: bool = False
    #: Its task came from this run's create, and no download of it has started: no partial
    #: video can stand at its output (a name claimed free; a download follows only a task
    #: recorded finished, which a rerun downloads rather than creates again).
    fresh_output: bool = False

    @property
    def family(self) -> str:
        """Its model family (Kling counts the parallel-task limit per family)."""
        return self.plan.family if self.plan is not None else self.job.model

    @property
    def wire(self) -> str:
        return self.plan.wire if self.plan is not None else "legacy"

    @property
    def kind(self) -> str:
        """``image2video`` or ``text2video`` (the job store's and the resources' word)."""
        if self.plan is not None:
            return self.plan.endpoint
        return "text2video" if isinstance(self.job, TextToVideo) else "image2video"


def output_path(folder: Path, work: Work) -> Path:
    """Where the job's video goes: its claimed name in the output folder."""
    assert work.record.output is not None
    return folder / work.record.output
