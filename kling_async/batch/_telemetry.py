"""Traces and metrics of a batch, through OpenTelemetry when the ``otel`` extra is installed.

The batch's reporter tells a ``Telemetry`` of each job it takes (``taken``), each stage move
(``moved``) and each outcome (``ended``). ``telemetry()`` gives ``OtelTelemetry`` when
``opentelemetry`` (the API only) can be imported, else ``NO_TELEMETRY``, which does nothing:
``opentelemetry`` is imported here only, and only when a batch starts.

One span ``kling.job`` per job, from taken to outcome, with a child per stage: ``kling.slot``
(queued, waiting for a window slot), ``kling.create`` (submitting), ``kling.render``
(running on Kling's side) and ``kling.download``. Metrics: ``kling.tasks.in_flight``,
``kling.creates``, ``kling.rate_limited`` (``code``: 1303), ``kling.units`` and
``kling.job.duration``. No secret, prompt or image goes into an attribute.

Telemetry never breaks a batch: an ``Exception`` raised by the SDK or an exporter is logged
and dropped (a ``BaseException`` such as a cancellation goes on).
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Protocol

from .._version import __version__
from ..states import OutcomeStatus, Stage
from ._work import Work

if TYPE_CHECKING:
    from opentelemetry.metrics import Counter, Histogram, MeterProvider, UpDownCounter
    from opentelemetry.trace import Span, TracerProvider

log = logging.getLogger("kling_async.telemetry")

NAME = "kling_async"

#: The child span of each stage that has one (the final stages end the job's span).
CHILDREN: dict[Stage, str] = {
    Stage.QUEUED: "kling.slot",
    Stage.SUBMITTING: "kling.create",
    Stage.RUNNING: "kling.render",
    Stage.DOWNLOADING: "kling.download",
}


class Telemetry(Protocol):
    """What the reporter tells; every call returns at once and never raises an Exception."""

    def taken(self, work: Work) -> None: ...

    def moved(self, work: Work, old: Stage, new: Stage) -> None: ...

    def ended(
        self, work: Work, status: OutcomeStatus, seconds: float, error: BaseException | None
    ) -> None: ...

    def stopped(self) -> None: ...


class NoTelemetry:
    """Without the ``otel`` extra (or when it is not wanted): nothing at all."""

    def taken(self, work: Work) -> None:
        pass

    def moved(self, work: Work, old: Stage, new: Stage) -> None:
        pass

    def ended(
        self, work: Work, status: OutcomeStatus, seconds: float, error: BaseException | None
    ) -> None:
        pass

    def stopped(self) -> None:
        pass


NO_TELEMETRY = NoTelemetry()


def telemetry(
    tracer_provider: object | None = None, meter_provider: object | None = None
) -> Telemetry:
    """``OtelTelemetry`` on the providers given (None: OpenTelemetry's global ones) when
    ``opentelemetry`` can be imported, else ``NO_TELEMETRY``."""
    try:
        import opentelemetry.metrics
        import opentelemetry.trace  # noqa: F401
    except ImportError:
        return NO_TELEMETRY
    tracers, meters = _as_tracer_provider(tracer_provider), _as_meter_provider(meter_provider)
    try:
        return OtelTelemetry(tracers, meters)
    except Exception as exc:  # a broken SDK: the batch runs untraced
        log.warning("telemetry is off: %r", exc)
        return NO_TELEMETRY


class _Job:
    """One job's spans: its own and the current stage's child."""

    __slots__ = ("child", "span")

    def __init__(self, span: Span) -> None:
        self.span = span
        self.child: Span | None = None


class OtelTelemetry:
    """Spans and metrics through the OpenTelemetry API (see the module's docstring)."""

    def __init__(
        self, tracer_provider: TracerProvider | None, meter_provider: MeterProvider | None
    ) -> None:
        from opentelemetry import metrics, trace

        self._trace = trace
        self._tracer = trace.get_tracer(NAME, __version__, tracer_provider=tracer_provider)
        meter = metrics.get_meter(NAME, __version__, meter_provider=meter_provider)
        self._in_flight: UpDownCounter = meter.create_up_down_counter(
            "kling.tasks.in_flight", unit="{task}", description="Tasks rendering on Kling's side"
        )
        self._creates: Counter = meter.create_counter(
            "kling.creates", unit="{task}", description="Tasks created"
        )
        self._rate_limited: Counter = meter.create_counter(
            "kling.rate_limited",
            unit="{answer}",
            description="Creates Kling refused for a limit (code 1303: parallel tasks)",
        )
        self._units: Counter = meter.create_counter(
            "kling.units", unit="{unit}", description="Units spent by succeeded jobs"
        )
        self._duration: Histogram = meter.create_histogram(
            "kling.job.duration", unit="s", description="Seconds from a job taken to its outcome"
        )
        self._jobs: dict[Work, _Job] = {}
        #: The engine was closed: the jobs left ended unfinished; nothing more is recorded.
        self._stopped = False

    def taken(self, work: Work) -> None:
        if self._stopped:
            return
        try:
            self._open(work)
        except Exception as exc:
            log.debug("telemetry: %r", exc)

    def moved(self, work: Work, old: Stage, new: Stage) -> None:
        if self._stopped:
            return
        try:
            self._moved(work, old, new)
        except Exception as exc:
            log.debug("telemetry: %r", exc)

    def ended(
        self, work: Work, status: OutcomeStatus, seconds: float, error: BaseException | None
    ) -> None:
        if self._stopped:
            return
        try:
            self._ended(work, status, seconds, error)
        except Exception as exc:
            log.debug("telemetry: %r", exc)

    def stopped(self) -> None:
        """The engine was closed before these jobs' outcomes (they stay in the journal for
        the next run): their spans end with ``kling.outcome`` ``unfinished``; their tasks
        leave ``kling.tasks.in_flight``."""
        self._stopped = True
        jobs, self._jobs = self._jobs, {}
        for work, job in jobs.items():
            try:
                self._child(job, Stage.DONE)
                if work.stage is Stage.RUNNING:
                    self._in_flight.add(-1, {"kling.model": work.job.model})
                job.span.set_attributes(_attributes(work))
                job.span.set_attribute("kling.outcome", "unfinished")
                job.span.end()
            except Exception as exc:
                log.debug("telemetry: %r", exc)

    def _open(self, work: Work) -> _Job:
        job = self._jobs.get(work)
        if job is None:
            span = self._tracer.start_span("kling.job", attributes=_attributes(work))
            job = self._jobs[work] = _Job(span)
            self._child(job, work.stage)
        return job

    def _child(self, job: _Job, stage: Stage) -> None:
        if job.child is not None:
            job.child.end()
            job.child = None
        name = CHILDREN.get(stage)
        # a job span that records nothing (no SDK installed, or not sampled) gets no children:
        # a sampler that follows its parent would drop them, and each costs a batch CPU
        if name is not None and job.span.is_recording():
            context = self._trace.set_span_in_context(job.span)
            job.child = self._tracer.start_span(name, context=context)

    def _moved(self, work: Work, old: Stage, new: Stage) -> None:
        job = self._open(work)
        if old is new:
            return
        self._child(job, new)
        family = {"kling.model": work.job.model}
        if new is Stage.RUNNING:
            self._in_flight.add(1, family)
            if old is Stage.SUBMITTING:
                self._creates.add(1, family)
        elif old is Stage.RUNNING:
            self._in_flight.add(-1, family)
        if old is Stage.SUBMITTING and new is Stage.QUEUED:  # the window's 1303: again later
            self._rate_limited.add(1, {**family, "code": 1303})

    def _ended(
        self, work: Work, status: OutcomeStatus, seconds: float, error: BaseException | None
    ) -> None:
        job = self._jobs.pop(work, None) or _Job(
            self._tracer.start_span("kling.job", attributes=_attributes(work))
        )
        self._child(job, Stage.DONE)
        units = work.task.units if work.task is not None else None
        span = job.span
        span.set_attributes(_attributes(work))
        span.set_attribute("kling.outcome", status.value)
        if units is not None:
            span.set_attribute("kling.units", units)
        if status in (OutcomeStatus.FAILED, OutcomeStatus.INVALID):
            from opentelemetry.trace import Status, StatusCode

            span.set_status(Status(StatusCode.ERROR, type(error).__name__ if error else None))
        span.end()
        attributes = {"kling.model": work.job.model, "kling.outcome": status.value}
        self._duration.record(max(seconds, 0.0), attributes)
        if status is OutcomeStatus.SUCCEEDED and units:
            self._units.add(units, {"kling.model": work.job.model})


def _attributes(work: Work) -> dict[str, str]:
    attributes = {
        "kling.model": work.job.model,
        "kling.mode": str(getattr(work.job, "mode", None) or ""),
    }
    if work.name:
        attributes["kling.job"] = work.name
    if work.task is not None:
        attributes["kling.task_id"] = work.task.task_id
    elif work.record.task_id:
        attributes["kling.task_id"] = work.record.task_id
    return attributes


def _as_tracer_provider(provider: object | None) -> TracerProvider | None:
    from opentelemetry.trace import TracerProvider

    if provider is None or isinstance(provider, TracerProvider):
        return provider
    raise TypeError(f"tracer_provider: {type(provider).__name__} is not a TracerProvider")


def _as_meter_provider(provider: object | None) -> MeterProvider | None:
    from opentelemetry.metrics import MeterProvider

    if provider is None or isinstance(provider, MeterProvider):
        return provider
    raise TypeError(f"meter_provider: {type(provider).__name__} is not a MeterProvider")
