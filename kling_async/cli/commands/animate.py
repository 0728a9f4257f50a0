"""``kling-async animate``: the main job — folders of images into videos, resumable."""

from __future__ import annotations

import asyncio
import sys
import tempfile
from pathlib import Path
from typing import Any

import click

from ..._cash import Money, budget_in_units
from ..._prepare_pixels import Fit
from ...batch import PollPolicy
from ...errors import ValidationError
from ...models import TextToVideo
from .._exits import ANIMATE_EXIT_CODES_HELP, EXIT_TIMEOUT, EXIT_USAGE, fail
from .._listen import CallbackReceiver, check_listen, listen_options, shown
from .._options import downloads_option, max_cost_option, number_option
from .._runner import resumable_command_runner
from .._settings import chosen_api, client_options, make_client, out_option
from .._video_options import allow_unknown_models_option, option_given, video_options
from .._words import cli_words
from .._worker_cmd import animate_on_workers, redis_grace_option
from ..inputs import (
    IMAGE_SUFFIXES,
    Input,
    check_options,
    check_template,
    collect,
    defaults_from_options,
    only_failed,
    out_folder_problem,
    output_name,
    read_failed_jobs,
)
from ..inputs.clobber import foreign_files, no_clobber, overwrite
from ..inputs.credentials import credentials_problem
from ..inputs.dry_run import report_dry_run
from ..inputs.external_ids import check_external_ids
from ..inputs.prepare import Options as PrepareOptions
from ..inputs.prepare import keep_as_sent_before, prepare_inputs, shown_sources
from ..inputs.twins import TwinCopier, group_twins
from ..output import Display, exit_code, nothing_left_line
from ..output.html_run import html_sheet


