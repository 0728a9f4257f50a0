"""``kling-async animate``: the main job — folders of images into videos, resumable."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from pathlib import Path
from typing import Any

import attrs
import click

from ..batch import Outcome, OutcomeStatus, PollPolicy, estimate_units
from ..errors import NotSentError, ValidationError
from ..models import ImageToVideo, TextToVideo
from ..validation import validate
from ._common import (
    EXIT_FAILED,
    EXIT_TIMEOUT,
    EXIT_USAGE,
    chosen_api,
    client_options,
    command_runner,
    make_client,
)
from ._jobs import (
    IMAGE_CAMERA_PRESETS,
    LIVE_MODELS,
    BadRow,
    Input,
    camera,
    check_options,
    check_template,
    make_input,
    output_name,
    read_manifest,
    read_shots,
    scan,
)
from ._journal_view import failed_jobs, recorded_outputs
from ._output import Display, Duplicate, cli_words, units_text
from ._twins import give_twin, group_twins, twin_target
from ._worker_cmd import animate_on_workers


def _defaults(opts: dict[str, Any]) -> dict[str, Any]:
    fields: dict[str, Any] = {
        "model": opts["model"],
        "mode": opts["mode"],
        "duration": opts["duration"],
    }
    optional = {
        "prompt": opts["prompt"],
        "aspect_ratio": opts["aspect_ratio"],
        "negative_prompt": opts["negative_prompt"],
        "cfg_scale": opts["cfg_scale"],
        "sound": opts["sound"],
        "watermark": opts["watermark"],
        "callback_url": opts["callback_url"],
        "image_tail": opts["end_frame"],
    }
    fields.update({k: v for k, v in optional.items() if v is not None})
    if opts["camera"]:
        fields["camera_control"] = camera(opts["camera"])
    if opts["voice"]:
        fields["voices"] = tuple(opts["voice"])
    if opts["element"]:
        fields["elements"] = tuple(opts["element"])
    if opts["multi_prompt"] is not None:
        fields["multi_prompt"] = read_shots(opts["multi_prompt"])
    return fields


def collect(
    paths: tuple[Path, ...],
    manifest: Path | None,
    recursive: bool,
    defaults: dict[str, Any],
    include: tuple[str, ...] = (),
    exclude: tuple[str, ...] = (),
    out_dir: Path | None = None,
) -> tuple[list[Input], list[BadRow], list[str]]:
    """Every input as a job, or as a bad row with its reason; and notes on what the folders
    held that is left out. Blocking (reads folders, the manifest, standard input)."""
    inputs: list[Input] = []
    bad: list[BadRow] = []
    rows: list[tuple[str, dict[str, Any], str] | BadRow] = []
    if manifest is not None:
        rows.extend(
            row if isinstance(row, BadRow) else (*row, "") for row in read_manifest(manifest)
        )
    images, notes = scan(list(paths), recursive, include, exclude, skip=out_dir)
    rows.extend((str(p), {"image": p}, folder) for p, folder in images)
    for row in rows:
        if isinstance(row, BadRow):
            bad.append(row)
            continue
        where, fields, folder = row
        try:
            inputs.append(make_input(where, defaults, fields, folder))
        except ValidationError as exc:
            bad.append(BadRow(where, str(exc)))
    return inputs, bad, notes


def _wire_preview(job: ImageToVideo | TextToVideo) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for field in attrs.fields(type(job)):
        value = getattr(job, field.name)
        if value is None or value == ():
            continue
        if field.name in ("camera_control", "multi_prompt"):
            value = (
                attrs.asdict(value)
                if field.name == "camera_control"
                else [attrs.asdict(shot) for shot in value]
            )
        elif isinstance(value, Path | bytes):
            value = str(value) if isinstance(value, Path) else f"<{len(value)} bytes>"
        out[field.name] = value
    return out


async def report_dry_run(
    inputs: list[Input],
    twins: dict[int, list[Input]],
    bad: list[BadRow],
    as_json: bool,
    allow_unknown: bool,
    api: str = "auto",
) -> int:
    """Validate everything and say what would be sent; send nothing."""
    valid: list[ImageToVideo | TextToVideo] = []
    for item in inputs:
        job = item.job
        try:
            await validate(job, allow_unknown_models=allow_unknown, api=api)
        except ValidationError as exc:
            bad.append(BadRow(item.source, str(exc)))
            continue
        valid.append(job)
        units = estimate_units([job])
        same = [t.source for t in twins.get(id(job), [])]
        if as_json:
            record = {
                "event": "would_send",
                "source": item.source,
                "kind": "text2video" if isinstance(job, TextToVideo) else "image2video",
                "units": units,
                "request": _wire_preview(job),
                "duplicates": same,
            }
            click.echo(json.dumps(record, default=str))
        else:
            kind = "  text to video" if isinstance(job, TextToVideo) else ""
            click.echo(
                f"would send  {item.source}{kind}  ({units_text(units)})  {_wire_preview(job)}"
            )
            for twin in same:
                click.echo(f"same job    {twin}: the same image and settings; made once, copied")
    total = estimate_units(valid)
    for row in bad:
        if as_json:
            click.echo(json.dumps({"event": "invalid", "source": row.source, "error": row.reason}))
        else:
            click.echo(f"invalid     {row.source}: {cli_words(row.reason)}")
    if as_json:
        click.echo(
            json.dumps(
                {"event": "estimate", "valid": len(valid), "invalid": len(bad), "units": total}
            )
        )
    else:
        click.echo(
            f"\n{len(valid)} job(s) valid, {len(bad)} invalid; "
            f"estimated {units_text(total)} if all succeed. Nothing was sent."
        )
    return 0 if not bad else EXIT_FAILED


@click.command("animate")
@click.argument("paths", nargs=-1, type=click.Path(exists=True, path_type=Path))
@click.option(
    "--out",
    "out_dir",
    required=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="Folder for the videos (and the journal that makes reruns resume).",
)
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
    help="CSV or JSON Lines, one row per image: image, prompt, negative_prompt, "
    "end_frame, camera, model, mode, duration, external_id, cfg_scale. A row with a prompt "
    "and no image (nor end_frame) is text to video (aspect_ratio column). '-' reads it from "
    "standard input (paths relative to the current folder).",
)
@click.option("--prompt", help="Prompt for every image (a manifest row may override it).")
@click.option("--negative-prompt", help="What to avoid, for every image.")
@click.option(
    "--aspect-ratio",
    type=click.Choice(["16:9", "9:16", "1:1"]),
    default=None,
    help="For text-to-video rows of a manifest (a prompt, no image); default 16:9. An image "
    "keeps its own.",
)
@click.option("--model", default="kling-v2-6", show_default=True, help=f"One of {LIVE_MODELS}.")
@click.option(
    "--mode",
    type=click.Choice(["std", "pro", "4k"]),
    default="std",
    show_default=True,
    help="std = 720p, pro = 1080p, 4k (kling-v3).",
)
@click.option(
    "--duration",
    type=click.IntRange(min=1),
    default=5,
    show_default=True,
    help="Seconds: 5 or 10 on kling-v2-x, 3..15 on kling-v3 and kling-3.0-turbo.",
)
@click.option(
    "--multi-prompt",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help="Multi-shot script (kling-v3): lines of '<seconds> <prompt>' or a JSON list.",
)
@click.option("--element", type=int, multiple=True, help="An element id (kling-v3; up to 3).")
@click.option(
    "--camera",
    type=click.Choice(list(IMAGE_CAMERA_PRESETS)),
    default=None,
    help="A camera move (image to video takes these simple moves only; no model of "
    "Kling's 2026 map offers one: with --allow-unknown-models, for models outside it).",
)
@click.option(
    "--end-frame",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="An end frame for every video.",
)
@click.option(
    "--cfg-scale", type=float, default=None, help="0..1; no model of the 2026 map takes it."
)
@click.option("--sound/--no-sound", default=None, help="Native audio (kling-v2-6 pro, kling-v3).")
@click.option("--voice", multiple=True, help="A voice id (up to 2; needs --sound).")
@click.option("--watermark/--no-watermark", default=None)
@click.option("--callback-url", default=None, help="Kling POSTs status changes here.")
@click.option(
    "--max-in-flight",
    type=click.IntRange(min=1),
    default=None,
    help="Cap on parallel tasks (the account's limit is learned anyway).",
)
@click.option("--downloads", type=click.IntRange(min=1), default=4, show_default=True)
@click.option(
    "--max-units",
    type=click.FloatRange(min=0),
    default=None,
    help="Stop creating once the estimated spend would pass this.",
)
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
@click.option("--dry-run", is_flag=True, help="Validate and estimate; send nothing.")
@click.option(
    "--task-timeout",
    type=click.FloatRange(min=1),
    default=None,
    help="Seconds a task may take before its job ends as timed out (exit 3; the task stays "
    "recorded: a rerun picks it up). Default 1200.",
)
@click.option("--json", "as_json", is_flag=True, help="One JSON object per outcome.")
@click.option("--plain", is_flag=True, help="A line per outcome, even on a terminal.")
@click.option(
    "-q", "--quiet", is_flag=True, help="Show only problems and the summary (not with --json)."
)
@click.option("--allow-unknown-models", is_flag=True, help="Send models newer than the SDK's map.")
@click.option(
    "--redis", "redis_url", default=None, help="Queue the jobs for `kling-async worker`s."
)
@client_options
@command_runner
async def animate_command(
    paths: tuple[Path, ...],
    out_dir: Path,
    recursive: bool,
    include: tuple[str, ...],
    exclude: tuple[str, ...],
    name_template: str | None,
    manifest: Path | None,
    dry_run: bool,
    as_json: bool,
    plain: bool,
    quiet: bool,
    max_in_flight: int | None,
    downloads: int,
    max_units: float | None,
    journal: Path | None,
    task_timeout: float | None,
    retry_failed: bool,
    clobber: bool | None,
    allow_unknown_models: bool,
    redis_url: str | None,
    base_url: str | None,
    verbose: bool,
    **opts: Any,
) -> None:
    """Animate image files and folders into videos in OUT.

    Re-running the same command resumes from the journal in OUT: finished videos are skipped
    and nothing is paid for twice. The same image (with the same settings) under several
    names is made once and copied to each name.

    Exit status: 0 all done, 1 some failed or invalid, 2 usage or configuration error — or an
    error that stops the whole run (credentials refused, resource pack used up), 3 some tasks
    timed out (run again later), 130 interrupted.

    \b
    Examples:
      kling-async animate photos/ --out videos --prompt "gentle motion"
      kling-async animate photos/ --out videos --model kling-3.0-turbo --duration 12
      kling-async animate photos/ --out videos --model kling-v3 --mode 4k --multi-prompt shots.txt
      kling-async animate --manifest shots.csv --out videos --json
      kling-async animate photos/ --out videos --dry-run
    """
    if not paths and manifest is None:
        raise click.UsageError("give image files or folders, or --manifest")
    try:
        defaults = _defaults(opts)
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
    unique, twins, identities = await group_twins(inputs)
    journal_path = journal or out_dir / ".kling-journal.db"
    if retry_failed:
        unique, twins = await _only_failed(unique, twins, identities, journal_path, notes)
    if dry_run:
        for note in notes:
            click.echo(f"ignored     {note}")
        sys.exit(await report_dry_run(unique, twins, bad, as_json, allow_unknown_models, api))
    if not inputs and not bad and not retry_failed:
        for note in notes:
            click.echo(f"ignored   {note}", err=True)
        raise click.UsageError("no images found (looked for .png, .jpg, .jpeg; -r for sub-folders)")
    names = {id(item.job): output_name(item, i, template) for i, item in enumerate(inputs, 1)}
    if redis_url is not None:  # queue mode: workers make the videos (see _worker_cmd)
        total = len(inputs) + len(bad)
        display = Display("json" if as_json else "plain", total, None, quiet=quiet, out_dir=out_dir)
        copier = _TwinCopier(unique, twins, names, out_dir)
        finished = await animate_on_workers(
            redis_url, unique, names, bad, notes, display, copier, out_dir, allow_unknown_models
        )
        sys.exit(_exit_code(display) if finished else EXIT_TIMEOUT)
    mode = "json" if as_json else ("live" if sys.stdout.isatty() and not plain else "plain")
    client = make_client(base_url, allow_unknown_models=allow_unknown_models)  # fails early
    kept: list[tuple[str, Input, Path]] = []
    if clobber:
        foreign = await _foreign_files(unique, names, identities, out_dir, journal_path)
        await _clear_for(foreign, allow_unknown_models, api)
    elif clobber is not None:
        unique, twins, kept = await _no_clobber(
            unique, twins, names, identities, out_dir, journal_path
        )
    options: dict[str, Any] = {
        "max_in_flight": max_in_flight,
        "downloads": downloads,
        "max_units": max_units,
        "journal": journal,
        "name": lambda job: names.get(id(job)),
    }
    if task_timeout is not None:
        options["poll"] = PollPolicy(task_timeout=task_timeout)
    async with client:
        run = client.batch([item.job for item in unique], out_dir, **options)
        total = len(unique) + sum(len(t) for t in twins.values()) + len(bad) + len(kept)
        display = Display(mode, total, run.engine, quiet=quiet, out_dir=out_dir)
        try:
            async with run:
                with display:
                    display.skipped_inputs(notes)
                    for row in bad:
                        display.invalid_row(row.source, row.reason)
                    for kept_name, item, there in kept:
                        display.kept(kept_name, item.source, there)
                    copier = _TwinCopier(unique, twins, names, out_dir)
                    async for outcome in run:
                        display.outcome(outcome)
                        for dup in await copier.copies(outcome):
                            display.duplicate(dup)
        except asyncio.CancelledError:  # Ctrl-C: say what is done so far, then stop
            display.summary(run.summary, interrupted=True)
            raise
        display.summary(run.summary)
    sys.exit(_exit_code(display))


async def _only_failed(
    unique: list[Input],
    twins: dict[int, list[Input]],
    identities: dict[int, str],
    journal: Path,
    notes: list[str],
) -> tuple[list[Input], dict[int, list[Input]]]:
    """``--retry-failed``: the inputs whose jobs the journal records as failed (and their
    twins); a note says how many others are left alone."""
    failed = await asyncio.to_thread(failed_jobs, journal)
    keep = [item for item in unique if identities.get(id(item.job)) in failed]
    notes.append(
        f"{len(unique) - len(keep)} job(s) not recorded as failed, by --retry-failed "
        f"({len(keep)} failed one(s) run again)"
    )
    return keep, {id(i.job): twins[id(i.job)] for i in keep if id(i.job) in twins}


class _TwinCopier:
    """Gives each twin of a finished job its own copy of the video (see ``_twins``)."""

    def __init__(
        self,
        unique: list[Input],
        twins: dict[int, list[Input]],
        names: dict[int, str | None],
        out_dir: Path,
    ) -> None:
        self.by_job = {id(item.job): item for item in unique}
        self.twins = twins
        self.names = names
        self.out_dir = out_dir
        self.taken = {n for item in unique if (n := names[id(item.job)]) is not None}

    async def copies(self, outcome: Outcome) -> list[Duplicate]:
        """The twins of the job that just ended, each with its copy (or why it has none)."""
        original = self.by_job.get(id(outcome.job))
        done = []
        for twin in self.twins.get(id(outcome.job), []):
            assert original is not None
            name = self.names[id(twin.job)] or outcome.name
            target = twin_target(self.out_dir, name, outcome.job_id, self.taken)
            try:
                copy = await _give_twin(outcome, original, twin, target)
            except OSError as exc:  # e.g. the disk is full: this name only
                why = f"could not copy {outcome.path} to {target}: {exc}"
                done.append(Duplicate(name, twin.source, None, outcome, why))
                continue
            done.append(Duplicate(name, twin.source, copy, outcome))
        return done


async def _no_clobber(
    unique: list[Input],
    twins: dict[int, list[Input]],
    names: dict[int, str | None],
    identities: dict[int, str],
    out_dir: Path,
    journal: Path,
) -> tuple[list[Input], dict[int, list[Input]], list[tuple[str, Input, Path]]]:
    """``--no-clobber``: leave out each input whose name a foreign file has; a twin of one
    takes its place (under its own name, checked the same way)."""
    kept: list[tuple[str, Input, Path]] = []
    for _ in range(len(unique) + sum(len(t) for t in twins.values())):
        foreign = await _foreign_files(unique, names, identities, out_dir, journal)
        if not foreign:
            break
        for item, path in foreign:
            kept.append((names[id(item.job)] or item.source, item, path))
            unique.remove(item)
            rest = twins.pop(id(item.job), [])
            if rest:
                unique.append(rest[0])
                if rest[1:]:
                    twins[id(rest[0].job)] = rest[1:]
    return unique, twins, kept


async def _foreign_files(
    unique: list[Input],
    names: dict[int, str | None],
    identities: dict[int, str],
    out_dir: Path,
    journal: Path,
) -> list[tuple[Input, Path]]:
    """Inputs new to the journal whose video's name is taken by a file no run in this folder
    made (``--overwrite``/``--no-clobber`` decide what to do with them)."""
    recorded = await asyncio.to_thread(recorded_outputs, journal)
    ours = {output for output in recorded.values() if output is not None}
    found = []
    for item in unique:
        name = names.get(id(item.job))
        if name is None or identities.get(id(item.job)) in recorded:
            continue  # a URL image (the batch names it), or a job whose name is fixed already
        path = out_dir / f"{name}.mp4"
        if f"{name}.mp4" not in ours and await asyncio.to_thread(os.path.lexists, path):
            found.append((item, path))
    return found


async def _clear_for(foreign: list[tuple[Input, Path]], allow_unknown: bool, api: str) -> None:
    """``--overwrite``: remove the files in the way of valid jobs (an invalid job, which will
    make nothing, leaves its file alone)."""
    for item, path in foreign:
        try:
            await validate(item.job, allow_unknown_models=allow_unknown, api=api)
        except ValidationError:
            continue
        await asyncio.to_thread(_remove, path)


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        raise click.UsageError(f"--overwrite: {path} is a folder; move it away to use its name")
    path.unlink(missing_ok=True)


async def _give_twin(outcome: Outcome, original: Input, twin: Input, target: Path) -> Path | None:
    """The twin's own copy of its original's video (None when there is no video)."""
    if outcome.path is None or outcome.status not in (
        OutcomeStatus.SUCCEEDED,
        OutcomeStatus.SKIPPED,
    ):
        return None
    return await asyncio.to_thread(
        give_twin, outcome.path, original.source, twin.source, target, outcome.job_id
    )


def _exit_code(display: Display) -> int:
    stopped = display.stopped
    if stopped is not None and not (
        isinstance(stopped, NotSentError) and stopped.kind == "max_units"
    ):
        return EXIT_USAGE  # credentials or account refused: the whole run, not a job
    counts = display.counts
    if counts["failed"] or counts["invalid"] or counts["not_sent"]:
        return EXIT_FAILED
    if counts["timed_out"]:
        return EXIT_TIMEOUT
    return 0
