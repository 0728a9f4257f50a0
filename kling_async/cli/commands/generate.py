"""``kling-async generate``: one image (or a prompt alone) to one video file — create, wait
with progress on stderr, download; the SDK's ``generate`` (it looks early, then backs off)."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, NoReturn

import attrs
import click

from ... import money
from ...errors import TaskFailedError, TaskTimeoutError
from ...models import ImageToVideo, TextToVideo
from ...results import Task
from ...states import RunStatus
from ...validation import plan
from .._exits import EXIT_FAILED, EXIT_TIMEOUT, EXIT_USAGE, fail
from .._format import seconds_text
from .._runner import resumable_command_runner, say_on_interrupt
from .._settings import chosen_api, client_options, make_client
from .._video_options import allow_unknown_models_option, option_given, video_options
from ..inputs import check_options, defaults_from_options, make_input, out_folder_problem
from ..inputs.credentials import credentials_problem
from .lookup import json_option, task_record
from .wait import WaitProgress, quiet_option, timeout_option

#: Options that only image to video takes (refused without IMAGE, not dropped).
_IMAGE_ONLY = ("end_frame", "element", "camera")


class LiveLine:
    """On a terminal: one line on stderr, rewritten every ``every`` seconds with the task's
    state and the time waited; ``close`` ends it with a newline."""

    def __init__(self, what: str, every: float = 1.0) -> None:
        self._what = what
        self._status = "creating"
        self._every = every
        self._start = asyncio.get_running_loop().time()
        self._ticker = asyncio.get_running_loop().create_task(self._tick())

    def __call__(self, task: Task) -> None:
        self._what, self._status = f"task {task.task_id}", task.status.value
        self._draw()

    def _draw(self) -> None:
        waited = seconds_text(asyncio.get_running_loop().time() - self._start)
        click.echo(f"\r\x1b[K{self._what}: {self._status}, {waited}", err=True, nl=False)

    async def _tick(self) -> None:
        while True:
            self._draw()
            await asyncio.sleep(self._every)

    def close(self) -> None:
        self._ticker.cancel()
        self._draw()
        click.echo("", err=True)


class StateLines:
    """Off a terminal: a line per change of state (``wait``'s lines), and one for a task
    that had ended by the first look (which ``wait`` prints as its result instead)."""

    def __init__(self, what: str) -> None:
        click.echo(f"{what}: creating", err=True)
        self._lines = WaitProgress(enabled=True)
        self._start = asyncio.get_running_loop().time()
        self._first = True

    def __call__(self, task: Task) -> None:
        if self._first and task.is_final:
            waited = seconds_text(asyncio.get_running_loop().time() - self._start)
            click.echo(f"task {task.task_id}: {task.status.value} after {waited}", err=True)
        self._first = False
        self._lines(task)


def progress_display(
    quiet: bool, as_json: bool, what: str
) -> tuple[Callable[[Task], None], Callable[[], None]]:
    """What sees each polled state, and what ends the progress display: a live line on a
    terminal, else a line per change of state; nothing with --quiet or --json."""
    if quiet or as_json:
        return lambda _: None, lambda: None
    if sys.stderr.isatty():
        live = LiveLine(what)
        return live, live.close
    return StateLines(what), lambda: None


def one_task_command(fn: Callable[..., Any]) -> Callable[..., Any]:
    """What a command that makes one task and waits for it takes besides its own options:
    --timeout, --quiet, --json, --allow-unknown-models and the client's; SIGTERM as Ctrl-C."""
    for decorate in (
        resumable_command_runner,
        client_options,
        allow_unknown_models_option,
        json_option,
        quiet_option,
        timeout_option,
    ):
        fn = decorate(fn)
    return fn


@click.command("generate")
@click.argument("image", required=False, type=click.Path(path_type=Path))
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    required=True,
    help="The video file to write, e.g. out.mp4.",
)
@click.option("--overwrite", is_flag=True, help="Replace OUTPUT if it is already there.")
@video_options(
    prompt="What happens in the video; alone (no IMAGE) it makes text to video.",
    negative_prompt="What to avoid.",
    aspect_ratio="Text to video only (default 16:9); an image keeps its own shape.",
    end_frame="An end frame: the video travels from IMAGE to it.",
)
@one_task_command
async def generate_command(
    image: Path | None,
    output: Path,
    overwrite: bool,
    timeout: float,
    quiet: bool,
    as_json: bool,
    allow_unknown_models: bool,
    base_url: str | None,
    verbose: bool,
    **opts: Any,
) -> None:
    """Make one video: IMAGE to video, or --prompt alone for text to video; wait for it
    (progress on stderr) and write it to OUTPUT; print its path (or --json, a record).

    Exit 1 if the task failed (with Kling's reason), 3 at --timeout (the task goes on: `wait`
    and `download` fetch it later). For many images, `animate` resumes.

    \b
    Examples:
      kling-async generate cat.png --prompt "the cat blinks" -o cat.mp4
      kling-async generate --prompt "a paper boat on a rainy street" -o boat.mp4 --json
    """
    await _check_inputs(image, output, overwrite, opts)
    defaults = defaults_from_options(opts, duration_given=option_given("duration"))
    item = make_input(str(image or "--prompt"), defaults, {"image": image} if image else {})
    check_options([item], opts, api=chosen_api(), allow_unknown_models=allow_unknown_models)
    job = attrs.evolve(item.job, external_task_id=money.new_external_id())
    client = make_client(base_url, allow_unknown_models=allow_unknown_models)  # fails early
    planned = plan(job, api=client.api, allow_unknown_models=allow_unknown_models)
    missing = credentials_problem(client, [job], allow_unknown_models=allow_unknown_models)
    if missing is not None:
        fail(missing, "nothing was sent; add the credential, then run the same command", EXIT_USAGE)
    assert job.external_task_id is not None
    assert isinstance(job, ImageToVideo | TextToVideo)  # no manifest row: no other kind
    kind = "image to video" if isinstance(job, ImageToVideo) else "text to video"
    what = f"{kind} ({job.model} {job.mode} {int(job.duration)} s)"
    seen: list[Task] = []
    # Ctrl-C or SIGTERM stops the waiting, not the task: say how to get its video
    say_on_interrupt(_goes_on(job.external_task_id, planned.wire, output, created=False))
    async with client:
        on_progress, done = progress_display(quiet, as_json, what)

        def progress(task: Task) -> None:
            if not seen:
                say_on_interrupt(_goes_on(task.task_id, planned.wire, output, created=True))
            seen[:] = [task]  # the last state seen
            on_progress(task)

        try:
            try:
                path = await client.resource_for(planned.endpoint).generate(
                    job, output=output, timeout=timeout, on_progress=progress
                )
            finally:
                done()  # the live line ends before anything else is said
        except TaskFailedError as exc:
            exit_failed(exc.task, as_json, {"path": None, "bytes": None})
        except TaskTimeoutError as exc:
            _timed_out(exc, timeout, _again(exc.task_id, planned.wire, output), as_json)
    size = (await asyncio.to_thread(path.stat)).st_size
    if as_json:
        record = task_record(seen[-1]) if seen else {"external_task_id": job.external_task_id}
        click.echo(json.dumps(record | {"path": str(path), "bytes": size}))
    else:
        click.echo(str(path))


