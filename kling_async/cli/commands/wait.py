"""``kling-async wait``: look at once, then poll; progress on stderr; exit 1 when the task
failed and 3 at ``--timeout`` (the task goes on, and the message says how to wait again)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from typing import Any, NoReturn

import attrs
import click

from ..._waiting import WaitPolicy
from ...errors import TaskFailedError, TaskTimeoutError
from ...results import Task
from ...states import RunStatus
from .._exits import EXIT_FAILED, EXIT_TIMEOUT, fail
from .._format import seconds_text
from .._options import number_option
from .._runner import command_runner
from .._settings import client_options, make_client
from .lookup import find, json_option, kind_option, show, task_record

#: Seconds between looks that ``--poll-interval`` accepts.
POLL_RANGE = (0.5, 600.0)
#: ``wait`` says "still ..." when nothing changed for this long.
_STILL_EVERY = 30.0


def _check_poll_interval(_: click.Context, __: click.Parameter, value: float | None) -> Any:
    low, high = POLL_RANGE
    if value is not None and not low <= value <= high:  # NaN too
        raise click.BadParameter(
            f"{value!r} — must be a number of seconds from {low:g} to {high:g}"
        )
    return value


class WaitProgress:
    """``wait``'s lines on stderr: each change of state, and a "still ..." line when nothing
    changed for a while, with the time waited (by ``now``: the running loop's clock)."""

    def __init__(self, enabled: bool, now: Callable[[], float] | None = None) -> None:
        self.enabled = enabled
        self._now = now or asyncio.get_running_loop().time
        self._start = self._last_line = self._now()
        self._status: str | None = None

    def __call__(self, task: Task) -> None:
        if not self.enabled:
            return
        now = self._now()
        waited = seconds_text(now - self._start)
        status = task.status.value
        if self._status is None:
            if not task.is_final:
                click.echo(
                    f"task {task.task_id}: {status}; waiting (Ctrl-C stops waiting, not the task)",
                    err=True,
                )
        elif status != self._status:
            click.echo(f"task {task.task_id}: {status} after {waited}", err=True)
        elif now - self._last_line >= _STILL_EVERY:
            click.echo(f"task {task.task_id}: still {status} after {waited}", err=True)
        else:
            return
        self._status, self._last_line = status, now


def poll_policy(default: WaitPolicy, poll_interval: float | None) -> WaitPolicy:
    """Fixed looks every ``poll_interval``; else, as ``--help`` says, every 3 s growing to
    15 s after the first look (made at once)."""
    if poll_interval is not None:
        return attrs.evolve(
            default,
            first_poll=poll_interval,
            min_interval=poll_interval,
            max_interval=poll_interval,
            factor=1.0,
        )
    return attrs.evolve(default, first_poll=_FIRST_LOOK, min_interval=_EVERY, max_interval=_AT_MOST)


#: The command's own pace (its --help): a first look soon after the one made at once, then
#: every 3 s growing to 15 s.
_FIRST_LOOK, _EVERY, _AT_MOST = 3.5, 3.0, 15.0


def _timed_out(ident: str, kind: str, timeout: float, last: Task | None, as_json: bool) -> NoReturn:
    status = last.status.value if last is not None else "not answering"
    if as_json and last is not None:
        click.echo(json.dumps(task_record(last) | {RunStatus.TIMED_OUT: True}))
    again = f"kling-async wait {ident}" + ("" if kind == "auto" else f" --kind {kind}")
    fail(
        f"task {ident} is still {status} after {timeout:g} s (--timeout); it goes on "
        "running on Kling",
        f"nothing is lost: run `{again}` to wait again (--timeout SECONDS to wait longer)",
        EXIT_TIMEOUT,
    )


#: ``--timeout`` of the commands that wait for a task (``wait``, ``generate``).
timeout_option = number_option(
    "--timeout",
    click.FloatRange(min=1),
    "Seconds to wait; then exit 3 (the task goes on; wait again to resume).",
    default=1200,
)
#: ``--quiet``: no progress on stderr.
quiet_option = click.option("-q", "--quiet", is_flag=True, help="No progress lines on stderr.")


@click.command("wait")
@click.argument("task_id")
@timeout_option
@click.option(
    "--poll-interval",
    type=float,
    default=None,
    metavar="SECONDS",
    callback=_check_poll_interval,
    help=f"Look every SECONDS ({POLL_RANGE[0]:g}..{POLL_RANGE[1]:g}); default: 3 s growing "
    "to 15 s. The first look is always at once.",
)
@quiet_option
@kind_option
@json_option
@client_options
@command_runner
async def wait_command(
    task_id: str,
    timeout: float,
    poll_interval: float | None,
    quiet: bool,
    kind: str,
    as_json: bool,
    base_url: str | None,
    verbose: bool,
) -> None:
    """Wait until a task ends and print it; exit 1 if it failed, 3 at --timeout.

    Looks at once (a finished task returns at once, an unknown id fails at once), then
    polls; progress goes to stderr (not with --quiet or --json).

    \b
    Examples:
      kling-async wait 782340958234 --timeout 900
      kling-async wait my-external-id --poll-interval 10 --json
    """
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    async with make_client(base_url) as client:
        first_look = asyncio.timeout(timeout)
        try:
            async with first_look:
                resource, task = await find(client, kind, task_id)
        except TimeoutError:
            if not first_look.expired():
                raise
            _timed_out(task_id, kind, timeout, None, as_json)
        progress = WaitProgress(enabled=not (quiet or as_json))
        progress(task)
        if not task.is_final:
            policy = poll_policy(client.wait_policy, poll_interval)
            try:
                task = await resource.wait(
                    task,
                    timeout=max(deadline - loop.time(), 0.001),
                    on_progress=progress,
                    policy=policy,
                )
            except TaskTimeoutError as exc:
                _timed_out(task_id, kind, timeout, exc.last or task, as_json)
            except TaskFailedError as exc:
                task = exc.task
    show(task, as_json)
    if task.failed:
        reason = task.status_message or "no reason given"
        fail(
            f"task {task.task_id} failed: {reason}",
            "Kling does not charge a failed task",
            EXIT_FAILED,
        )
