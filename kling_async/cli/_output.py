"""How a batch shows itself: a live rich display on a terminal, a line per outcome otherwise,
or one JSON object per outcome for scripts; then a summary.

One vocabulary everywhere (lines, JSON, summary): ``succeeded``, ``skipped`` (done in an
earlier run), ``failed``, ``invalid`` (refused before sending), ``not_sent`` (the run stopped
creating: credentials or account refused, or ``--max-units`` reached) and ``timed_out``.
An error that concerns the whole run (credentials, the account, a used-up pack) is said once,
with a hint — not once per image.
"""

from __future__ import annotations

import json
import re
import time
from pathlib import Path
from typing import Any

import attrs
import click
from rich import box
from rich.console import Console
from rich.live import Live
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from ..batch import BatchEngine, BatchSummary, Outcome, OutcomeStatus
from ..errors import (
    AccountError,
    AuthenticationError,
    BalanceExhaustedError,
    NotSentError,
    TaskTimeoutError,
)

#: Statuses in the order the summary lists them.
STATUSES = ("succeeded", "skipped", "failed", "timed_out", "invalid", "not_sent")
_LABELS = {
    "succeeded": "succeeded",
    "skipped": "skipped (done before)",
    "failed": "failed",
    "timed_out": "timed out",
    "invalid": "invalid",
    "not_sent": "not sent",
}
_ENGINE_FINAL = ("done", "failed", "skipped", "invalid")
#: SDK spellings in error texts -> what a command-line user types.
_CLI_WORDS = [
    (re.compile(r"\ballow_unknown_models=True\b"), "--allow-unknown-models"),
    (re.compile(r"^max_units\b"), "--max-units"),
    (re.compile(r"\bsound=True\b"), "--sound"),
    (re.compile(r"\bsound=False\b"), "--no-sound"),
    (re.compile(r"\bleave sound unset\b"), "leave out --no-sound"),
    (re.compile(r"\(voices=\.\.\.\)"), "(--voice)"),
    (re.compile(r"\(multi_shot / multi_prompt\)"), "(--multi-prompt)"),
    (re.compile(r"\(element_list\)"), "(--element)"),
    (re.compile(r"\(image_tail\)"), "(--end-frame)"),
]
#: A not-sent job's error in JSON: the cause is said once, in the ``stopped`` event.
_NOT_SENT = "not sent: the run stopped creating (see the 'stopped' event)"
_ASPECT = re.compile(r"aspect ratio (\d+):(\d+) is outside")


def cli_words(text: str) -> str:
    """An SDK message in the words of the command line (``--sound``, not ``sound=True``),
    with aspect ratios reduced (``3:1 (1500x500)``, not ``1500:500``)."""
    for pattern, words in _CLI_WORDS:
        text = pattern.sub(words, text)

    def aspect(match: re.Match[str]) -> str:
        width, height = int(match[1]), int(match[2])
        ratio = width / height if height else 0.0
        shown = f"{ratio:.3g}:1" if ratio >= 1 else f"1:{1 / ratio:.3g}" if ratio else "0"
        return f"aspect ratio {shown} ({width}x{height}) is outside"

    return _ASPECT.sub(aspect, text)


def units_text(value: float) -> str:
    """``1 unit``, ``1.5 units``, ``1,000,000 units``."""
    whole = value == int(value)
    number = f"{int(value):,}" if whole else f"{value:,.4f}".rstrip("0").rstrip(".")
    return f"{number} unit" if value == 1 else f"{number} units"


def run_error(outcome: Outcome) -> BaseException | None:
    """The error, when it concerns the whole run rather than this job: the credentials or
    the account were refused (the engine stops creating), or the job was not sent because
    of such an error or the budget."""
    error = outcome.error
    if isinstance(error, AuthenticationError | AccountError):
        return error
    if isinstance(error, NotSentError) and error.kind in ("halted", "max_units"):
        return error
    return None


def status_of(outcome: Outcome) -> str:
    """The job's status in the CLI's vocabulary (see the module's docstring)."""
    if outcome.status is OutcomeStatus.FAILED:
        if run_error(outcome) is not None:
            return "not_sent"
        if isinstance(outcome.error, TaskTimeoutError):
            return "timed_out"
    return outcome.status.value


def source_of(outcome: Outcome) -> str:
    image = getattr(outcome.job, "image", None) or getattr(outcome.job, "image_tail", None)
    return str(image) if isinstance(image, str | Path) else outcome.name


@attrs.frozen
class Duplicate:
    """An input whose job is the same as another's (same image and settings): made once,
    the video copied to its own name."""

    name: str
    source: str
    path: Path | None
    of: Outcome
    #: Why its copy could not be made (the original's video is fine).
    error: str | None = None

    @property
    def status(self) -> str:
        return "failed" if self.error is not None else status_of(self.of)


