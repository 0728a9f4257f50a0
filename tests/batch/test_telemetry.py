"""Traces and metrics (the ``otel`` extra): one span per job with a child per stage, the
batch's metrics, nothing imported without the extra, and a broken SDK breaks no job."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import textwrap
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import ReadableSpan, SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import StatusCode

import kling_async as kling

from .._helpers import StartEmulator, fast_client, test_account
from .test_batch import FAST_POLL, jobs_for, make_images, run


def in_memory() -> tuple[InMemorySpanExporter, TracerProvider, InMemoryMetricReader, MeterProvider]:
    """Providers whose spans and metrics the test reads back: (exporter, tracer provider,
    metric reader, meter provider)."""
    exporter = InMemorySpanExporter()
    tracers = TracerProvider()
    tracers.add_span_processor(SimpleSpanProcessor(exporter))
    reader = InMemoryMetricReader()
    return exporter, tracers, reader, MeterProvider(metric_readers=[reader])


def metric_points(reader: InMemoryMetricReader) -> dict[str, list[Any]]:
    data = reader.get_metrics_data()
    assert data is not None
    points: dict[str, list[Any]] = {}
    for resource in data.resource_metrics:
        for scope in resource.scope_metrics:
            assert scope.scope.name == "kling_async"
            for metric in scope.metrics:
                points.setdefault(metric.name, []).extend(metric.data.data_points)
    return points


async def test_ten_jobs_give_ten_job_spans_with_their_stages_and_the_metrics(
    start_emulator: StartEmulator, tmp_path: Path
) -> None:
    # a parallel limit of 3 under a window of 4: some creates meet 1303 and wait again (the
    # renders last long enough that the fourth create finds three running, even under load)
    emu, _ = await start_emulator(
        test_account(concurrency_limit=3), duration=(0.5, 0.5), video_bytes=1000
    )
    exporter, tracers, reader, meters = in_memory()
    paths = make_images(tmp_path / "in", 10)
    async with fast_client(emu) as client:
        outcomes, summary = await run(
            client,
            jobs_for(paths),
            tmp_path / "out",
            tracer_provider=tracers,
            meter_provider=meters,
        )
    assert {o.status for o in outcomes} == {kling.OutcomeStatus.SUCCEEDED}
    assert len(outcomes) == 10

    spans = exporter.get_finished_spans()
    jobs = [s for s in spans if s.name == "kling.job"]
    assert len(jobs) == 10
    by_outcome = {o.task_id: o for o in outcomes}
    children: dict[int, Counter[str]] = {}
    for span in spans:
        if span.name != "kling.job":
            assert span.parent is not None, span.name
            children.setdefault(span.parent.span_id, Counter())[span.name] += 1
    for job in jobs:
        assert job.context is not None
        attributes = job.attributes or {}
        outcome = by_outcome[str(attributes["kling.task_id"])]
        assert attributes["kling.model"] == outcome.job.model
        assert attributes["kling.mode"] == outcome.job.mode
        assert attributes["kling.job"] == outcome.name
        assert attributes["kling.outcome"] == "succeeded"
        assert outcome.task is not None
        assert attributes["kling.units"] == outcome.task.units
        assert job.status.status_code is not StatusCode.ERROR
        stages = children[job.context.span_id]
        assert set(stages) == {"kling.slot", "kling.create", "kling.render", "kling.download"}
        assert stages["kling.render"] == stages["kling.download"] == 1
        assert stages["kling.create"] == stages["kling.slot"]  # a 1303: slot and create again
        for child in spans:
            if child.parent is not None and child.parent.span_id == job.context.span_id:
                assert child.context is not None
                assert child.context.trace_id == job.context.trace_id
                times = (job.start_time, child.start_time, child.end_time, job.end_time)
                assert None not in times
                assert sorted(times) == list(times)

    points = metric_points(reader)
    assert sum(p.value for p in points["kling.creates"]) == 10
    assert sum(p.value for p in points["kling.tasks.in_flight"]) == 0
    assert summary.units > 0
    assert sum(p.value for p in points["kling.units"]) == summary.units
    (duration,) = points["kling.job.duration"]
    assert duration.count == 10
    assert duration.attributes == {"kling.model": "kling-v2-6", "kling.outcome": "succeeded"}
    limited = sum(p.value for p in points.get("kling.rate_limited", []))
    assert limited == summary.concurrency_limited > 0
    assert all(p.attributes["code"] == 1303 for p in points["kling.rate_limited"])


async def test_a_failed_job_span_is_an_error(start_emulator: StartEmulator, tmp_path: Path) -> None:
    emu, _ = await start_emulator(video_bytes=1000)
    exporter, tracers, _, _ = in_memory()
    missing = kling.ImageToVideo(image=tmp_path / "missing.png")
    async with fast_client(emu) as client:
        outcomes, _ = await run(client, [missing], tmp_path / "out", tracer_provider=tracers)
    assert [o.status for o in outcomes] == [kling.OutcomeStatus.INVALID]
    (job,) = [s for s in exporter.get_finished_spans() if s.name == "kling.job"]
    assert job.status.status_code is StatusCode.ERROR
    assert job.status.description == "ValidationError"
    assert (job.attributes or {})["kling.outcome"] == "invalid"


async def test_a_closed_engine_ends_its_open_spans(
    start_emulator: StartEmulator, tmp_path: Path
) -> None:
    emu, _ = await start_emulator(duration=(30.0, 30.0), video_bytes=1000)
    exporter, tracers, reader, meters = in_memory()
    paths = make_images(tmp_path / "in", 3)
    async with fast_client(emu) as client:
        engine = kling.BatchEngine(
            client, tmp_path / "out", poll=FAST_POLL, tracer_provider=tracers, meter_provider=meters
        )
        async with engine:
            for path in paths:
                await engine.submit(kling.ImageToVideo(image=path))
            for _ in range(500):
                if engine.states["running"] == 3:
                    break
                await asyncio.sleep(0.01)
            assert engine.states["running"] == 3
    jobs = [s for s in exporter.get_finished_spans() if s.name == "kling.job"]
    assert [(s.attributes or {})["kling.outcome"] for s in jobs] == ["unfinished"] * 3
    assert all((s.attributes or {}).get("kling.task_id") for s in jobs)
    points = metric_points(reader)
    assert sum(p.value for p in points["kling.creates"]) == 3
    assert sum(p.value for p in points["kling.tasks.in_flight"]) == 0


class Broken(SpanProcessor):
    """A span processor that raises on every span: the batch must not notice."""

    def on_start(self, span: Any, parent_context: Any = None) -> None:
        raise RuntimeError("broken exporter")

    def on_end(self, span: ReadableSpan) -> None:
        raise RuntimeError("broken exporter")


async def test_a_broken_exporter_breaks_no_job(
    start_emulator: StartEmulator, tmp_path: Path
) -> None:
    emu, _ = await start_emulator(video_bytes=1000)
    tracers = TracerProvider()
    tracers.add_span_processor(Broken())
    paths = make_images(tmp_path / "in", 3)
    async with fast_client(emu) as client:
        outcomes, summary = await run(
            client, jobs_for(paths), tmp_path / "out", tracer_provider=tracers
        )
    assert {o.status for o in outcomes} == {kling.OutcomeStatus.SUCCEEDED}
    assert summary.counts == {"succeeded": 3}


def test_a_provider_of_the_wrong_kind_is_refused() -> None:
    from kling_async.batch._telemetry import telemetry

    with pytest.raises(TypeError, match="TracerProvider"):
        telemetry(tracer_provider="not a provider")


def test_without_the_extra_nothing_is_imported_and_a_batch_runs(tmp_path: Path) -> None:
    script = textwrap.dedent(
        """
        import sys
        import kling_async, kling_async.batch
        from kling_async.batch._engine import BatchEngine  # the engine and its reporter
        assert not [m for m in sys.modules if m.startswith("opentelemetry")], "imported"
        sys.modules["opentelemetry"] = None  # the extra is not installed
        from kling_async.batch._telemetry import NO_TELEMETRY, telemetry
        assert telemetry() is NO_TELEMETRY
        print("ok")
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "ok"
