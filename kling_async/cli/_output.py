"""How a batch shows itself: a live rich display on a terminal, a line per outcome otherwise,
or one JSON object per outcome for scripts; then a summary."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import click
from rich import box
from rich.console import Console
from rich.live import Live
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from ..batch import BatchEngine, BatchSummary, Outcome, OutcomeStatus

STATES = ("queued", "submitting", "running", "downloading", "done", "failed", "skipped", "invalid")
_FINAL = ("done", "failed", "skipped", "invalid")


def source_of(outcome: Outcome) -> str:
    image = getattr(outcome.job, "image", None) or getattr(outcome.job, "image_tail", None)
    return str(image) if isinstance(image, str | Path) else outcome.name


def outcome_record(outcome: Outcome) -> dict[str, Any]:
    return {
        "event": "outcome",
        "name": outcome.name,
        "source": source_of(outcome),
        "status": outcome.status.value,
        "job_id": outcome.job_id,
        "task_id": outcome.task_id,
        "path": str(outcome.path) if outcome.path else None,
        "error": str(outcome.error) if outcome.error else None,
        "units": outcome.task.units
        if outcome.task and outcome.status.value == "succeeded"
        else None,
    }


def summary_record(summary: BatchSummary) -> dict[str, Any]:
    return {
        "event": "summary",
        "counts": dict(summary.counts),
        "units": summary.units,
        "elapsed_s": round(summary.elapsed, 2),
        "requests": summary.requests,
        "rate_limited_1302": summary.rate_limited,
        "concurrency_limited_1303": summary.concurrency_limited,
        "halted": summary.halted,
        "failures": [{"name": n, "error": e} for n, e in summary.failures],
    }


class Display:
    """One of three modes: ``json``, ``plain`` (a line per outcome) or ``live`` (rich)."""

    def __init__(self, mode: str, total: int | None, engine: BatchEngine) -> None:
        self.mode = mode
        self.engine = engine
        self.console = Console(stderr=False)
        self.started = time.monotonic()
        self._live: Live | None = None
        self._progress: Progress | None = None
        self._bar: Any = None
        self.total = total

    def __enter__(self) -> Display:
        if self.mode == "live":
            self._progress = Progress(
                TextColumn("[bold]animating"),
                BarColumn(),
                MofNCompleteColumn(),
                TextColumn("ETA"),
                TimeRemainingColumn(),
                console=self.console,
            )
            self._bar = self._progress.add_task("jobs", total=self.total)
            self._live = Live(
                self._render(),
                console=self.console,
                refresh_per_second=4,
                get_renderable=self._render,
            )
            self._live.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._live is not None:
            self._live.__exit__(None, None, None)

    def _render(self) -> Table:
        grid = Table.grid(padding=(0, 2))
        if self._progress is not None:
            finished = sum(self.engine.states[s] for s in _FINAL)
            self._progress.update(self._bar, completed=finished, total=self.total)
            grid.add_row(self._progress)
        counts = "  ".join(f"{s} {max(0, self.engine.states[s])}" for s in STATES)
        elapsed = max(0.1, time.monotonic() - self.started)
        done = self.engine.states["done"]
        pacer = self.engine.client.pacer.stats.rate_limited
        grid.add_row(
            f"{counts}  |  {done / elapsed:.2f} videos/s  |  429s: "
            f"{pacer + self.engine.concurrency_limited}"
        )
        return grid

    def outcome(self, outcome: Outcome) -> None:
        if self.mode == "json":
            click.echo(json.dumps(outcome_record(outcome)))
            return
        line = _line(outcome)
        if self._live is not None:
            self._live.console.print(line, highlight=False, markup=False)
        else:
            click.echo(line)

    def summary(self, summary: BatchSummary, bad_rows: list[tuple[str, str]]) -> None:
        invalid_rows = len(bad_rows)
        if self.mode == "json":
            record = summary_record(summary)
            record["invalid_rows"] = [{"source": s, "error": e} for s, e in bad_rows]
            click.echo(json.dumps(record))
            return
        table = Table(
            title="Summary", show_header=False, box=box.SQUARE if self.mode == "live" else box.ASCII
        )
        for label, value in (
            ("done", summary.counts.get("succeeded", 0)),
            ("skipped (done before)", summary.counts.get("skipped", 0)),
            ("failed", summary.counts.get("failed", 0)),
            ("invalid", summary.counts.get("invalid", 0) + invalid_rows),
            ("time", f"{summary.elapsed:.1f} s"),
            ("units used", f"{summary.units:g}"),
            ("requests", summary.requests),
            ("429s (1302 / 1303)", f"{summary.rate_limited} / {summary.concurrency_limited}"),
        ):
            table.add_row(label, str(value))
        console = Console(force_terminal=self.mode == "live", width=100)
        console.print(table)
        if summary.halted:
            console.print(f"stopped creating: {summary.halted}", markup=False)
        for name, error in [*bad_rows, *summary.failures]:
            console.print(f"  {name}: {error}", markup=False, highlight=False)


def _line(outcome: Outcome) -> str:
    status = outcome.status
    if status is OutcomeStatus.SUCCEEDED:
        return f"done     {outcome.name} -> {outcome.path} (task {outcome.task_id})"
    if status is OutcomeStatus.SKIPPED:
        return f"skipped  {outcome.name} -> {outcome.path} (done in an earlier run)"
    label = "invalid " if status is OutcomeStatus.INVALID else "failed  "
    return f"{label} {outcome.name}: {outcome.error}"
