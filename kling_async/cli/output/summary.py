"""The end of a run: what was counted (``Tally``), the summary — a table, or one JSON
record — and the exit code it makes."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import attrs
from rich import box
from rich.console import Console
from rich.table import Table

from ...batch import BatchSummary
from ...errors import NotSentError
from ...states import RUN_OK, RUN_STATUSES, RunStatus
from .._exits import EXIT_FAILED, EXIT_ONLY_INVALID, EXIT_TIMEOUT, EXIT_USAGE
from .._format import charged_text, money_record, units_money_text
from .._words import cli_words
from .statuses import LABELS, Duplicate, source_of


def _zero_counts() -> dict[RunStatus, int]:
    return dict.fromkeys(RUN_STATUSES, 0)


@attrs.define
class Tally:
    """What a run showed: each status's count (twins included), the first error that
    concerns the whole run, the jobs not sent, the failures and the twins."""

    counts: dict[RunStatus, int] = attrs.field(factory=_zero_counts)
    stopped: BaseException | None = None
    not_sent: list[str] = attrs.field(factory=list)
    failures: list[tuple[str, str]] = attrs.field(factory=list)
    duplicates: list[Duplicate] = attrs.field(factory=list)
    shown: int = 0
    #: A prepared file sent -> the input it was made from (``source_of``'s ``shown``).
    sources: dict[str, str] = attrs.field(factory=dict)


def summary_record(tally: Tally, summary: BatchSummary, event: str) -> dict[str, Any]:
    """The summary as one ``--json`` record (``summary``, or ``interrupted``)."""
    return {
        "event": event,
        "counts": dict(tally.counts),
        "units": summary.units,
        **money_record(summary.units, summary.cash),
        "elapsed_s": round(summary.elapsed, 2),
        "requests": summary.requests,
        "rate_limited_1302": summary.rate_limited,
        "concurrency_limited_1303": summary.concurrency_limited,
        "halted": summary.halted,
        "stopped": cli_words(str(tally.stopped)) if tally.stopped else None,
        RunStatus.NOT_SENT: list(tally.not_sent),
        "duplicates": [
            {"name": d.name, "source": d.source, "duplicate_of": d.of.name}
            for d in tally.duplicates
        ],
        "failures": [{"name": n, "error": e} for n, e in tally.failures],
    }


def print_summary(
    tally: Tally,
    summary: BatchSummary,
    *,
    live: bool,
    out_dir: Path | None,
    interrupted: bool = False,
) -> None:
    """The summary table, then the twins, the jobs not sent and each failure."""
    title = "Interrupted: summary so far" if interrupted else "Summary"
    table = Table(title=title, show_header=False, box=box.SQUARE if live else box.ASCII)
    counts = tally.counts
    for status in RUN_STATUSES:
        if counts[status] or status in (RunStatus.SUCCEEDED, RunStatus.FAILED):
            table.add_row(LABELS[status], f"{counts[status]:,}")
    if tally.duplicates:
        table.add_row("same job as another", f"{len(tally.duplicates):,} (copied)")
    rows: list[tuple[str, str]] = [
        ("time", f"{summary.elapsed:.1f} s"),
        ("units used", units_money_text(summary.units, places=4)),
        *([("charged in cash", charged_text(summary.cash))] if summary.cash else []),
        ("requests", f"{summary.requests:,}"),
        ("429s (1302 / 1303)", f"{summary.rate_limited} / {summary.concurrency_limited}"),
    ]
    for label, value in rows:
        table.add_row(label, value)
    console = Console(force_terminal=live, width=100)
    console.print(table)

    def say(line: str) -> None:
        console.print(line, markup=False, highlight=False)

    for line in _duplicate_lines(tally.duplicates, tally.sources):
        say(line)
    if tally.not_sent:
        say(
            f"not sent: {len(tally.not_sent)} job(s), as the run stopped creating (see "
            "'stopped' above); they stay pending for the next run"
        )
    for name, error in tally.failures:
        say(f"  {name}: {error}")
    ready = sum(counts[s] for s in RUN_OK)
    where = f", in {out_dir}" if out_dir is not None else ""
    say(f"{ready:,} of {tally.shown:,} video(s) done{where}")


def _duplicate_lines(duplicates: list[Duplicate], shown: dict[str, str]) -> list[str]:
    by_original: dict[str, list[str]] = {}
    sources: dict[str, str] = {}
    for dup in duplicates:
        by_original.setdefault(dup.of.name, []).append(Path(dup.source).name)
        sources[dup.of.name] = Path(source_of(dup.of, shown)).name
    lines = []
    for original, twins in by_original.items():
        names = twins[0] if len(twins) == 1 else f"{', '.join(twins[:-1])} and {twins[-1]}"
        verb = "is" if len(twins) == 1 else "are"
        lines.append(
            f"{names} {verb} the same job as {sources[original]} (same image and settings): "
            "made once, paid once, the video copied to each name"
        )
    return lines


def only_invalid_left(tally: Tally) -> bool:
    """Nothing is left that a rerun could do: no job failed, timed out or went unsent, none
    was made now (the others were done before), and some inputs are invalid."""
    counts = tally.counts
    others = (RunStatus.FAILED, RunStatus.TIMED_OUT, RunStatus.NOT_SENT, RunStatus.SUCCEEDED)
    return (
        tally.stopped is None
        and counts[RunStatus.INVALID] > 0
        and not any(counts[s] for s in others)
    )


def nothing_left_line(tally: Tally) -> str | None:
    """What a run that can do nothing more says (see ``only_invalid_left``), or None."""
    if not only_invalid_left(tally):
        return None
    count = tally.counts[RunStatus.INVALID]
    inputs, are, them = ("input", "is", "it") if count == 1 else ("inputs", "are", "them")
    return (
        f"nothing left that can be done: {count:,} {inputs} {are} invalid (fix {them}, or leave "
        f"{them} out; running again as it is changes nothing)"
    )


def exit_code(tally: Tally) -> int:
    """``animate``'s exit code: 2 when the credentials, the account or an API that could not
    be reached stopped the run, 4 when
    only invalid inputs are left (``only_invalid_left``), 1 when a job failed, was invalid
    or not sent, 3 when one timed out, else 0."""
    stopped = tally.stopped
    if stopped is not None and not (isinstance(stopped, NotSentError) and stopped.budget):
        return EXIT_USAGE  # credentials or account refused: the whole run, not a job
    if only_invalid_left(tally):
        return EXIT_ONLY_INVALID
    counts = tally.counts
    if counts[RunStatus.FAILED] or counts[RunStatus.INVALID] or counts[RunStatus.NOT_SENT]:
        return EXIT_FAILED
    if counts[RunStatus.TIMED_OUT]:
        return EXIT_TIMEOUT
    return 0
