"""``kling-async worker`` and the queue side of ``kling-async animate --redis``."""

from __future__ import annotations

import asyncio
import importlib
import inspect
import time
from collections.abc import Sequence
from functools import partial
from pathlib import Path
from typing import Any, Protocol

import attrs
import click

from ..batch import BatchSummary, Outcome, PollPolicy
from ..errors import JournalError
from ..governor import GIVE_UP_AFTER
from ..store import masked
from ._exits import EXIT_USAGE
from ._listen import CallbackReceiver, check_listen, listen_options, shown
from ._options import downloads_option, number_option
from ._runner import command_runner
from ._settings import chosen_api, client_options, out_option
from .inputs import BadRow, Input
from .output import Display, Duplicate

_MISSING = (
    "the workers need the 'workers' extra (SAQ and redis): pip install 'kling-async[workers]'"
)


#: ``--redis-grace``, on ``worker`` and ``animate --redis``.
redis_grace_option = number_option(
    "--redis-grace",
    click.FloatRange(min=0),
    "Seconds an outage of Redis (a restart, a network blip) is waited out, with back-off, "
    "before giving up (exit 2).",
    default=GIVE_UP_AFTER,
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
@out_option("The shared folder the videos go to (the same for every worker).", required=True)
@number_option(
    "--concurrency",
    click.IntRange(min=1),
    "Jobs this worker runs at once (with --shared-limits the account's limit is "
    "shared by all workers; with --own-limits give each its share of it).",
    default=5,
)
@click.option("--namespace", default="default", show_default=True, help="Queue and store name.")
@number_option(
    "--lease",
    click.FloatRange(min=0.5),
    "Seconds a job stays claimed by a worker that stopped renewing it (died).",
    default=30.0,
)
@number_option(
    "--sweep",
    click.IntRange(min=1),
    "Seconds between looks for queue jobs whose worker died.",
    default=5,
)
@number_option(
    "--prefetch",
    click.IntRange(min=0),
    "Jobs taken ahead of --concurrency, ready for the next free slot.",
    default=1,
)
@number_option(
    "--polls-per-job",
    click.FloatRange(min=0.1),
    "Status requests to spend per job: more notices ended tasks sooner.",
    default=3.0,
)
@downloads_option
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
@listen_options
@click.option(
    "--callback-url",
    default=None,
    help="With --listen: the URL that reaches it ({port}: the port bound); every job this "
    "worker creates asks Kling to post its callbacks there.",
)
@redis_grace_option
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
    listen: tuple[str, int] | None,
    webhook_secret: str | None,
    allow_unsigned_callbacks: bool,
    callback_url: str | None,
    redis_grace: float,
    base_url: str | None,
    verbose: bool,
) -> None:
    """Run a worker: take jobs from the queue on Redis, make their videos in OUT.

    Run as many as you like, on as many hosts as share OUT (and the images enqueued by
    path). Each job is created exactly once: a worker claims it in the shared store before
    anything is sent, and a job whose worker died is resumed by another once its lease runs
    out. Stop with Ctrl-C or SIGTERM: running jobs are handed back. Credentials come from
    the environment (never from the queue). An outage of Redis is waited out for
    --redis-grace seconds; a Redis unreachable at the start is a configuration error (exit 2).

    \b
    Example:
      kling-async worker --redis redis://queue-host:6379/0 --out /mnt/shared/videos
      kling-async worker --redis redis://queue-host:6379/0 --out /mnt/shared/videos \\
          --listen 0.0.0.0:8080 --callback-url https://worker-1.example:8080/kling
    """
    check_listen(listen, callback_url, webhook_secret, allow_unsigned_callbacks, queued=False)
    if listen is None and callback_url is not None:
        raise click.UsageError(
            f"--callback-url {callback_url}: only with --listen on a worker (a job enqueued "
            "with a callback URL keeps its own)"
        )
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
        redis_grace=redis_grace,
    )
    shared = redis_url if shared_limits else None
    async with workers.make_client(
        base_url, shared_limits=shared, lease=lease, redis_grace=redis_grace, api=chosen_api()
    ) as client:
        say = partial(click.echo, err=True)
        if listen is None:
            await workers.run_worker(settings, client, say=say)
            return
        async with CallbackReceiver(
            listen, webhook_secret, allow_unsigned=allow_unsigned_callbacks
        ) as receiver:
            url = receiver.callback_url(callback_url or "")
            say(f"receiving callbacks on {shown(receiver.address)} (Kling posts them to {url})")
            try:
                await workers.run_worker(
                    attrs.evolve(settings, callback_url=url),
                    client,
                    say=say,
                    on_engine=lambda engine: receiver.feed(engine.notify),
                )
            finally:
                say(receiver.summary())


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


