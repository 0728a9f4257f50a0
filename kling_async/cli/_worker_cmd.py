"""``kling-async worker`` and the queue side of ``kling-async animate --redis``."""

from __future__ import annotations

import importlib
import inspect
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import click

from ..batch import BatchSummary, Outcome, OutcomeStatus, PollPolicy
from ..models import ImageToVideo, TextToVideo
from ._exits import EXIT_FAILED, EXIT_TIMEOUT, EXIT_USAGE
from ._runner import command_runner
from ._settings import chosen_api, client_options

_MISSING = (
    "the workers need the 'workers' extra (SAQ and redis): pip install 'kling-async[workers]'"
)


def _workers() -> Any:
    """The workers package, or a usage error naming the extra to install."""
    try:
        from .. import workers
    except ImportError:
        raise click.UsageError(_MISSING) from None
    return workers


@click.command("worker")
@click.option(
    "--redis",
    "redis_url",
    envvar="KLING_REDIS_URL",
    required=True,
    help="Redis URL of the queue and the job store (env KLING_REDIS_URL), e.g. "
    "redis://host:6379/0 or unix:///run/redis.sock.",
)
@click.option(
    "--out",
    "out_dir",
    required=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="The shared folder the videos go to (the same for every worker).",
)
@click.option(
    "--concurrency",
    type=click.IntRange(min=1),
    default=5,
    show_default=True,
    help="Jobs this worker runs at once (with --shared-limits the account's limit is "
    "shared by all workers; with --own-limits give each its share of it).",
)
@click.option("--namespace", default="default", show_default=True, help="Queue and store name.")
@click.option(
    "--lease",
    type=click.FloatRange(min=0.5),
    default=30.0,
    show_default=True,
    help="Seconds a job stays claimed by a worker that stopped renewing it (died).",
)
@click.option(
    "--sweep",
    type=click.IntRange(min=1),
    default=5,
    show_default=True,
    help="Seconds between looks for queue jobs whose worker died.",
)
@click.option(
    "--prefetch",
    type=click.IntRange(min=0),
    default=1,
    show_default=True,
    help="Jobs taken ahead of --concurrency, ready for the next free slot.",
)
@click.option(
    "--polls-per-job",
    type=click.FloatRange(min=0.1),
    default=3.0,
    show_default=True,
    help="Status requests to spend per job: more notices ended tasks sooner.",
)
@click.option("--downloads", type=click.IntRange(min=1), default=4, show_default=True)
@click.option(
    "--shared-limits/--own-limits",
    default=True,
    show_default=True,
    help="Share the account's limits with every worker through the same Redis (learned "
    "parallel-task limit, slots as leases of --lease seconds, request pacing); "
    "--own-limits: each worker learns its own (N workers then oversubscribe the account).",
)
@click.option(
    "--on-output",
    default=None,
    metavar="MODULE:FUNCTION",
    help="An async function called as FUNCTION(path, result) with each video made, e.g. to "
    "upload it to object storage (make it idempotent).",
)
@client_options
@command_runner
async def worker_command(
    redis_url: str,
    out_dir: Path,
    concurrency: int,
    namespace: str,
    lease: float,
    sweep: int,
    prefetch: int,
    polls_per_job: float,
    downloads: int,
    shared_limits: bool,
    on_output: str | None,
    base_url: str | None,
    verbose: bool,
) -> None:
    """Run a worker: take jobs from the queue on Redis, make their videos in OUT.

    Run as many as you like, on as many hosts as share OUT (and the images enqueued by
    path). Each job is created exactly once: a worker claims it in the shared store before
    anything is sent, and a job whose worker died is resumed by another once its lease runs
    out. Stop with Ctrl-C or SIGTERM: running jobs are handed back. Credentials come from
    the environment (never from the queue).

    \b
    Example:
      kling-async worker --redis redis://queue-host:6379/0 --out /mnt/shared/videos
    """
    workers = _workers()
    settings = workers.WorkerSettings(
        redis_url=redis_url,
        out=out_dir,
        concurrency=concurrency,
        namespace=namespace,
        lease=lease,
        sweep=sweep,
        downloads=downloads,
        prefetch=prefetch,
        poll=PollPolicy(min_interval=0.05, requests_per_job=polls_per_job),
        on_output=_hook(on_output) if on_output else None,
    )
    shared = redis_url if shared_limits else None
    async with workers.make_client(
        base_url, shared_limits=shared, lease=lease, api=chosen_api()
    ) as client:
        await workers.run_worker(settings, client)


def _hook(spec: str) -> Any:
    """``module:function`` -> the async function (a usage error if it is not one)."""
    module_name, _, name = spec.partition(":")
    try:
        function = getattr(importlib.import_module(module_name), name)
    except (ImportError, AttributeError, ValueError) as exc:
        raise click.BadParameter(f"{spec!r}: {exc}", param_hint="--on-output") from None
    if not inspect.iscoroutinefunction(function):
        raise click.BadParameter(f"{spec!r} is not an async function", param_hint="--on-output")
    return function


