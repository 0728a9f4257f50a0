"""What the single-task commands share: finding a task by its id (or your external id) on
either kind, printing it (a line, or ``--json``), and their ``--kind``/``--json`` options."""

from __future__ import annotations

import json
from typing import Any

import attrs
import click

from ...client import KlingClient
from ...errors import NotFoundError
from ...resources import TaskResource
from ...results import Task
from .._settings import chosen_api

KINDS = click.Choice(["auto", "image2video", "text2video"])


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


async def find(client: KlingClient, kind: str, ident: str) -> tuple[TaskResource[Any], Task]:
    """The task and the resource that holds it; ``auto`` looks at image-to-video, then at
    text-to-video. Raises the first ``NotFoundError`` when neither has it."""
    kinds = ["image2video", "text2video"] if kind == "auto" else [kind]
    if chosen_api() == "new":
        kinds = kinds[:1]  # the new API finds every video task in one place
    missing: NotFoundError | None = None
    for name in kinds:
        resource = client.resource_for(name)
        try:
            return resource, await resource.get(ident)
        except NotFoundError as exc:
            missing = missing or exc
    assert missing is not None
    raise missing


json_option = click.option("--json", "as_json", is_flag=True, help="Print JSON.")
kind_option = click.option(
    "--kind",
    type=KINDS,
    default="auto",
    show_default=True,
    help="Where to look the id up (auto: image-to-video, then text-to-video).",
)
