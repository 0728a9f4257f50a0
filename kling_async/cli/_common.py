"""What every command shares: building the client, and turning errors into one clear line."""

from __future__ import annotations

import asyncio
import functools
import logging
import sys
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

import click

from ..client import KlingClient
from ..errors import (
    APIConnectionError,
    AuthenticationError,
    BalanceExhaustedError,
    ConfigurationError,
    JournalError,
    KlingError,
    NotFoundError,
    RateLimitError,
    ValidationError,
)

T = TypeVar("T")
#: Exit codes: 0 all done, 1 some jobs failed (or an API error), 2 usage, configuration or an
#: error that concerns the whole run (credentials, account, journal), 3 timed out (a task or a
#: wait did not end in time; nothing is lost, run again to go on), 130 interrupted (Ctrl-C).
EXIT_FAILED, EXIT_USAGE, EXIT_TIMEOUT, EXIT_INTERRUPTED = 1, 2, 3, 130

_HINTS: list[tuple[type[BaseException], str]] = [
    (
        ConfigurationError,
        "set KLING_ACCESS_KEY and KLING_SECRET_KEY (or KLING_API_KEY); "
        "--base-url or KLING_BASE_URL for another host",
    ),
    (AuthenticationError, "check KLING_ACCESS_KEY / KLING_SECRET_KEY (or KLING_API_KEY)"),
    (
        BalanceExhaustedError,
        "the resource pack is used up: top it up, then run the same command again to continue",
    ),
    (RateLimitError, "the account is rate limited; try again in a moment"),
    (NotFoundError, "check the task id (a task_id or your external id)"),
    (APIConnectionError, "check the network and --base-url"),
    (ValidationError, "fix the input named above; nothing was sent"),
]


def client_options(fn: Callable[..., Any]) -> Callable[..., Any]:
    """--base-url and --verbose for every command that talks to the API."""
    fn = click.option(
        "--base-url",
        envvar="KLING_BASE_URL",
        default=None,
        help="API host (env KLING_BASE_URL); e.g. an emulator's URL.",
    )(fn)
    fn = click.option("-v", "--verbose", is_flag=True, help="Show details and tracebacks.")(fn)
    fn = click.option(
        "--api",
        type=click.Choice(["auto", "legacy", "new"]),
        default="auto",
        show_default=True,
        expose_value=False,
        callback=_remember_api,
        help="Which Kling API: auto goes by the model's name (kling-3.0-turbo: the new one, "
        "API key only); task ids are looked up on the legacy one unless 'new'.",
    )(fn)
    return fn


def _remember_api(ctx: click.Context, _: click.Parameter, value: str) -> str:
    ctx.meta["kling_async.api"] = value
    return value


def chosen_api() -> str:
    """The --api the running command was given."""
    ctx = click.get_current_context(silent=True)
    return str(ctx.meta.get("kling_async.api", "auto")) if ctx is not None else "auto"


def make_client(base_url: str | None, **options: Any) -> KlingClient:
    options.setdefault("api", chosen_api())
    return KlingClient(base_url=base_url, **options)


def hint_for(exc: BaseException) -> str | None:
    for cls, hint in _HINTS:
        if isinstance(exc, cls):
            return hint
    return None


def run(coro_fn: Callable[[], Coroutine[Any, Any, T]], verbose: bool) -> T:
    """Run a command's coroutine: expected errors become one message and an exit code."""
    logging.basicConfig(
        level=logging.INFO if verbose else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    try:
        return asyncio.run(coro_fn())
    except KeyboardInterrupt:
        click.echo(
            "\nInterrupted. Run the same command again to resume: finished work is "
            "kept and nothing is paid for twice.",
            err=True,
        )
        sys.exit(EXIT_INTERRUPTED)
    except KlingError as exc:
        if verbose:
            raise
        click.echo(f"error: {exc}", err=True)
        hint = hint_for(exc)
        if hint:
            click.echo(f"hint: {hint}", err=True)
        usage = isinstance(exc, ConfigurationError | ValidationError | JournalError)
        sys.exit(EXIT_USAGE if usage else EXIT_FAILED)


def command_runner(fn: Callable[..., Coroutine[Any, Any, T]]) -> Callable[..., T]:
    """Wrap an async command body so click can call it."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> T:
        verbose = bool(kwargs.get("verbose"))
        return run(lambda: fn(*args, **kwargs), verbose)

    return wrapper
