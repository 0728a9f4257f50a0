"""Running a command's coroutine on the loop: expected errors become one line in the CLI's
words, a hint, and an exit code; Ctrl-C becomes a line saying how to resume."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import signal
import sys
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

import click

from .._loop import run as run_on_loop
from .._loop import startup_signals as starting_up
from ..errors import (
    AccountError,
    APIConnectionError,
    AuthenticationError,
    BalanceExhaustedError,
    ConfigurationError,
    CreateUnconfirmedError,
    DownloadError,
    JournalError,
    KlingError,
    NotFoundError,
    RateLimitError,
    TaskTimeoutError,
    ValidationError,
    WorkerHaltedError,
)
from ._config import config_path
from ._exits import (
    EXIT_FAILED,
    EXIT_INTERRUPTED,
    EXIT_TERMINATED,
    EXIT_TIMEOUT,
    EXIT_USAGE,
    fail,
)
from ._settings import credentials_from
from ._words import message_for

T = TypeVar("T")

#: Errors that concern the whole run, not one task: said once, exit 2.
_WHOLE_RUN = (
    ConfigurationError,
    ValidationError,
    JournalError,
    AuthenticationError,
    AccountError,
    WorkerHaltedError,
)


#: The hint after an error of each kind that needs no detail of it (the first that fits).
_HINTS: tuple[tuple[type[BaseException], str], ...] = (
    (
        BalanceExhaustedError,
        "the resource pack is used up: top it up, then run the same command again",
    ),
    (
        AccountError,
        "the account cannot be used right now (Kling says why above); check it on klingai",
    ),
    (RateLimitError, "the account is rate limited; try again in a moment"),
    (NotFoundError, "check the task id (a task_id or your external id)"),
    (APIConnectionError, "check the network and --base-url"),
    (ValidationError, "fix the input named above; nothing was sent"),
    (
        WorkerHaltedError,
        "the other workers go on with its jobs; fix what it names above (its key, clock, "
        "network, disk or Redis), then start it again",
    ),
    (DownloadError, "run the same command again: a broken download resumes where it stopped"),
)


def hint_for(exc: BaseException) -> str | None:
    if isinstance(exc, ConfigurationError):
        path, _ = config_path()
        return (
            "set KLING_ACCESS_KEY and KLING_SECRET_KEY (or KLING_API_KEY), or put access_key "
            f"and secret_key (or api_key) in {path}; --base-url or KLING_BASE_URL for "
            "another host"
        )
    if isinstance(exc, AuthenticationError):
        return (
            f"Kling refused the credentials from {credentials_from()}: check the access key and "
            "secret key (or the API key) there; no task was created"
        )
    if isinstance(exc, CreateUnconfirmedError):
        return (
            f"`kling-async status {exc.external_task_id}` tells whether it was created; "
            "submit again only if that says it is not found"
        )
    return next((hint for kind, hint in _HINTS if isinstance(exc, kind)), None)


_RESUME = (
    "Run the same command again to resume: finished work is kept and nothing is paid for twice."
)
_RESUME_LINE = "kling_async.resume_line"


def say_on_interrupt(line: str) -> None:
    """What Ctrl-C (or SIGTERM) says after "Interrupted." for the running command, instead
    of "Run the same command again to resume" (a command whose rerun does not resume)."""
    ctx = click.get_current_context(silent=True)
    if ctx is not None:
        ctx.meta[_RESUME_LINE] = line


def _resume_line() -> str:
    ctx = click.get_current_context(silent=True)
    return str(ctx.meta.get(_RESUME_LINE, _RESUME)) if ctx is not None else _RESUME


def run(
    coro_fn: Callable[[], Coroutine[Any, Any, T]], verbose: bool, *, sigterm: bool = False
) -> T:
    """Run a command's coroutine: expected errors become one message and an exit code;
    Ctrl-C (and with ``sigterm``, SIGTERM) stops it, says how to resume, and exits 130
    (143)."""
    logging.basicConfig(
        level=logging.INFO if verbose else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    terminated: list[int] = []

    async def main() -> T:
        if sigterm:
            _cancel_on_sigterm(terminated)
        return await coro_fn()

    try:
        return run_on_loop(main())
    except KeyboardInterrupt:
        click.echo(f"\nInterrupted. {_resume_line()}", err=True)
        sys.exit(EXIT_INTERRUPTED)
    except asyncio.CancelledError:
        if not terminated:
            raise
        click.echo(f"\nTerminated (SIGTERM). {_resume_line()}", err=True)
        sys.exit(EXIT_TERMINATED)
    except KlingError as exc:
        if verbose:
            raise
        if isinstance(exc, TaskTimeoutError):
            code = EXIT_TIMEOUT
        elif isinstance(exc, _WHOLE_RUN):
            code = EXIT_USAGE
        else:
            code = EXIT_FAILED
        fail(message_for(exc), hint_for(exc), code)


def _cancel_on_sigterm(terminated: list[int]) -> None:
    """SIGTERM cancels the running command's task, as Ctrl-C does (the loop's own handler),
    and is noted in ``terminated``."""
    loop = asyncio.get_running_loop()
    task = asyncio.current_task()
    assert task is not None

    def on_sigterm() -> None:
        terminated.append(signal.SIGTERM)
        task.cancel()

    with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):  # not main thread
        loop.add_signal_handler(signal.SIGTERM, on_sigterm)


def startup_signals() -> contextlib.AbstractContextManager[None]:
    """While a command starts (its options, its config profile, until its loop runs): Ctrl-C
    is one line and exit 130, SIGTERM one line and exit 143 — not a traceback, nor click's
    "Aborted!", nor a silent end."""
    return starting_up(
        {
            signal.SIGINT: ("Interrupted before anything was sent.", EXIT_INTERRUPTED),
            signal.SIGTERM: ("Terminated before anything was sent.", EXIT_TERMINATED),
        }
    )


def command_runner(fn: Callable[..., Coroutine[Any, Any, T]]) -> Callable[..., T]:
    """Wrap an async command body so click can call it."""
    return _wrap(fn, sigterm=False)


def resumable_command_runner(fn: Callable[..., Coroutine[Any, Any, T]]) -> Callable[..., T]:
    """``command_runner`` for a command that SIGTERM stops as Ctrl-C does (exit 143): its
    body finishes what it says on ``CancelledError`` and a rerun resumes."""
    return _wrap(fn, sigterm=True)


def _wrap(fn: Callable[..., Coroutine[Any, Any, T]], *, sigterm: bool) -> Callable[..., T]:
    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> T:
        verbose = bool(kwargs.get("verbose"))
        return run(lambda: fn(*args, **kwargs), verbose, sigterm=sigterm)

    return wrapper
