"""Units: what a job is expected to cost, and the budget (``max_units``) a batch may commit
across every run of its journal."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from .._catalog import family_of, image_units, motion_units, omni_units, units_for
from .._rules_video import DEFAULT_DURATION
from .._surfaces import OMNI
from ..errors import NotSentError
from ..image_requests import ImageGeneration
from ..video_requests import MotionControl, OmniVideo
from ._work import Job, Work


def default_unit_cost(job: Job) -> float:
    """The units a job is expected to cost, from Kling's price tables (``_catalog``): per
    second of video by model, resolution (mode), native audio, voices and video input, per
    image for image generation — e.g. kling-v2-6 pro with sound 10 s = 10 units, kling-v3 4k
    15 s = 45, four kling-v3 images = 32. What is not known before the task ends is counted
    at its most, so that a budget is never under-counted: a motion-control video at its
    reference video's longest (30 s, 10 s when the character keeps the image's orientation),
    an omni video with a base video and no duration at the model's longest; a model the
    tables do not list at the dearest rate. Pass ``unit_cost`` to use your own prices."""
    if isinstance(job, ImageGeneration):
        return image_units(job.model, job.n, from_image=job.image is not None)
    if isinstance(job, MotionControl):
        seconds = 10 if job.character_orientation == "image" else 30
        return motion_units(job.model, job.mode, seconds)
    if isinstance(job, OmniVideo):
        caps = OMNI.get(job.model)
        longest = max(caps.durations) if caps is not None else 15
        if isinstance(job.duration, int):
            seconds = job.duration
        elif job.video is not None and job.video.role == "base":
            seconds = longest  # the base video's length: not known before the task ends
        else:
            seconds = DEFAULT_DURATION
        sound = job.audio == "native"
        return omni_units(job.model, job.mode, seconds, video=job.video is not None, sound=sound)
    family = family_of(job.model)
    always = family == "3.0-turbo"
    sound = always or job.sound is True or bool(job.voices)
    return units_for(job.model, job.mode, int(job.duration), sound=sound, voice=bool(job.voices))


def estimate_units(jobs: Iterable[Job], unit_cost: Any = default_unit_cost) -> float:
    """Units a list of jobs is expected to cost if every one succeeds."""
    return float(sum(unit_cost(job) for job in jobs))


class Budget:
    """The units committed (by earlier runs of the journal, and by this run's creates)
    against ``max_units`` (None: no limit). A job is charged before its create goes out and
    uncharged when the submitter says nothing was created."""

    def __init__(self, max_units: float | None, unit_cost: Callable[[Job], float]) -> None:
        self.max_units = max_units
        self.unit_cost = unit_cost
        self.committed = 0.0

    def charge(self, work: Work, *, already: bool) -> NotSentError | None:
        """Count the job's units in; the error to report instead when they do not fit.
        ``already``: its create went out in an earlier run (the journal's sum has it)."""
        cost = 0.0 if already else float(self.unit_cost(work.job))
        if self.max_units is not None and self.committed + cost > self.max_units:
            reason = (
                f"max_units {_number(self.max_units)} reached ({_number(self.committed)} "
                f"committed in this folder's journal, across runs; this job needs "
                f"{_number(cost)})"
            )
            return NotSentError(reason, kind="max_units")
        self.committed += cost
        work.charged = cost
        return None

    def uncharge(self, work: Work) -> None:
        """Nothing was created for it: its units go back."""
        self.committed -= work.charged
        work.charged = 0.0


def _number(value: float) -> str:
    """1,000,000 and 2.5 rather than 1e+06 and 2.500000."""
    whole = value == int(value)
    return f"{int(value):,}" if whole else f"{value:,.4f}".rstrip("0").rstrip(".")