async def animate_on_workers(
    redis_url: str,
    jobs: Sequence[tuple[str, ImageToVideo | TextToVideo]],
    bad: list[tuple[str, str]],
    out_dir: Path,
    as_json: bool,
    allow_unknown_models: bool,
    *,
    timeout: float | None = None,
    namespace: str = "default",
    heartbeat: int = 10,
) -> int:
    """``animate --redis``: enqueue the jobs ((source, job) pairs), follow them to their
    outcomes; the exit code: 0 all done, 1 some failed or invalid, 3 some timed out (or the
    wait did), 2 when Redis cannot be used (raised as ``RedisUnusable``)."""
    workers = _workers()
    from redis.exceptions import RedisError  # there with the workers extra; loaded when used

    queue = workers.make_queue(redis_url, namespace)
    summary = BatchSummary()
    summary_timeouts: list[bool] = []  # per outcome: its task timed out (exit 3, not 1)
    invalid = list(bad)
    try:
        queued, refused = await workers.enqueue(
            queue,
            jobs,
            heartbeat=heartbeat,
            api=chosen_api(),
            allow_unknown_models=allow_unknown_models,
        )
        invalid += refused
        for source, reason in invalid:
            message = {"event": "invalid", "source": source, "error": reason}
            click.echo(json.dumps(message) if as_json else f"invalid  {source}: {reason}")
        if not as_json:
            click.echo(f"queued {len(queued)} job(s) on {namespace!r}; waiting for the workers")

        def shown(outcome: Outcome, result: dict[str, Any]) -> None:
            summary.add(outcome)
            summary_timeouts.append(bool(result.get("timeout")))
            summary.units += result.get("units") or 0.0
            click.echo(_line(outcome, result, as_json))

        finished = await workers.follow(queue, queued, out_dir, shown, timeout=timeout)
    except (RedisError, OSError) as exc:
        raise RedisUnusable(exc) from None
    finally:
        await workers.close_queue(queue)
    _summary(summary, invalid, as_json)
    if not finished:
        click.echo("timed out waiting; the workers go on: run the same command to follow", err=True)
        return EXIT_TIMEOUT
    return exit_code(summary, len(invalid), sum(summary_timeouts))


def exit_code(summary: BatchSummary, invalid_rows: int, timed_out: int) -> int:
    """As ``animate`` without workers: 1 if a job failed (other than by timing out) or was
    invalid, else 3 if one timed out, else 0."""
    failed = summary.counts.get("failed", 0) + summary.counts.get("invalid", 0) + invalid_rows
    if failed > timed_out:
        return EXIT_FAILED
    return EXIT_TIMEOUT if timed_out else 0


class RedisUnusable(click.ClickException):
    """Redis cannot be reached or used: a configuration error (exit 2)."""

    exit_code = EXIT_USAGE

    def __init__(self, exc: BaseException) -> None:
        reason = (str(exc).splitlines() or [""])[0][:200]
        super().__init__(f"cannot use Redis at --redis: {type(exc).__name__}: {reason}")


def _line(outcome: Outcome, result: dict[str, Any], as_json: bool) -> str:
    if as_json:
        return json.dumps(
            {
                "event": "outcome",
                "name": outcome.name,
                "status": outcome.status.value,
                "job_id": outcome.job_id,
                "task_id": result.get("task_id"),
                "path": str(outcome.path) if outcome.path else None,
                "error": str(outcome.error) if outcome.error else None,
                "units": result.get("units"),
                "worker": result.get("worker"),
                "stored": result.get("stored"),
            }
        )
    if outcome.status is OutcomeStatus.SUCCEEDED:
        return f"done     {outcome.name} -> {outcome.path} (task {result.get('task_id')})"
    if outcome.status is OutcomeStatus.SKIPPED:
        return f"skipped  {outcome.name} -> {outcome.path} (done before)"
    label = "invalid " if outcome.status is OutcomeStatus.INVALID else "failed  "
    return f"{label} {outcome.name}: {outcome.error}"


def _summary(summary: BatchSummary, invalid: list[tuple[str, str]], as_json: bool) -> None:
    counts = summary.counts
    if as_json:
        record = {
            "event": "summary",
            "counts": dict(counts),
            "units": summary.units,
            "failures": [{"name": n, "error": e} for n, e in summary.failures],
            "invalid_rows": [{"source": s, "error": e} for s, e in invalid],
        }
        click.echo(json.dumps(record))
        return
    click.echo(
        f"summary: done {counts.get('succeeded', 0)}, skipped {counts.get('skipped', 0)}, "
        f"failed {counts.get('failed', 0)}, "
        f"invalid {counts.get('invalid', 0) + len(invalid)}, units {summary.units:g}"
    )
    for name, error in [*invalid, *summary.failures]:
        click.echo(f"  {name}: {error}")


__all__ = ["animate_on_workers", "worker_command"]