def outcome_record(outcome: Outcome) -> dict[str, Any]:
    status = status_of(outcome)
    return {
        "event": "outcome",
        "name": outcome.name,
        "source": source_of(outcome),
        "status": status,
        "job_id": outcome.job_id,
        "task_id": outcome.task_id,
        "path": str(outcome.path) if outcome.path else None,
        "error": (
            _NOT_SENT
            if status == "not_sent"
            else cli_words(str(outcome.error))
            if outcome.error
            else None
        ),
        "units": outcome.task.units if outcome.task and status == "succeeded" else None,
        "duplicate_of": None,
    }


def duplicate_record(dup: Duplicate) -> dict[str, Any]:
    record = outcome_record(dup.of)
    record.update(
        name=dup.name,
        source=dup.source,
        path=str(dup.path) if dup.path else None,
        units=0 if record["status"] == "succeeded" else None,  # paid once, by the original
        duplicate_of=dup.of.name,
    )
    if dup.error is not None:
        record.update(status="failed", error=dup.error, units=None)
    return record


class Display:
    """One of three modes: ``json``, ``plain`` (a line per outcome) or ``live`` (rich).

    It counts what it shows (twins included) and remembers the first error that concerns the
    whole run, said once."""

    def __init__(
        self,
        mode: str,
        total: int | None,
        engine: BatchEngine | None,
        *,
        quiet: bool = False,
        out_dir: Path | None = None,
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
        self.counts: dict[str, int] = dict.fromkeys(STATUSES, 0)
        #: The first error that concerns the whole run (said once), and every job not sent.
        self.stopped: BaseException | None = None
        self.not_sent: list[str] = []
        self.failures: list[tuple[str, str]] = []
        self.duplicates: list[Duplicate] = []
        self.shown = 0

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
            self._progress.update(self._bar, completed=self.shown, total=self.total)
            grid.add_row(self._progress)
        if self.engine is None:  # a run on workers: their engines are elsewhere
            return grid
        states = self.engine.states
        busy = "  ".join(
            f"{s} {max(0, states[s])}" for s in ("queued", "submitting", "running", "downloading")
        )
        ended = "  ".join(f"{_LABELS[s]} {n}" for s, n in self.counts.items() if n)
        elapsed = max(0.1, time.monotonic() - self.started)
        pacer = self.engine.client.pacer.stats.rate_limited
        grid.add_row(
            f"{busy}  {ended}  |  {self.counts['succeeded'] / elapsed:.2f} videos/s  |  "
            f"429s: {pacer + self.engine.concurrency_limited}"
        )
        return grid

    # -- what happened ---------------------------------------------------------------
    def _say(self, line: str) -> None:
        if self._live is not None:
            self._live.console.print(line, highlight=False, markup=False)
        else:
            click.echo(line)

    def _stop(self, error: BaseException, name: str) -> None:
        """A whole-run error: counted for its job, said the first time only."""
        self.not_sent.append(name)
        if self.stopped is not None:
            return
        self.stopped = error
        hint = _stop_hint(error)
        if self.mode == "json":
            record = {"event": "stopped", "error": cli_words(str(error)), "hint": hint}
            click.echo(json.dumps(record))
            return
        self._say(f"stopped   {cli_words(str(error))}")
        self._say(f"          hint: {hint}")

    def outcome(self, outcome: Outcome) -> None:
        status = status_of(outcome)
        self.counts[status] += 1
        self.shown += 1
        error = run_error(outcome)
        if error is not None:
            self._stop(error, outcome.name)
            if self.mode == "json":
                click.echo(json.dumps(outcome_record(outcome)))
            return
        if status in ("failed", "timed_out", "invalid"):
            self.failures.append((outcome.name, cli_words(str(outcome.error))))
        if self.mode == "json":
            click.echo(json.dumps(outcome_record(outcome)))
        elif not self.quiet or status not in ("succeeded", "skipped"):
            self._say(_line(outcome, status))

    def duplicate(self, dup: Duplicate) -> None:
        """A twin's outcome: the same as its original's, with its own file."""
        status = dup.status
        self.counts[status] += 1
        self.shown += 1
        self.duplicates.append(dup)
        if status == "not_sent":
            self.not_sent.append(dup.name)
            if self.mode == "json":
                click.echo(json.dumps(duplicate_record(dup)))
            return
        if dup.error is not None:
            self.failures.append((dup.name, dup.error))
        elif status in ("failed", "timed_out", "invalid"):
            self.failures.append((dup.name, f"the same job as {dup.of.name} (see there)"))
        if self.mode == "json":
            click.echo(json.dumps(duplicate_record(dup)))
        elif not self.quiet or status not in ("succeeded", "skipped"):
            where = f" -> {dup.path}" if dup.path else ""
            self._say(f"{_LABEL_OF[status]} {dup.name}{where} (the same image as {dup.of.name})")

    def kept(self, name: str, source: str, path: Path) -> None:
        """``--no-clobber``: an input left out because a file not made here has its name."""
        self.counts["skipped"] += 1
        self.shown += 1
        if self.mode == "json":
            record = {
                "event": "outcome",
                "name": name,
                "source": source,
                "status": "skipped",
                "path": str(path),
                "reason": "no_clobber",
            }
            click.echo(json.dumps(record))
        elif not self.quiet:
            self._say(
                f"skipped   {name} -> {path} (a file no run in this folder made is there; "
                "--no-clobber keeps it)"
            )

    def invalid_row(self, source: str, reason: str) -> None:
        self.counts["invalid"] += 1
        self.failures.append((source, cli_words(reason)))
        if self.mode == "json":
            record = {"event": "invalid", "source": source, "error": cli_words(reason)}
            click.echo(json.dumps(record))
        else:
            click.echo(f"{_LABEL_OF['invalid']} {source}: {cli_words(reason)}")

    def skipped_inputs(self, notes: list[str]) -> None:
        """What was left out of the input, one line per kind (files not jpg/png...)."""
        for note in notes:
            if self.mode == "json":
                click.echo(json.dumps({"event": "ignored", "note": note}))
            else:
                click.echo(f"ignored   {note}")

    # -- the end ---------------------------------------------------------------------
    def record(self, summary: BatchSummary, event: str = "summary") -> dict[str, Any]:
        return {
            "event": event,
            "counts": dict(self.counts),
            "units": summary.units,
            "elapsed_s": round(summary.elapsed, 2),
            "requests": summary.requests,
            "rate_limited_1302": summary.rate_limited,
            "concurrency_limited_1303": summary.concurrency_limited,
            "halted": summary.halted,
            "stopped": cli_words(str(self.stopped)) if self.stopped else None,
            "not_sent": list(self.not_sent),
            "duplicates": [
                {"name": d.name, "source": d.source, "duplicate_of": d.of.name}
                for d in self.duplicates
            ],
            "failures": [{"name": n, "error": e} for n, e in self.failures],
        }

    def summary(self, summary: BatchSummary, *, interrupted: bool = False) -> None:
        event = "interrupted" if interrupted else "summary"
        if self.mode == "json":
            click.echo(json.dumps(self.record(summary, event)))
            return
        title = "Interrupted: summary so far" if interrupted else "Summary"
        table = Table(
            title=title, show_header=False, box=box.SQUARE if self.mode == "live" else box.ASCII
        )
        for status in STATUSES:
            if self.counts[status] or status in ("succeeded", "failed"):
                table.add_row(_LABELS[status], f"{self.counts[status]:,}")
        if self.duplicates:
            table.add_row("same job as another", f"{len(self.duplicates):,} (copied)")
        rows: list[tuple[str, str]] = [
            ("time", f"{summary.elapsed:.1f} s"),
            ("units used", units_text(summary.units)),
            ("requests", f"{summary.requests:,}"),
            ("429s (1302 / 1303)", f"{summary.rate_limited} / {summary.concurrency_limited}"),
        ]
        for label, value in rows:
            table.add_row(label, value)
        console = Console(force_terminal=self.mode == "live", width=100)
        console.print(table)
        for line in _duplicate_lines(self.duplicates):
            console.print(line, markup=False, highlight=False)
        if self.not_sent:
            console.print(
                f"not sent: {len(self.not_sent)} job(s), as the run stopped creating (see "
                "'stopped' above); they stay pending for the next run",
                markup=False,
                highlight=False,
            )
        for name, error in self.failures:
            console.print(f"  {name}: {error}", markup=False, highlight=False)
        ready = self.counts["succeeded"] + self.counts["skipped"]
        where = f", in {self.out_dir}" if self.out_dir is not None else ""
        console.print(
            f"{ready:,} of {self.shown:,} video(s) done{where}", markup=False, highlight=False
        )


def _duplicate_lines(duplicates: list[Duplicate]) -> list[str]:
    by_original: dict[str, list[str]] = {}
    sources: dict[str, str] = {}
    for dup in duplicates:
        by_original.setdefault(dup.of.name, []).append(Path(dup.source).name)
        sources[dup.of.name] = Path(source_of(dup.of)).name
    lines = []
    for original, twins in by_original.items():
        names = twins[0] if len(twins) == 1 else f"{', '.join(twins[:-1])} and {twins[-1]}"
        verb = "is" if len(twins) == 1 else "are"
        lines.append(
            f"{names} {verb} the same job as {sources[original]} (same image and settings): "
            "made once, paid once, the video copied to each name"
        )
    return lines


def _stop_hint(error: BaseException) -> str:
    if isinstance(error, NotSentError) and error.kind == "max_units":
        return "raise --max-units (it counts across runs of this folder), then run again"
    if isinstance(error, BalanceExhaustedError):
        return (
            "top the resource pack up, then run the same command again to continue: "
            "videos already made are kept, nothing is paid twice"
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


_LABEL_OF = {
    "succeeded": "succeeded",
    "skipped": "skipped  ",
    "failed": "failed   ",
    "timed_out": "timed out",
    "invalid": "invalid  ",
    "not_sent": "not sent ",
}


def _line(outcome: Outcome, status: str) -> str:
    label = _LABEL_OF[status]
    if status == "succeeded":
        return f"{label} {outcome.name} -> {outcome.path} (task {outcome.task_id})"
    if status == "skipped":
        return f"{label} {outcome.name} -> {outcome.path} (done in an earlier run)"
    return f"{label} {outcome.name}: {cli_words(str(outcome.error))}"
