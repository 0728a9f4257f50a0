"""``kling-async imagine``: one prompt to ``-n`` images in a folder — create one image task,
wait with progress on stderr (``generate``'s display), download every image."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import click

from ... import money
from ..._surfaces import IMAGE_N, IMAGE_RATIOS, IMAGE_RESOLUTIONS
from ...errors import TaskFailedError, TaskTimeoutError, ValidationError
from ...image_requests import ImageGeneration
from ...results import Task
from ...validation import plan
from .._exits import EXIT_TIMEOUT, EXIT_USAGE, fail
from .._runner import say_on_interrupt
from .._settings import make_client, out_option
from .._words import message_for
from ..inputs import out_folder_problem
from .generate import exit_failed, one_task_command, progress_display
from .lookup import task_record

_LOW, _HIGH = IMAGE_N


@click.command("imagine")
@click.argument("prompt")
@click.option(
    "-n",
    "count",
    type=click.IntRange(_LOW, _HIGH),
    default=1,
    show_default=True,
    help=f"How many images ({_LOW}-{_HIGH}); each holds one parallel-task slot while made.",
)
@out_option(
    "The folder the images go to (made if missing), as <task id>-<index>.png.", required=True
)
@click.option(
    "--model",
    default="kling-v3",
    show_default=True,
    help="An image model of the vendor's image page (Kling 2.1's stays live for images).",
)
@click.option("--aspect-ratio", type=click.Choice(IMAGE_RATIOS), help="Default 16:9.")
@click.option("--resolution", type=click.Choice(IMAGE_RESOLUTIONS), help="Default 1k.")
@click.option(
    "--image",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="A reference image (image to image).",
)
@click.option("--negative-prompt", help="What to avoid (not with --image).")
@one_task_command
async def imagine_command(
    prompt: str,
    count: int,
    out_dir: Path,
    as_json: bool,
    quiet: bool,
    timeout: float,
    base_url: str | None,
    allow_unknown_models: bool,
    verbose: bool,
    **fields: Any,
) -> None:
    """Make -n images of PROMPT in one task; wait for it (progress on stderr) and write
    every image into --out; print their paths, one a line (or --json, a record).

    Exit 1 if the task failed (with Kling's reason), 3 at --timeout (the task goes on).

    \b
    Examples:
      kling-async imagine "a red fox in fresh snow" -n 4 --out foxes/
      kling-async imagine "the same fox, at night" --image foxes/fox.png --out night/ --json
    """
    # --model, --aspect-ratio, --resolution, --image, --negative-prompt: the request's own
    job = ImageGeneration(
        prompt=prompt, n=count, external_task_id=money.new_external_id(), **fields
    )
    problem = await asyncio.to_thread(out_folder_problem, out_dir)
    if problem is not None:
        fail(f"--out {out_dir}: {problem}", None, EXIT_USAGE)
    client = make_client(base_url, allow_unknown_models=allow_unknown_models)  # fails early
    try:
        planned = plan(job, api=client.api, allow_unknown_models=allow_unknown_models)
        client.images.check_credentials(planned)
    except ValidationError as exc:
        fail(message_for(exc), "nothing was sent", EXIT_USAGE)
    say_on_interrupt(_goes_on(job.external_task_id or "", created=False))
    async with client:
        on_progress, done = progress_display(quiet, as_json, f"{count} image(s) ({job.model})")

        def progress(task: Task) -> None:
            say_on_interrupt(_goes_on(task.task_id, created=True))  # known by its id now
            on_progress(task)

        try:
            try:
                task = await client.images.wait(
                    await client.images.create(job), timeout=timeout, on_progress=progress
                )
            finally:
                done()
        except TaskFailedError as exc:
            exit_failed(exc.task, as_json, {"paths": None})
        except TaskTimeoutError as exc:
            fail(
                f"task {exc.task_id} is still running after {timeout:g} s (--timeout); it goes "
                "on running on Kling",
                "fetch it later with client.images.get and client.images.download",
                EXIT_TIMEOUT,
            )
        paths = await client.images.download(task, out_dir)
    if as_json:
        record = task_record(task) | {"paths": [str(p) for p in paths]}
        click.echo(json.dumps(record | {"images": [i.url for i in task.images]}))
    else:
        for path in paths:
            click.echo(str(path))


def _goes_on(ident: str, *, created: bool) -> str:
    which = f"Task {ident}" if created else "The task, if it was created,"
    return (
        f"{which} goes on on Kling (client.images.get and .download fetch its images); "
        "running imagine again makes (and pays for) another."
    )
