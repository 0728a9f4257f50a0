"""How a batch shows itself: a live rich display on a terminal, a line per outcome otherwise,
or one JSON object per outcome for scripts; then a summary.

One vocabulary everywhere (lines, JSON, summary): the ``RunStatus`` words (see
``statuses``). An error that concerns the whole run (credentials, the account, a used-up
pack) is said once, with a hint — not once per image.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.live import Live
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from ...batch import BatchEngine, BatchSummary, Outcome
from ...errors import (
    AuthenticationError,
    BalanceExhaustedError,
    NotSentError,
    ServerUnreachableError,
)
from ...states import ACTIVE_STAGES, RUN_OK, RunStatus
from .._words import cli_words
from .records import duplicate_record, invalid_record, kept_record, outcome_record
from .statuses import LABELS, LINE_LABELS, Duplicate, run_error, status_of
from .summary import Tally, print_summary, summary_record

#: Statuses whose every job is listed under the summary, with its error.
_LISTED = frozenset({RunStatus.FAILED, RunStatus.TIMED_OUT, RunStatus.INVALID})


class Display:
    """One of three modes: ``json``, ``plain`` (a line per outcome) or ``live`` (rich).

    It counts what it shows (twins included) in its ``tally``, and says the first error that
    concerns the whole run once."""

    def __init__(
        self,
        mode: str,
        total: int | None,
        engine: BatchEngine | None,
        *,
        quiet: bool = False,
        out_dir: Path | None = None,
        sources: dict[str, str] | None = None,
    ) -> None:
        self.mode = mode
        self.out_dir = out_dir
        self.engine = engine
        self.quiet = quiet
        self.console = Console(stderr=False)
        self.started = time.monotonic()
        self._live: Live | None = None
        self._progress: Progress | None = None
        self._bar: Any = None
        self.total = total
        self.tally = Tally(sources=sources or {})

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
            self._live = None

    def _render(self) -> Table:
        grid = Table.grid(padding=(0, 2))
        if self._progress is not None:
            self._progress.update(self._bar, completed=self.tally.shown, total=self.total)
            grid.add_row(self._progress)
        if self.engine is None:  # a run on workers: their engines are elsewhere
            return grid
        states = self.engine.states
        busy = "  ".join(f"{s} {max(0, states[s])}" for s in ACTIVE_STAGES)
        counts = self.tally.counts
        ended = "  ".join(f"{LABELS[s]} {n}" for s, n in counts.items() if n)
        elapsed = max(0.1, time.monotonic() - self.started)
        pacer = self.engine.client.pacer.stats.rate_limited
        grid.add_row(
            f"{busy}  {ended}  |  {counts[RunStatus.SUCCEEDED] / elapsed:.2f} videos/s  |  "
            f"429s: {pacer + self.engine.concurrency_limited}"
        )
        return grid

    # -- what happened ---------------------------------------------------------------
    def _say(self, line: str) -> None:
        if self._live is not None:
            self._live.console.print(line, highlight=False, markup=False)
        else:
            click.echo(line)

    def _json(self, record: dict[str, Any]) -> None:
        click.echo(json.dumps(record))

    def _count(self, status: RunStatus) -> None:
        self.tally.counts[status] += 1
        self.tally.shown += 1

    def _stop(self, error: BaseException, name: str) -> None:
        """A whole-run error: counted for its job, said the first time only."""
        self.tally.not_sent.append(name)
        if self.tally.stopped is not None:
            return
        self.tally.stopped = error
        hint = _stop_hint(error)
        if self.mode == "json":
            self._json({"event": "stopped", "error": cli_words(str(error)), "hint": hint})
            return
        self._say(f"stopped   {cli_words(str(error))}")
        self._say(f"          hint: {hint}")

    def outcome(self, outcome: Outcome) -> None:
        status = status_of(outcome)
        self._count(status)
        error = run_error(outcome)
        if error is not None:
            self._stop(error, outcome.name)
            if self.mode == "json":
                self._json(outcome_record(outcome, self.tally.sources))
            return
        if status in _LISTED:
            self.tally.failures.append((outcome.name, cli_words(str(outcome.error))))
        if self.mode == "json":
            self._json(outcome_record(outcome, self.tally.sources))
        elif not self.quiet or status not in RUN_OK:
            self._say(_line(outcome, status))

    def duplicate(self, dup: Duplicate) -> None:
        """A twin's outcome: the same as its original's, with its own file."""
        status = dup.status
        self._count(status)
        self.tally.duplicates.append(dup)
        if status is RunStatus.NOT_SENT:
            self.tally.not_sent.append(dup.name)
            if self.mode == "json":
                self._json(duplicate_record(dup))
            return
        if dup.error is not None:
            self.tally.failures.append((dup.name, dup.error))
        elif status in _LISTED:
            self.tally.failures.append((dup.name, f"the same job as {dup.of.name} (see there)"))
        if self.mode == "json":
            self._json(duplicate_record(dup))
        elif not self.quiet or status not in RUN_OK:
            where = f" -> {dup.path}" if dup.path else ""
            self._say(f"{LINE_LABELS[status]} {dup.name}{where} (the same image as {dup.of.name})")

    def kept(self, name: str, source: str, path: Path) -> None:
        """``--no-clobber``: an input left out because a file not made here has its name."""
        self._count(RunStatus.SKIPPED)
        if self.mode == "json":
            self._json(kept_record(name, source, str(path)))
        elif not self.quiet:
            self._say(
                f"{LINE_LABELS[RunStatus.SKIPPED]} {name} -> {path} (a file no run in this "
                "folder made is there; --no-clobber keeps it)"
            )

    def invalid_row(self, source: str, reason: str) -> None:
        self.tally.counts[RunStatus.INVALID] += 1
        self.tally.failures.append((source, cli_words(reason)))
        if self.mode == "json":
            self._json(invalid_record(source, cli_words(reason)))
        else:
            click.echo(f"{LINE_LABELS[RunStatus.INVALID]} {source}: {cli_words(reason)}")

    def skipped_inputs(self, notes: list[str]) -> None:
        """What was left out of the input, one line per kind (files not taken as images...)."""
        for note in notes:
            if self.mode == "json":
                self._json({"event": "ignored", "note": note})
            else:
                click.echo(f"ignored   {note}")

    # -- the end ---------------------------------------------------------------------
    def summary(self, summary: BatchSummary, *, interrupted: bool = False) -> None:
        if self.mode == "json":
            event = "interrupted" if interrupted else "summary"
            self._json(summary_record(self.tally, summary, event))
            return
        live = self.mode == "live"
        print_summary(self.tally, summary, live=live, out_dir=self.out_dir, interrupted=interrupted)


def _stop_hint(error: BaseException) -> str:
    if isinstance(error, NotSentError) and error.budget:
        option = "--max-cost" if error.kind == "max_cost" else "--max-units"
        return f"raise {option} (it counts across runs of this folder), then run again"
    if isinstance(error, BalanceExhaustedError):
        return (
            "top the resource pack up, then run the same command again to continue: "
            "videos already made are kept, nothing is paid twice"
        )
    if isinstance(error, ServerUnreachableError):
        return (
            f"check that {error.base_url} is the API (--base-url, "
            "KLING_BASE_URL) and that this machine reaches it, then run the same command again"
        )
    if isinstance(error, AuthenticationError):
        return (
            "check KLING_ACCESS_KEY / KLING_SECRET_KEY (or KLING_API_KEY), then run the same "
            "command again: nothing more was sent, nothing done is lost"
        )
    return (
        "the account was refused: check it in Kling's console, then run the same command "
        "again: nothing more was sent, nothing done is lost"
    )


def _line(outcome: Outcome, status: RunStatus) -> str:
    label = LINE_LABELS[status]
    if status is RunStatus.SUCCEEDED:
        return f"{label} {outcome.name} -> {outcome.path} (task {outcome.task_id})"
    if status is RunStatus.SKIPPED:
        return f"{label} {outcome.name} -> {outcome.path} (done in an earlier run)"
    return f"{label} {outcome.name}: {cli_words(str(outcome.error))}"