class TwinCopier(Protocol):
    """Gives each twin of a finished job its own copy of the video (``animate``'s)."""

    async def copies(self, outcome: Outcome) -> list[Duplicate]: ...


async def animate_on_workers(
    redis_url: str,
    unique: Sequence[Input],
    names: dict[int, str | None],
    bad: Sequence[BadRow],
    notes: Sequence[str],
    display: Display,
    copier: TwinCopier,
    out_dir: Path,
    allow_unknown_models: bool,
    *,
    timeout: float | None = None,
    namespace: str = "default",
    heartbeat: int = 10,
    budget_units: float | None = None,
    grace: float = GIVE_UP_AFTER,
) -> bool:
    """``animate --redis``: enqueue the jobs (each ``Input`` with its output name), follow
    them to their outcomes and show them on ``display`` as a local run shows its own (the
    same events, lines and summary); twins get their copies from ``copier``. False when the
    wait timed out (the jobs go on in the workers). ``budget_units``: the units the queue's
    workers may commit in all, across runs (None: no limit). Raises ``RedisUnusable`` (exit
    2) when Redis cannot be used: unreachable at the start, or for more than ``grace``
    seconds on end later (an outage is waited out, saying so once, and once when it is
    over)."""
    workers = _workers()
    from redis.exceptions import RedisError  # there with the workers extra; loaded when used

    from ..store import RedisOutage, RedisOutageError

    outage = RedisOutage(redis_url, grace=grace, say=lambda line: click.echo(line, err=True))
    queue = workers.make_queue(redis_url, namespace, outage)
    summary = BatchSummary()
    started = time.monotonic()
    finished = False
    try:
        display.skipped_inputs(list(notes))
        for row in bad:
            display.invalid_row(row.source, row.reason)
        if unique:
            await _set_budget(redis_url, namespace, out_dir, budget_units)
        queued, refused = await workers.enqueue(
            queue,
            [(item.source, item.job, names.get(id(item.job))) for item in unique],
            heartbeat=heartbeat,
            api=chosen_api(),
            allow_unknown_models=allow_unknown_models,
        )
        for outcome in refused:
            summary.add(outcome)
            display.outcome(outcome)
        click.echo(
            f"queued {len(queued)} job(s) on {namespace!r}; waiting for the workers", err=True
        )

        async def on_outcome(outcome: Outcome, result: dict[str, Any]) -> None:
            summary.add(outcome)
            display.outcome(outcome)
            for dup in await copier.copies(outcome):
                display.duplicate(dup)

        finished = bool(await workers.follow(queue, queued, out_dir, on_outcome, timeout=timeout))
    except asyncio.CancelledError:  # Ctrl-C: say what is done so far, then stop
        summary.elapsed = time.monotonic() - started
        display.summary(summary, interrupted=True)
        raise
    except RedisOutageError as exc:  # it names the URL and how long it was waited for
        raise RedisUnusable(exc, redis_url, named=True) from None
    except (RedisError, OSError) as exc:
        raise RedisUnusable(exc, redis_url) from None
    finally:
        await workers.close_queue(queue)
    summary.elapsed = time.monotonic() - started
    display.summary(summary)
    if not finished:
        click.echo("timed out waiting; the workers go on: run the same command to follow", err=True)
    return finished


async def _set_budget(redis_url: str, namespace: str, out_dir: Path, units: float | None) -> None:
    """The queue's shared budget for this run (None: none), before anything is enqueued."""
    from ..store import RedisJobStore, SharedBudget

    store = RedisJobStore(redis_url, out_dir, namespace=namespace, owner="enqueuer")
    try:
        await store.open()
    except JournalError as exc:  # Redis cannot be reached: said as for the queue
        raise RedisUnusable(exc.__cause__ or exc, redis_url) from None
    try:
        await SharedBudget(store).set_limit(units)
    finally:
        await store.close()


class RedisUnusable(click.ClickException):
    """Redis cannot be reached or used: a configuration error (exit 2)."""

    exit_code = EXIT_USAGE

    def __init__(self, exc: BaseException, url: str, *, named: bool = False) -> None:
        reason = (str(exc).splitlines() or [""])[0][:200]
        if named:  # the message says where and why already
            super().__init__(f"cannot use Redis: {reason}")
            return
        super().__init__(f"cannot use Redis at {masked(url)}: {type(exc).__name__}: {reason}")


__all__ = ["TwinCopier", "animate_on_workers", "redis_grace_option", "worker_command"]