@click.command("animate", epilog=f"\b\n{ANIMATE_EXIT_CODES_HELP}")
@click.argument("paths", nargs=-1, type=click.Path(exists=True, path_type=Path))
@out_option("Folder for the videos (and the journal that makes reruns resume).", required=True)
@click.option(
    "-r",
    "--recursive",
    is_flag=True,
    help="Look into sub-folders too; their videos go to the same sub-folders in OUT.",
)
@click.option(
    "--include",
    multiple=True,
    metavar="GLOB",
    help="Only images in folders whose path (relative to the folder given) or name matches, "
    "e.g. 'IMG_*.jpg' or 'beach/*'; repeatable.",
)
@click.option(
    "--exclude",
    multiple=True,
    metavar="GLOB",
    help="Leave out images in folders whose relative path or name matches; repeatable.",
)
@click.option(
    "--name",
    "name_template",
    default=None,
    metavar="TEMPLATE",
    help="Each video's name in OUT, e.g. '{stem}.mp4' (default), '{folder}/{stem}-{model}.mp4', "
    "'clip-{index:04d}.mp4'. Placeholders: {stem} {name} {folder} {index} {model} {mode} "
    "{duration}. A name another job or file already has gets '-<id>' added (see "
    "--overwrite/--no-clobber). Names are fixed at a job's first run.",
)
@click.option(
    "--manifest",
    type=click.Path(exists=True, dir_okay=False, path_type=Path, allow_dash=True),
    help="CSV or JSON Lines, one row per job, a column per request field (image, prompt, "
    "model, duration, sound, voices, elements, multi_prompt, images, video, video_url, n...; "
    "docs/cli.md lists them). A 'kind' column (image2video, text2video, omni_video, "
    "motion_control, images) chooses the request; without it a row with an image (or "
    "end_frame) is image to video, one with only a prompt text to video. '-' reads it from "
    "standard input (paths relative to the current folder).",
)
@video_options(
    prompt="Prompt for every image (a manifest row may override it).",
    negative_prompt="What to avoid, for every image.",
    aspect_ratio="For text-to-video rows of a manifest (a prompt, no image); default 16:9. An "
    "image keeps its own.",
    end_frame="An end frame for every video.",
)
@listen_options
@number_option(
    "--max-in-flight",
    click.IntRange(min=1),
    "Cap on parallel tasks (the account's limit is learned anyway).",
)
@downloads_option
@number_option(
    "--max-units",
    click.FloatRange(min=0),
    "Stop creating once the estimated spend would pass this.",
)
@max_cost_option
@click.option(
    "--journal",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Where the journal lives (default: OUT/.kling-journal.db).",
)
@click.option(
    "--retry-failed",
    is_flag=True,
    help="Run again only the jobs the journal in OUT records as failed (each is created "
    "anew; nothing made is made twice); leave every other input alone.",
)
@click.option(
    "--overwrite/--no-clobber",
    "clobber",
    default=None,
    help="When a video's name in OUT is taken by a file no run in this folder made: "
    "--overwrite replaces it, --no-clobber keeps it and leaves that input out. By default "
    "the new video gets another name ('<name>-<id>.mp4').",
)
@click.option(
    "--no-prepare",
    "no_prepare",
    is_flag=True,
    help="Send each image file as it is. By default every image (HEIC, WebP, GIF, BMP, TIFF, "
    "CMYK, 16-bit, stored sideways, too big...) is first made into a JPEG or PNG the model "
    "takes, cached in OUT/.kling-prepared (see docs/images.md).",
)
@click.option(
    "--fit",
    type=click.Choice(["pad", "crop", "refuse"]),
    default="refuse",
    show_default=True,
    help="An image wider or taller than 2.5:1: black bars to 2.5:1 (pad), its middle kept "
    "(crop), or left out as invalid (refuse).",
)
@click.option(
    "--upscale",
    is_flag=True,
    help="Enlarge an image under 300 px to 300 px instead of refusing it.",
)
@click.option("--dry-run", is_flag=True, help="Validate and estimate; send nothing.")
@click.option(
    "--html",
    is_flag=True,
    help="At the end (also of a failed or interrupted run) write OUT/report.html: a page "
    "with every job's image, video, state, model, units and error. Not with --redis (the "
    "workers write the videos): there, `kling-async report OUT --redis URL --html`.",
)
@number_option(
    "--task-timeout",
    click.FloatRange(min=1),
    "Seconds a task may take before its job ends as timed out (exit 3; the task stays "
    "recorded: a rerun picks it up). Default 1200.",
)
@click.option("--json", "as_json", is_flag=True, help="One JSON object per outcome.")
@click.option("--plain", is_flag=True, help="A line per outcome, even on a terminal.")
@click.option(
    "-q", "--quiet", is_flag=True, help="Show only problems and the summary (not with --json)."
)
@allow_unknown_models_option
@click.option(
    "--redis", "redis_url", default=None, help="Queue the jobs for `kling-async worker`s."
)
@redis_grace_option
@client_options
@resumable_command_runner
async def animate_command(
    listen: tuple[str, int] | None,
    webhook_secret: str | None,
    allow_unsigned_callbacks: bool,
    **params: Any,
) -> None:
    """Animate image files and folders into videos in OUT.

    Re-running the same command resumes from the journal in OUT: finished videos are skipped
    and nothing is paid for twice. The same image (with the same settings) under several
    names is made once and copied to each name.

    \b
    Examples:
      kling-async animate photos/ --out videos --prompt "gentle motion"
      kling-async animate photos/ --out videos --model kling-3.0-turbo --duration 12
      kling-async animate photos/ --out videos --model kling-v3 --mode 4k --multi-prompt shots.txt
      kling-async animate --manifest shots.csv --out videos --json
      kling-async animate photos/ --out videos --dry-run
      kling-async animate photos/ --out videos --listen 0.0.0.0:8080 \\
          --callback-url https://my-host.example:8080/kling      # KLING_WEBHOOK_SECRET set
    """
    callback_url = params["callback_url"]
    queued = params["redis_url"] is not None
    if queued:
        _refuse_what_workers_cannot_carry()
    elif option_given("redis_grace"):
        raise click.UsageError(
            "--redis-grace: only with --redis (it is how long an outage of Redis is waited out)"
        )
    check_listen(listen, callback_url, webhook_secret, allow_unsigned_callbacks, queued=queued)
    if listen is None or params["dry_run"]:  # a dry run sends nothing: nothing to receive
        await _animate(None, **params)
        return
    async with CallbackReceiver(
        listen, webhook_secret, allow_unsigned=allow_unsigned_callbacks
    ) as receiver:
        params["callback_url"] = receiver.callback_url(callback_url)
        click.echo(
            f"receiving callbacks on {shown(receiver.address)} "
            f"(Kling posts them to {params['callback_url']})",
            err=True,
        )
        try:
            await _animate(receiver, **params)
        finally:
            click.echo(receiver.summary(), err=True)


