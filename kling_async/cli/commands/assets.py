"""``kling-async elements ...`` and ``kling-async voices ...``: make a custom element (from a
folder of images) or voice once, list, show and delete them; then name an element in videos
with ``--element ID`` and a voice with ``--voice ID``."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from ...assets import AssetTask, ElementInfo, VoiceInfo
from ...client import KlingClient
from ...errors import NotFoundError
from ...resources import ElementsResource, VoicesResource
from .._exits import EXIT_FAILED, fail
from .._options import number_option
from .._runner import command_runner
from .._settings import client_options, make_client
from .lookup import json_option

#: The namespace a group's commands use.
Pick = Callable[[KlingClient], ElementsResource | VoicesResource]

wait_option = click.option(
    "--wait/--no-wait",
    default=True,
    show_default=True,
    help="Wait until it is ready (and print it), or print the submitted task and return.",
)
presets_option = click.option("--presets", is_flag=True, help="Kling's own ones, not yours.")


def _element_record(element: ElementInfo) -> dict[str, Any]:
    return {
        "element_id": element.element_id,
        "name": element.name,
        "description": element.description,
        "reference_type": element.reference_type,
        "status": element.status.value,
        "owned_by": element.owned_by,
        "voice_id": element.voice.voice_id if element.voice else None,
        "tags": list(element.tags),
    }


def _voice_record(voice: VoiceInfo) -> dict[str, Any]:
    return {
        "voice_id": voice.voice_id,
        "name": voice.name,
        "status": voice.status.value,
        "owned_by": voice.owned_by,
        "trial_url": voice.trial_url,
    }


def _show(task: AssetTask, as_json: bool) -> None:
    """The task's elements and voices, one line each (or one JSON line each); a task that
    made nothing yet, as its status."""
    made = [("element", _element_record(e)) for e in task.elements] + [
        ("voice", _voice_record(v)) for v in task.voices
    ]
    if as_json:
        for what, record in made or [("task", {})]:
            click.echo(
                json.dumps(
                    {
                        "task_id": task.task_id,
                        "external_task_id": task.task.external_task_id,
                        "task_status": task.status.value,
                        "kind": what,
                        **record,
                    }
                )
            )
        return
    if not made:
        click.echo(f"task {task.task_id}  {task.status.value}")
    for what, record in made:
        ident = record[f"{what}_id"]
        click.echo(f"{ident}  {record['status']:<8}  {record['name']}  (task {task.task_id})")


async def _finish(
    resource: ElementsResource | VoicesResource, task: AssetTask, options: dict[str, Any]
) -> None:
    """Print the created task: once it is ready (what it made), or as submitted."""
    _show(await resource.wait(task) if options["wait"] else task, options["as_json"])


def create_options(fn: Callable[..., Any]) -> Callable[..., Any]:
    """What both creates take besides their own: --external-id, --wait, --json and the
    client's options (the command receives them as ``**options``)."""
    fn = command_runner(fn)
    fn = client_options(fn)
    fn = json_option(fn)
    fn = wait_option(fn)
    return click.option("--external-id", default=None, help="Your id for the create task.")(fn)


async def _get(resource: ElementsResource | VoicesResource, ident: str, as_json: bool) -> None:
    """By task id (or external id); then, failing that, by element or voice id."""
    try:
        _show(await resource.get(ident), as_json)
        return
    except NotFoundError:
        pass
    async for task in resource.list(page_size=500):
        ids = [str(e.element_id) for e in task.elements] + [v.voice_id for v in task.voices]
        if ident in ids:
            _show(task, as_json)
            return
    fail(f"no task, element or voice {ident!r} in this account", None, EXIT_FAILED)


async def _list(
    resource: ElementsResource | VoicesResource, presets: bool, limit: int, as_json: bool
) -> None:
    listing = resource.presets() if presets else resource.list(page_size=min(limit, 500))
    count = 0
    async for task in listing:
        _show(task, as_json)
        count += 1
        if count >= limit:
            break


