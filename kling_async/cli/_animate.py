"""``kling-async animate``: the main job — folders of images into videos, resumable."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import attrs
import click

from ..batch import OutcomeStatus, estimate_units
from ..errors import ValidationError
from ..models import CAMERA_PRESETS, ImageToVideo
from ..validation import validate
from ._common import EXIT_FAILED, chosen_api, client_options, command_runner, make_client
from ._jobs import LIVE_MODELS, BadRow, build_job, camera, find_images, read_manifest, read_shots
from ._output import Display
from ._worker_cmd import animate_on_workers


def _defaults(opts: dict[str, Any]) -> dict[str, Any]:
    fields: dict[str, Any] = {
        "model": opts["model"],
        "mode": opts["mode"],
        "duration": opts["duration"],
    }
    optional = {
        "prompt": opts["prompt"],
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
    paths: tuple[Path, ...], manifest: Path | None, recursive: bool, defaults: dict[str, Any]
) -> tuple[list[tuple[str, ImageToVideo]], list[BadRow]]:
    """Every input as a job, or as a bad row with its reason."""
    jobs: list[tuple[str, ImageToVideo]] = []
    bad: list[BadRow] = []
    rows: list[tuple[str, dict[str, Any]] | BadRow] = []
    if manifest is not None:
        rows.extend(read_manifest(manifest))
    rows.extend((str(p), {"image": p}) for p in find_images(list(paths), recursive))
    for row in rows:
        if isinstance(row, BadRow):
            bad.append(row)
            continue
        where, fields = row
        try:
            jobs.append((where, build_job(defaults, fields)))
        except ValidationError as exc:
            bad.append(BadRow(where, str(exc)))
    return jobs, bad


def _wire_preview(job: ImageToVideo) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for field in attrs.fields(ImageToVideo):
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
    jobs: list[tuple[str, ImageToVideo]],
    bad: list[BadRow],
    as_json: bool,
    allow_unknown: bool,
    api: str = "auto",
) -> int:
    """Validate everything and say what would be sent; send nothing."""
    valid: list[ImageToVideo] = []
    for where, job in jobs:
        try:
            await validate(job, allow_unknown_models=allow_unknown, api=api)
        except ValidationError as exc:
            bad.append(BadRow(where, str(exc)))
            continue
        valid.append(job)
        units = estimate_units([job])
        if as_json:
            click.echo(
                json.dumps(
                    {
                        "event": "would_send",
                        "source": where,
                        "units": units,
                        "request": _wire_preview(job),
                    },
                    default=str,
                )
            )
        else:
            click.echo(f"would send  {where}  ({units:g} units)  {_wire_preview(job)}")
    total = estimate_units(valid)
    for row in bad:
        if as_json:
            click.echo(json.dumps({"event": "invalid", "source": row.source, "error": row.reason}))
        else:
            click.echo(f"invalid     {row.source}: {row.reason}")
    if as_json:
        click.echo(
            json.dumps(
                {"event": "estimate", "valid": len(valid), "invalid": len(bad), "units": total}
            )
        )
    else:
        click.echo(
            f"\n{len(valid)} job(s) valid, {len(bad)} invalid; "
            f"estimated {total:g} units if all succeed. Nothing was sent."
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
@click.option("-r", "--recursive", is_flag=True, help="Look into sub-folders too.")
@click.option(
    "--manifest",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="CSV or JSON Lines, one row per image: image, prompt, negative_prompt, "
    "end_frame, camera, model, mode, duration, external_id, cfg_scale.",
)
@click.option("--prompt", help="Prompt for every image (a manifest row may override it).")
@click.option("--negative-prompt", help="What to avoid, for every image.")
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
    type=click.Choice(list(CAMERA_PRESETS)),
    default=None,
    help="A named camera move (no model of Kling's 2026 map offers one; with "
    "--allow-unknown-models for models outside it).",
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
@click.option("--dry-run", is_flag=True, help="Validate and estimate; send nothing.")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per outcome.")
@click.option("--plain", is_flag=True, help="A line per outcome, even on a terminal.")
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
    manifest: Path | None,
    dry_run: bool,
    as_json: bool,
    plain: bool,
    max_in_flight: int | None,
    downloads: int,
    max_units: float | None,
    journal: Path | None,
    allow_unknown_models: bool,
    redis_url: str | None,
    base_url: str | None,
    verbose: bool,
    **opts: Any,
) -> None:
    """Animate image files and folders into videos in OUT.

    Re-running the same command resumes from the journal in OUT: finished videos are skipped
    and nothing is paid for twice. Exit status: 0 all done, 1 some failed or invalid,
    2 usage or configuration error, 130 interrupted.

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
        raise click.UsageError(str(exc)) from None
    jobs, bad = collect(paths, manifest, recursive, defaults)
    if dry_run:
        sys.exit(await report_dry_run(jobs, bad, as_json, allow_unknown_models, chosen_api()))
    if not jobs and not bad:
        raise click.UsageError("no images found (looked for .png, .jpg, .jpeg; -r for sub-folders)")
    if redis_url is not None:  # queue mode: workers make the videos (see _worker_cmd)
        bad_rows = [(row.source, row.reason) for row in bad]
        unknown = allow_unknown_models
        sys.exit(await animate_on_workers(redis_url, jobs, bad_rows, out_dir, as_json, unknown))
    mode = "json" if as_json else ("live" if sys.stdout.isatty() and not plain else "plain")
    client = make_client(base_url, allow_unknown_models=allow_unknown_models)  # fails early
    for row in bad:
        message = {"event": "invalid", "source": row.source, "error": row.reason}
        click.echo(json.dumps(message) if as_json else f"invalid  {row.source}: {row.reason}")
    options = {
        "max_in_flight": max_in_flight,
        "downloads": downloads,
        "max_units": max_units,
        "journal": journal,
    }
    failed = bool(bad)
    async with client:
        run = client.batch([job for _, job in jobs], out_dir, **options)
        async with run:
            with Display(mode, len(jobs), run.engine) as display:
                async for outcome in run:
                    display.outcome(outcome)
                    failed |= outcome.status in (OutcomeStatus.FAILED, OutcomeStatus.INVALID)
        display.summary(run.summary, [(row.source, row.reason) for row in bad])
    if failed:
        sys.exit(EXIT_FAILED)