async def _check_inputs(
    image: Path | None, output: Path, overwrite: bool, opts: dict[str, Any]
) -> None:
    """IMAGE, the options that go with it (or without), and OUTPUT: each wrong one in one
    line, exit 2, before anything is sent."""
    if image is None:
        if not opts["prompt"]:
            raise click.UsageError(
                "give an IMAGE for image to video, or --prompt for text to video"
            )
        given = [o for o in _IMAGE_ONLY if opts[o]]
        if given:
            flag = "--" + given[0].replace("_", "-")
            fail(f"{flag}: needs an IMAGE (text to video takes none)", None, EXIT_USAGE)
    else:
        problem = await asyncio.to_thread(_image_problem, image)
        if problem is not None:
            fail(f"IMAGE {image}: {problem}", None, EXIT_USAGE)
        if opts["aspect_ratio"] is not None:
            fail(
                f"--aspect-ratio {opts['aspect_ratio']}: text to video only; the video has the "
                "IMAGE's shape",
                None,
                EXIT_USAGE,
            )
    if await asyncio.to_thread(os.path.isdir, output):
        fail(f"-o {output}: is a folder; give the video's file name", None, EXIT_USAGE)
    if not overwrite and await asyncio.to_thread(os.path.lexists, output):
        fail(
            f"-o {output}: already exists; nothing was sent",
            "add --overwrite to replace it, or give another -o",
            EXIT_USAGE,
        )
    problem = await asyncio.to_thread(out_folder_problem, output.parent)
    if problem is not None:
        fail(f"-o {output}: {problem}", None, EXIT_USAGE)


def _image_problem(image: Path) -> str | None:
    if not image.exists():
        return "no such file"
    if image.is_dir():
        return "is a folder; give one image file (`kling-async animate` takes folders)"
    return None


def _again(ident: str, wire: str, output: Path) -> str:
    """How to get the video later without paying again: ``wait``, then ``download``, by the
    task's id (or its external id, known before it is created)."""
    api = " --api new" if wire == "new" else ""
    return (
        f"`kling-async wait {ident}{api}` waits for it, then "
        f"`kling-async download {ident}{api} --out {output}` fetches its video"
    )


def _goes_on(ident: str, wire: str, output: Path, *, created: bool) -> str:
    """What Ctrl-C says: the task goes on; how to get its video without paying again."""
    which = f"Task {ident}" if created else "The task, if it was created,"
    return (
        f"{which} goes on on Kling: {_again(ident, wire, output)}; running generate again "
        "makes (and pays for) another video."
    )


def _timed_out(exc: TaskTimeoutError, timeout: float, again: str, as_json: bool) -> NoReturn:
    if as_json and exc.last is not None:
        record = task_record(exc.last) | {"path": None, "bytes": None}
        click.echo(json.dumps(record | {RunStatus.TIMED_OUT: True}))
    status = exc.last.status.value if exc.last is not None else "not answering"
    fail(
        f"task {exc.task_id} is still {status} after {timeout:g} s (--timeout); it goes on "
        "running on Kling",
        f"nothing is lost: {again}",
        EXIT_TIMEOUT,
    )


def exit_failed(task: Task, as_json: bool, nothing: dict[str, None]) -> NoReturn:
    """Exit 1 for a failed task, with Kling's reason (``--json``: its record, and ``nothing``
    where the output's fields would be)."""
    if as_json:
        click.echo(json.dumps(task_record(task) | nothing))
    fail(
        f"task {task.task_id} failed: {task.status_message or 'no reason given'}",
        "Kling does not charge a failed task",
        EXIT_FAILED,
    )
