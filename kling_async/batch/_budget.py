"""Units and money: what a job is expected to cost, and the budgets (``max_units``,
``max_cost``) a batch may commit across every run of its journal."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from decimal import Decimal
from typing import Any

from .._cash import Money, money_text, units_in_money
from .._catalog import family_of, image_units, motion_units, omni_units, units_for
from .._rules_video import DEFAULT_DURATION
from .._surfaces import OMNI
from ..errors import NotSentError, ValidationError
from ..image_requests import ImageGeneration
from ..store import JobStore, Spend
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


def spend_in_money(spend: Spend, budget: Money) -> Decimal:
    """What a journal's committed jobs spent, in the ``budget``'s currency: the money charged
    where they were billed in cash, their units at the list price (``UNIT_PRICE``) where in
    units. Raises ``ValidationError`` when a charge is in another currency: none is
    converted."""
    total = units_in_money(spend.units).amount if spend.units else Decimal(0)
    for code, amount in spend.cash.items():
        if code not in ("", budget.currency):
            raise ValidationError(
                "max_cost",
                str(budget),
                f"this folder's journal records charges in {code}, and no currency is "
                f"converted (--max-units limits a run in any currency)",
            )
        total += Decimal(str(amount))
    return total


class Budget:
    """The units and the money committed (by earlier runs of the journal, and by this run's
    creates) against ``max_units`` and ``max_cost`` (None: no limit); both hold. A job is
    charged before its create goes out and uncharged when the submitter says nothing was
    created. Its money is its units at the list price ($0.14 a unit); a job an earlier run
    saw billed in cash counts what it was charged."""

    def __init__(
        self,
        max_units: float | None,
        unit_cost: Callable[[Job], float],
        max_cost: Money | None = None,
        charged: Mapping[str, Decimal] | None = None,
    ) -> None:
        self.max_units = max_units
        self.max_cost = max_cost
        #: Money this run's tasks were charged in cash, per currency (``BatchSummary.cash``):
        #: a charge in another currency than ``max_cost``'s stops creating.
        self.charged: Mapping[str, Decimal] = charged if charged is not None else {}
        self.unit_cost = unit_cost
        self.committed = 0.0
        #: Money committed, in ``UNIT_PRICE_CURRENCY``.
        self.spent = Decimal(0)

    async def load(self, store: JobStore) -> None:
        """Start from what the job store says its committed jobs spent, across runs."""
        self.committed = await store.committed_units()
        if self.max_cost is not None:
            self.spent = spend_in_money(await store.committed_spend(), self.max_cost)

    def charge(self, work: Work, *, already: bool) -> NotSentError | None:
        """Count the job's units (and money) in; the error to report instead when they do not
        fit. ``already``: its create went out in an earlier run (the journal's sum has it)."""
        cost = 0.0 if already else float(self.unit_cost(work.job))
        money = units_in_money(cost).amount
        if self.max_units is not None and self.committed + cost > self.max_units:
            reason = (
                f"max_units {_number(self.max_units)} reached ({_number(self.committed)} "
                f"committed in this folder's journal, across runs; this job needs "
                f"{_number(cost)})"
            )
            return NotSentError(reason, kind="max_units")
        foreign = self._foreign_currency()
        if foreign is not None:
            return NotSentError(
                f"max_cost {self.max_cost}: the account charged this run's tasks in {foreign}, "
                "and no currency is converted (--max-units limits a run in any currency)",
                kind="max_cost",
            )
        if self.max_cost is not None and self.spent + money > self.max_cost.amount:
            code = self.max_cost.currency
            reason = (
                f"max_cost {self.max_cost} reached ({money_text(self.spent, code)} committed "
                f"in this folder's journal, across runs; this job needs about "
                f"{money_text(money, code)}: {_number(cost)} units at "
                f"{money_text(units_in_money(1).amount, code)})"
            )
            return NotSentError(reason, kind="max_cost")
        self.committed += cost
        self.spent += money
        work.charged = cost
        return None

    def _foreign_currency(self) -> str | None:
        if self.max_cost is None:
            return None
        others = sorted(set(self.charged) - {"", self.max_cost.currency})
        return others[0] if others else None

    def uncharge(self, work: Work) -> None:
        """Nothing was created for it: its units (and their money) go back."""
        self.committed -= work.charged
        self.spent -= units_in_money(work.charged).amount
        work.charged = 0.0


def _number(value: float) -> str:
    """1,000,000 and 2.5 rather than 1e+06 and 2.500000."""
    whole = value == int(value)
    return f"{int(value):,}" if whole else f"{value:,.4f}".rstrip("0").rstrip(".")
