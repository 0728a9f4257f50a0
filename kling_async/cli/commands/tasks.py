"""Single-task verbs for scripts: submit, status, download, list, account (``wait`` is in
``wait``; what they share is in ``lookup``)."""

from __future__ import annotations

import asyncio
import json
import os
import re
from pathlib import Path
from typing import Any, NoReturn

import attrs
import click

from ... import _catalog
from ...models import CAMERA_PRESETS, ImageToVideo, TextToVideo
from ...results import Task
from .._exits import EXIT_FAILED, EXIT_USAGE, fail
from .._format import number_text, units_text
from .._options import EXISTING_FILE, number_option
from .._runner import command_runner
from .._settings import chosen_api, client_options, make_client
from .._video_options import allow_unknown_models_option
from ..inputs import LIVE_MODELS, camera
from .lookup import KINDS, find, json_option, kind_option, show


# -- submit ------------------------------------------------------------------------------
def _refuse_text_model(model: str) -> None:
    """A model the catalog knows but that makes no text-to-video (unknown ones are left to
    validation, which names them)."""
    offered = _catalog.CAPABILITIES["text2video"]
    if _catalog.is_known(model) and _catalog.family_of(model) not in offered:
        able = [n for n, m in _catalog.MODEL_NAMES.items() if m.family in offered]
        raise click.BadParameter(
            f"{model!r} makes no text-to-video (without IMAGE); models that do: {', '.join(able)}",
            param_hint="'--model'",
        )


@click.command("submit")
@click.argument("image", required=False, type=EXISTING_FILE)
@click.option("--prompt", help="What happens; alone (no IMAGE) it makes a text-to-video task.")
@click.option("--negative-prompt", help="What to avoid.")
@click.option("--model", default="kling-v2-6", show_default=True, help=f"One of {LIVE_MODELS}.")
@click.option("--mode", type=click.Choice(["std", "pro", "4k"]), default="std", show_default=True)
@number_option("--duration", click.IntRange(min=1), default=5)
@click.option(
    "--aspect-ratio",
    type=click.Choice(["16:9", "9:16", "1:1"]),
    default=None,
    help="Text-to-video only (default 16:9); an image-to-video video has the IMAGE's shape.",
)
@click.option("--camera", type=click.Choice(list(CAMERA_PRESETS)))
@click.option("--sound/--no-sound", default=None, help="Native audio (kling-v2-6 pro, kling-v3).")
@click.option("--external-id", default=None, help="Your id for the task (unique per account).")
@allow_unknown_models_option
@json_option
@client_options
@command_runner
async def submit_command(
    image: Path | None,
    prompt: str | None,
    negative_prompt: str | None,
    model: str,
    mode: str,
    duration: int,
    aspect_ratio: str | None,
    camera: str | None,
    sound: bool | None,
    external_id: str | None,
    allow_unknown_models: bool,
    as_json: bool,
    base_url: str | None,
    verbose: bool,
) -> None:
    """Create one task and print it: image-to-video from IMAGE, or text-to-video from
    --prompt alone. Then `kling-async wait TASK_ID`.

    \b
    Examples:
      kling-async submit cat.png --prompt "the cat blinks" --json
      kling-async submit --prompt "a paper boat on a rainy street" --aspect-ratio 9:16
    """
    fields: dict[str, Any] = {
        "prompt": prompt,
        "negative_prompt": negative_prompt,
        "model": model,
        "mode": mode,
        "duration": duration,
        "external_task_id": external_id,
        "camera_control": _camera(camera),
        "sound": sound,
    }
    request: ImageToVideo | TextToVideo
    if image is None:
        if not prompt:
            raise click.UsageError(
                "give an IMAGE for image-to-video, or --prompt alone for text-to-video"
            )
        _refuse_text_model(model)
        request = TextToVideo(**fields, aspect_ratio=aspect_ratio or "16:9")  # type: ignore[arg-type]
        kind = "text2video"
    else:
        if aspect_ratio is not None:
            raise click.BadParameter(
                f"{aspect_ratio!r} is for text-to-video only (no IMAGE); an image-to-video "
                "video has the image's shape",
                param_hint="'--aspect-ratio'",
            )
        request = ImageToVideo(image=image, **fields)
        kind = "image2video"
    async with make_client(base_url, allow_unknown_models=allow_unknown_models) as client:
        show(await client.resource_for(kind).create(request), as_json)


def _camera(name: str | None) -> Any:
    return camera(name) if name else None


# -- status ------------------------------------------------------------------------------
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
        _, task = await find(client, kind, task_id)
        show(task, as_json)


