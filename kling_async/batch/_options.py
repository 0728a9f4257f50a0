"""``BatchOptions``: every setting of a batch, typed, checked once."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import attrs

from .._cash import Money, as_budget
from ..errors import ValidationError
from ..store import JobStore
from ._budget import default_unit_cost
from ._memory import DEFAULT_BODY_BUDGET
from ._poll_plan import PollPolicy
from ._work import Job


def _poll_policy(value: PollPolicy | None) -> PollPolicy:
    return value if value is not None else PollPolicy()


def _at_least_one(_: Any, field: attrs.Attribute[Any], value: int | None) -> None:
    if value is not None and value < 1:
        raise ValidationError(field.name, value, "must be at least 1")


@attrs.frozen
class BatchOptions:
    """How a batch runs (``client.batch(jobs, output_dir, **options)`` and ``BatchEngine``
    take these as keywords, or a ``BatchOptions`` as ``options=``)."""

    #: The SQLite journal's path (default: ``.kling-journal.db`` in the output folder).
    journal: str | Path | None = None
    #: Tasks in flight at most, all model families together (None: what the account allows).
    max_in_flight: int | None = attrs.field(default=None, validator=_at_least_one)
    #: Slots each family's window starts with (it grows to the account's limit).
    initial_window: int = attrs.field(default=4, validator=_at_least_one)
    #: Videos downloaded at once.
    downloads: int = attrs.field(default=4, validator=_at_least_one)
    #: The units the journal may commit in all, across runs (None: no limit).
    max_units: float | None = attrs.field(default=None)
    #: The money the journal may commit in all, across runs (None: no limit): a ``Money``
    #: or what ``Money.parse`` reads (``"20USD"``, ``"$20"``), in USD. A job counts its units
    #: at $0.14 each, or what it was charged when the account bills in cash. Both budgets
    #: hold when both are given.
    max_cost: Money | None = attrs.field(
        default=None, converter=attrs.converters.optional(as_budget)
    )
    #: A job's expected units (default: Kling's price table, ``default_unit_cost``).
    unit_cost: Callable[[Job], float] = default_unit_cost
    poll: PollPolicy = attrs.field(default=None, converter=_poll_policy)
    #: Tasks end by verified callback (``BatchEngine.notify``); polling is a fallback.
    callbacks: bool = False
    #: Jobs taken from the input ahead of the window.
    prefetch: int = attrs.field(default=32, validator=_at_least_one)
    #: The caller's name for a job's video (relative to the output folder, sub-folders
    #: allowed, without ``.mp4``); None or ``None`` returned: the image's file stem.
    name: Callable[[Job], str | None] | None = None
    #: Bytes of images the creates on their way may hold together (read, base64-encoded,
    #: written into their bodies): memory follows it, not ``max_in_flight`` times image size.
    #: A create larger than it goes alone.
    create_memory: int = attrs.field(default=DEFAULT_BODY_BUDGET, validator=_at_least_one)
    #: The job store: this folder's SQLite journal unless one (e.g. shared) is given.
    store: JobStore | None = None
    #: OpenTelemetry providers for the batch's spans and metrics (None: the global ones);
    #: used only with the ``otel`` extra installed (see the docs' "Traces and metrics").
    tracer_provider: object | None = None
    meter_provider: object | None = None

    @max_units.validator
    def _check_max_units(self, _: Any, value: float | None) -> None:
        if value is not None and not value >= 0:
            raise ValidationError("max_units", value, "must be a number of units >= 0")