#: Options of a local run that queue workers do not carry (each worker has its own settings,
#: on `kling-async worker`; no budget is shared by the workers yet), by parameter name.
_LOCAL_ONLY = {
    "max_in_flight": "--max-in-flight",
    "downloads": "--downloads",
    "journal": "--journal",
    "task_timeout": "--task-timeout",
    "retry_failed": "--retry-failed",
    "clobber": "--overwrite/--no-clobber",
    "html": "--html",
}


def _refuse_what_workers_cannot_carry() -> None:
    """A usage error naming every option given that ``--redis`` would drop without a word."""
    given = [flag for name, flag in _LOCAL_ONLY.items() if option_given(name)]
    if given:
        raise click.UsageError(
            f"{', '.join(given)}: not carried to the workers with --redis (a worker runs with "
            "its own settings, given to `kling-async worker`); run without --redis, or leave "
            "them out"
        )


async def _animate(
    receiver: CallbackReceiver | None,
    paths: tuple[Path, ...],
    out_dir: Path,
    recursive: bool,
    include: tuple[str, ...],
    exclude: tuple[str, ...],
    name_template: str | None,
    manifest: Path | None,
    dry_run: bool,
    html: bool,
    as_json: bool,
    plain: bool,
    quiet: bool,
    max_in_flight: int | None,
    downloads: int,
    max_units: float | None,
    max_cost: Money | None,
    journal: Path | None,
    task_timeout: float | None,
    retry_failed: bool,
    clobber: bool | None,
    allow_unknown_models: bool,
    redis_url: str | None,
    redis_grace: float,
    no_prepare: bool,
    fit: Fit,
    upscale: bool,
    base_url: str | None,
    verbose: bool,
    **opts: Any,
) -> None:
    """The command's body; ``receiver``: the ``--listen`` server (its tasks go to the engine)."""
    if not paths and manifest is None:
        raise click.UsageError("give image files or folders, or --manifest")
    if redis_url is None:  # queue mode: the workers write, on their machines
        await _check_out_folder(out_dir, journal)
    try:
        defaults = defaults_from_options(opts, duration_given=option_given("duration"))
    except ValidationError as exc:
        raise click.UsageError(cli_words(str(exc))) from None
    template = check_template(name_template) if name_template is not None else None
    if manifest is not None and str(manifest) == "-" and sys.stdin.isatty():
        raise click.UsageError("--manifest -: standard input is a terminal; pipe a manifest in")
    inputs, bad, notes = await asyncio.to_thread(
        collect, paths, manifest, recursive, defaults, include, exclude, out_dir
    )
    api = chosen_api()
    check_options(inputs, opts, api=api, allow_unknown_models=allow_unknown_models)
    if opts["aspect_ratio"] and not any(isinstance(i.job, TextToVideo) for i in inputs):
        raise click.UsageError(
            f"--aspect-ratio {opts['aspect_ratio']}: only for text-to-video manifest rows (a "
            "prompt, no image), and there is none; an image keeps its own aspect ratio"
        )
    journal_path = journal or out_dir / ".kling-journal.db"
    failed = await read_failed_jobs(journal_path) if retry_failed else None
    if not dry_run and redis_url is None:  # before anything is prepared or written
        await _check_credentials(base_url, inputs, allow_unknown_models)
    sources: dict[str, str] = {}
    scratch = None
    if dry_run and not no_prepare:  # a dry run writes nothing in OUT
        scratch = tempfile.TemporaryDirectory(prefix="kling-dry-run-")
    if not no_prepare:
        preparing = PrepareOptions(fit=fit, upscale=upscale)
        where = Path(scratch.name) if scratch is not None else None
        inputs = await prepare_inputs(inputs, bad, out_dir, api, preparing, where)
        if redis_url is None:
            inputs = await keep_as_sent_before(inputs, journal_path)
        sources = shown_sources(inputs)
    unique, twins, identities = await group_twins(inputs)
    if failed is not None:
        unique, twins = only_failed(unique, twins, identities, failed, notes)
    unique, twins, shared = await check_external_ids(unique, twins, identities, journal_path)
    bad.extend(shared)
    if dry_run:
        for note in notes:
            click.echo(f"ignored     {note}")
        code = await report_dry_run(unique, twins, bad, as_json, allow_unknown_models, api)
        if scratch is not None:
            scratch.cleanup()
        sys.exit(code)
    if not inputs and not bad and not retry_failed:
        for note in notes:
            click.echo(f"ignored   {note}", err=True)
        looked = ", ".join(IMAGE_SUFFIXES)
        raise click.UsageError(f"no images found (looked for {looked}; -r for sub-folders)")
    names = {id(item.job): output_name(item, i, template) for i, item in enumerate(inputs, 1)}
    if redis_url is not None:  # queue mode: workers make the videos (see _worker_cmd)
        total = len(inputs) + len(bad)
        display = Display(
            "json" if as_json else "plain",
            total,
            None,
            quiet=quiet,
            out_dir=out_dir,
            sources=sources,
        )
        copier = TwinCopier(unique, twins, names, out_dir)
        finished = await animate_on_workers(
            redis_url,
            unique,
            names,
            bad,
            notes,
            display,
            copier,
            out_dir,
            allow_unknown_models,
            budget_units=budget_in_units(max_units, max_cost),
            grace=redis_grace,
        )
        sys.exit(exit_code(display.tally) if finished else EXIT_TIMEOUT)
    mode = "json" if as_json else ("live" if sys.stdout.isatty() and not plain else "plain")
    client = make_client(base_url, allow_unknown_models=allow_unknown_models)
    kept: list[tuple[str, Input, Path]] = []
    if clobber:
        foreign = await foreign_files(unique, names, identities, out_dir, journal_path)
        await overwrite(foreign, allow_unknown_models, api)
    elif clobber is not None:
        unique, twins, kept = await no_clobber(
            unique, twins, names, identities, out_dir, journal_path
        )
    options: dict[str, Any] = {
        "max_in_flight": max_in_flight,
        "downloads": downloads,
        "max_units": max_units,
        "max_cost": max_cost,
        "journal": journal,
        "name": lambda job: names.get(id(job)),
    }
    if task_timeout is not None:
        options["poll"] = PollPolicy(task_timeout=task_timeout)
    if receiver is not None:  # tasks end by callback; polling is the slow fallback
        options["callbacks"] = True
    async with client, html_sheet(html, out_dir, journal, inputs, names, bad):
        run = client.batch([item.job for item in unique], out_dir, **options)
        if receiver is not None:
            receiver.feed(run.engine.notify)
        total = len(unique) + sum(len(t) for t in twins.values()) + len(bad) + len(kept)
        display = Display(mode, total, run.engine, quiet=quiet, out_dir=out_dir, sources=sources)
        try:
            async with run:
                with display:
                    display.skipped_inputs(notes)
                    for row in bad:
                        display.invalid_row(row.source, row.reason)
                    for kept_name, item, there in kept:
                        display.kept(kept_name, item.source, there)
                    copier = TwinCopier(unique, twins, names, out_dir)
                    async for outcome in run:
                        display.outcome(outcome)
                        for dup in await copier.copies(outcome):
                            display.duplicate(dup)
        except asyncio.CancelledError:  # Ctrl-C: say what is done so far, then stop
            display.summary(run.summary, interrupted=True)
            raise
        display.summary(run.summary)
    last_word = nothing_left_line(display.tally)
    if last_word is not None:
        click.echo(last_word, err=True)
    sys.exit(exit_code(display.tally))


async def _check_out_folder(out_dir: Path, journal: Path | None) -> None:
    """``--out`` (and ``--journal``'s folder) writable, or one line and exit 2: before
    anything is read or sent, ``--dry-run`` included."""
    checks = [("--out", out_dir, out_dir)]
    if journal is not None:
        checks.append(("--journal", journal, journal.parent))
    for option, given, folder in checks:
        problem = await asyncio.to_thread(out_folder_problem, folder)
        if problem is not None:
            fail(f"{option} {given}: {problem}", None, EXIT_USAGE)


async def _check_credentials(
    base_url: str | None, inputs: list[Input], allow_unknown: bool
) -> None:
    """The credentials every job's wire needs are there (and the client can be made), else
    one line and exit 2: before any image is prepared or anything written in OUT."""
    client = make_client(base_url, allow_unknown_models=allow_unknown)
    try:
        jobs = (item.job for item in inputs)
        missing = credentials_problem(client, jobs, allow_unknown_models=allow_unknown)
    finally:
        await client.close()
    if missing is not None:
        fail(missing, "nothing was sent; add the credential, then run the same command", EXIT_USAGE)
