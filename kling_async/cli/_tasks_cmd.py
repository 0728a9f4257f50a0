"""Single-task verbs for scripts: submit, status, wait, download, list, account."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import attrs
import click

from ..models import CAMERA_PRESETS, ImageToVideo, Task
from ._common import client_options, command_runner, make_client
from ._jobs import LIVE_MODELS, camera

KINDS = click.Choice(["image2video", "text2video"])


def task_record(task: Task) -> dict[str, Any]:
    return {
        "task_id": task.task_id,
        "external_task_id": task.external_task_id,
        "kind": task.kind,
        "status": task.status.value,
        "status_message": task.status_message or None,
        "created_at": task.created_at.isoformat() if task.created_at else None,
        "updated_at": task.updated_at.isoformat() if task.updated_at else None,
        "units": task.units,
        "videos": [attrs.asdict(v) for v in task.videos],
    }


def show(task: Task, as_json: bool) -> None:
    if as_json:
        click.echo(json.dumps(task_record(task)))
        return
    line = f"{task.task_id}  {task.status.value:<10}  {task.kind}"
    if task.external_task_id:
        line += f"  external={task.external_task_id}"
    if task.status_message:
        line += f"  ({task.status_message})"
    for video in task.videos:
        line += f"\n  video {video.id} {video.duration or '?'} s  {video.url}"
    click.echo(line)


def _resource(client: Any, kind: str) -> Any:
    return client.text_to_video if kind == "text2video" else client.image_to_video


json_option = click.option("--json", "as_json", is_flag=True, help="Print JSON.")
kind_option = click.option("--kind", type=KINDS, default="image2video", show_default=True)


@click.command("submit")
@click.argument("image", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--prompt")
@click.option("--model", default="kling-v2-6", show_default=True, help=f"One of {LIVE_MODELS}.")
@click.option("--mode", type=click.Choice(["std", "pro", "4k"]), default="std", show_default=True)
@click.option("--duration", type=click.IntRange(min=1), default=5, show_default=True)
@click.option("--camera", type=click.Choice(list(CAMERA_PRESETS)))
@click.option("--external-id", default=None, help="Your id for the task (unique per account).")
@json_option
@client_options
@command_runner
async def submit_command(
    image: Path,
    prompt: str | None,
    model: str,
    mode: str,
    duration: int,
    camera: str | None,
    external_id: str | None,
    as_json: bool,
    base_url: str | None,
    verbose: bool,
) -> None:
    """Create one image-to-video task and print it.

    \b
    Example:
      kling-async submit cat.png --prompt "the cat blinks" --json
    """
    request = ImageToVideo(
        image=image,
        prompt=prompt,
        model=model,
        mode=mode,  # type: ignore[arg-type]
        duration=duration,
        external_task_id=external_id,
        camera_control=_camera(camera),
    )
    async with make_client(base_url) as client:
        show(await client.image_to_video.create(request), as_json)


def _camera(name: str | None) -> Any:
    return camera(name) if name else None


@click.command("status")
@click.argument("task_id")
@kind_option
@json_option
@client_options
@command_runner
async def status_command(
    task_id: str, kind: str, as_json: bool, base_url: str | None, verbose: bool
) -> None:
    """Show a task by its task_id or your external id.

    \b
    Example:
      kling-async status 782340958234 --json
    """
    async with make_client(base_url) as client:
        show(await _resource(client, kind).get(task_id), as_json)


@click.command("wait")
@click.argument("task_id")
@click.option(
    "--timeout",
    type=click.FloatRange(min=1),
    default=1200,
    show_default=True,
    help="Seconds to wait before giving up (the task may still finish).",
)
@kind_option
@json_option
@client_options
@command_runner
async def wait_command(
    task_id: str, timeout: float, kind: str, as_json: bool, base_url: str | None, verbose: bool
) -> None:
    """Wait until a task ends; exit 1 if it failed.

    \b
    Example:
      kling-async wait 782340958234 --timeout 900
    """
    async with make_client(base_url) as client:

        def progress(task: Task) -> None:
            if not as_json:
                click.echo(f"  {task.status.value}", err=True)

        show(
            await _resource(client, kind).wait(task_id, timeout=timeout, on_progress=progress),
            as_json,
        )


@click.command("download")
@click.argument("task_id")
@click.option("--out", "out_file", required=True, type=click.Path(dir_okay=False, path_type=Path))
@kind_option
@client_options
@command_runner
async def download_command(
    task_id: str, out_file: Path, kind: str, base_url: str | None, verbose: bool
) -> None:
    """Download a finished task's video to --out.

    \b
    Example:
      kling-async download 782340958234 --out cat.mp4
    """
    async with make_client(base_url) as client:
        task = await _resource(client, kind).get(task_id)
        path = await client.download(task, out_file)
    click.echo(str(path))


@click.command("list")
@click.option("--limit", type=click.IntRange(min=1), default=30, show_default=True)
@kind_option
@json_option
@client_options
@command_runner
async def list_command(
    limit: int, kind: str, as_json: bool, base_url: str | None, verbose: bool
) -> None:
    """List tasks, newest first.

    \b
    Example:
      kling-async list --limit 10 --json
    """
    async with make_client(base_url) as client:
        count = 0
        async for task in _resource(client, kind).list(page_size=min(limit, 500)):
            show(task, as_json)
            count += 1
            if count >= limit:
                break


@click.command("account")
@json_option
@client_options
@command_runner
async def account_command(as_json: bool, base_url: str | None, verbose: bool) -> None:
    """Show the account's resource packs and the units left.

    \b
    Example:
      kling-async account --json
    """
    async with make_client(base_url) as client:
        costs = await client.account.costs()
    if as_json:
        packs = [
            {
                k: (v.isoformat() if hasattr(v, "isoformat") else v)
                for k, v in attrs.asdict(p).items()
            }
            for p in costs.packs
        ]
        click.echo(json.dumps({"remaining": costs.remaining, "packs": packs}))
        return
    for p in costs.packs:
        click.echo(f"{p.name}: {p.remaining:g} of {p.total:g} left ({p.status})")
    click.echo(f"total remaining: {costs.remaining:g}")