# -- elements ------------------------------------------------------------------------------
@click.group("elements")
def elements_group() -> None:
    """Custom elements: a subject made once from 2..4 images, named in videos by its id.

    \b
    Examples:
      kling-async elements create photos/corgi --name Corgi --description "our corgi"
      kling-async elements list
      kling-async animate shots/ --out videos --model kling-3.0 --element 123 \
        --prompt "@element_1 runs"
      kling-async elements delete 123
    """


@elements_group.command("create")
@click.argument("folder", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--name", required=True, help="The element's name (at most 20 characters).")
@click.option("--description", required=True, help="What it is (at most 100 characters).")
@click.option(
    "--frontal",
    default=None,
    help="The frontal image (a file in FOLDER); default: the first .jpg/.png by name.",
)
@click.option("--tag", "tags", multiple=True, help="A tag id, o_101..o_108 (repeatable).")
@click.option("--voice-id", default=None, help="A voice to bind to the element.")
@create_options
async def elements_create_command(
    folder: Path,
    name: str,
    description: str,
    frontal: str | None,
    tags: tuple[str, ...],
    voice_id: str | None,
    **options: Any,
) -> None:
    """Make an element from FOLDER's .jpg/.png images: the frontal one and 1..3 others (each
    at least 300 px, at most 10 MB). Prints the element id once it is ready."""
    async with make_client(options["base_url"]) as client:
        task = await client.elements.create_from_folder(
            folder,
            name=name,
            description=description,
            frontal=frontal,
            tags=tags,
            voice_id=voice_id,
            external_task_id=options["external_id"],
        )
        await _finish(client.elements, task, options)


# -- voices --------------------------------------------------------------------------------
@click.group("voices")
def voices_group() -> None:
    """Custom voices: made once from 5..30 s of one clean voice, named in videos by its id.

    \b
    Examples:
      kling-async voices create https://example.com/me.mp3 --name Narrator
      kling-async voices list --presets
      kling-async voices delete 850087542757535834
    """


@voices_group.command("create")
@click.argument("voice_url", required=False)
@click.option("--name", required=True, help="The voice's name (at most 20 characters).")
@click.option("--video-id", default=None, help="Take the voice from a video Kling made.")
@create_options
async def voices_create_command(
    voice_url: str | None, name: str, video_id: str | None, **options: Any
) -> None:
    """Make a voice from VOICE_URL (an .mp3/.wav/.mp4/.mov URL) or from --video-id."""
    async with make_client(options["base_url"]) as client:
        task = await client.voices.create(
            name=name,
            voice_url=voice_url,
            video_id=video_id,
            external_task_id=options["external_id"],
        )
        await _finish(client.voices, task, options)


# -- list, get, delete: alike for both -----------------------------------------------------
def _add_queries(group: click.Group, noun: str, pick: Pick) -> None:
    """``list``, ``get`` and ``delete`` of ``group`` (``elements`` or ``voices``)."""

    @group.command("list", help=f"List your {noun}s, newest first (deleted ones marked so); "
                   "or Kling's presets.")  # fmt: skip
    @presets_option
    @number_option("--limit", click.IntRange(min=1), default=30)
    @json_option
    @client_options
    @command_runner
    async def list_command(
        presets: bool, limit: int, as_json: bool, base_url: str | None, verbose: bool
    ) -> None:
        async with make_client(base_url) as client:
            await _list(pick(client), presets, limit, as_json)

    @group.command(
        "get", help=f"Show a {noun} by its create task's id, your external id, or its {noun} id."
    )
    @click.argument("ident")
    @json_option
    @client_options
    @command_runner
    async def get_command(ident: str, as_json: bool, base_url: str | None, verbose: bool) -> None:
        async with make_client(base_url) as client:
            await _get(pick(client), ident, as_json)

    @group.command(
        "delete", help=f"Delete one of your {noun}s (videos naming it are refused from then on)."
    )
    @click.argument("ident", metavar=f"{noun.upper()}_ID")
    @client_options
    @command_runner
    async def delete_command(ident: str, base_url: str | None, verbose: bool) -> None:
        async with make_client(base_url) as client:
            await pick(client).delete(ident)
        click.echo(f"deleted {noun} {ident}")


_add_queries(elements_group, "element", lambda client: client.elements)
_add_queries(voices_group, "voice", lambda client: client.voices)