# -- download ----------------------------------------------------------------------------
def _file_name(task: Task) -> str:
    """``<task_id>.mp4``, with anything but letters, digits, ``.``, ``_`` and ``-`` replaced
    (an id is the server's text: never let it climb out of the folder)."""
    safe = re.sub(r"[^A-Za-z0-9._-]", "_", task.task_id).lstrip(".") or "video"
    return f"{safe[:200]}.mp4"


def _refuse_existing(path: Path) -> NoReturn:
    fail(
        f"--out: {path} already exists; nothing was downloaded",
        "add --overwrite to replace it, or give another --out (a folder gets TASK_ID.mp4)",
        EXIT_USAGE,
    )


@click.command("download")
@click.argument("task_id")
@click.option(
    "--out",
    "dest",
    type=click.Path(),
    default=".",
    show_default=True,
    help="A file, or a folder to write TASK_ID.mp4 into (a name ending in / is a folder).",
)
@click.option("--overwrite", is_flag=True, help="Replace a file that is already there.")
@kind_option
@json_option
@client_options
@command_runner
async def download_command(
    task_id: str,
    dest: str,
    overwrite: bool,
    kind: str,
    as_json: bool,
    base_url: str | None,
    verbose: bool,
) -> None:
    """Download a finished task's video to --out (a file or a folder); print its path.

    Never replaces an existing file unless --overwrite.

    \b
    Examples:
      kling-async download 782340958234 --out cat.mp4
      kling-async download 782340958234 --out videos/ --json
    """
    to_folder = await asyncio.to_thread(_is_folder, dest)
    out = Path(dest)
    if not to_folder and not overwrite and await asyncio.to_thread(os.path.lexists, out):
        _refuse_existing(out)  # before anything is sent
    async with make_client(base_url) as client:
        _, task = await find(client, kind, task_id)
        if not task.succeeded:
            fail(
                f"task {task.task_id} is {task.status.value}, so it has no video to download",
                f"`kling-async wait {task_id}` waits for it to end"
                if not task.is_final
                else "a failed task makes no video (and is not charged)",
                EXIT_FAILED,
            )
        path = out / _file_name(task) if to_folder else out
        if not overwrite and await asyncio.to_thread(os.path.lexists, path):
            _refuse_existing(path)
        path = await client.download(task, path)
    if as_json:
        size = (await asyncio.to_thread(path.stat)).st_size
        record = {
            "task_id": task.task_id,
            "external_task_id": task.external_task_id,
            "path": str(path),
            "bytes": size,
        }
        click.echo(json.dumps(record))
    else:
        click.echo(str(path))


def _is_folder(dest: str) -> bool:
    return os.path.isdir(dest) or dest.endswith(("/", os.sep))


# -- list --------------------------------------------------------------------------------
@click.command("list")
@number_option("--limit", click.IntRange(min=1), default=30)
@click.option(
    "--kind",
    type=KINDS,
    default="auto",
    show_default=True,
    help="Which tasks (auto: image-to-video and text-to-video, newest first).",
)
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
    kinds = ["image2video", "text2video"] if kind == "auto" else [kind]
    if chosen_api() == "new":
        kinds = kinds[:1]  # the new API lists every video task in one place
    tasks: list[Task] = []
    async with make_client(base_url) as client:
        for name in kinds:
            count = 0
            async for task in client.resource_for(name).list(page_size=min(limit, 500)):
                tasks.append(task)
                count += 1
                if count >= limit:
                    break
    tasks.sort(key=lambda t: t.created_at.timestamp() if t.created_at else 0.0, reverse=True)
    for task in tasks[:limit]:
        show(task, as_json)


# -- account -----------------------------------------------------------------------------
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
    online = [p for p in costs.packs if p.status == "online"]
    remaining = None if any(p.remaining is None for p in online) else costs.remaining
    if as_json:
        packs = [
            {
                k: (v.isoformat() if hasattr(v, "isoformat") else v)
                for k, v in attrs.asdict(p).items()
            }
            for p in costs.packs
        ]
        click.echo(json.dumps({"remaining": remaining, "packs": packs}))
        return
    if not costs.packs:
        click.echo("no resource packs in the last 30 days")
    for p in costs.packs:
        expires = f", expires {p.expires_at:%Y-%m-%d}" if p.expires_at else ""
        click.echo(
            f"{p.name}: {number_text(p.remaining)} of {units_text(p.total)} left "
            f"({p.status}{expires})"
        )
    click.echo(f"total remaining: {units_text(remaining)} (in online packs)")
