"""What every command shares: settings (flags, environment, config profile), building the
client, the exit codes, and turning errors into one clear line in the CLI's own words."""

from __future__ import annotations

import functools
import logging
import os
import re
import sys
from collections.abc import Callable, Coroutine
from typing import IO, Any, NoReturn, TypeVar

import click

from .._auth import ENV_ACCESS_KEY, ENV_API_KEY, ENV_SECRET_KEY
from .._loop import run as run_on_loop
from ..client import KlingClient
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
)
from ._config import ENV_PROFILE, ConfigError, Settings, config_path, load_settings

T = TypeVar("T")
#: Exit codes: 0 all done, 1 some jobs failed (or an API error), 2 usage, configuration or an
#: error that concerns the whole run (credentials, account, journal), 3 timed out (a task or a
#: wait did not end in time; nothing is lost, run again to go on), 130 interrupted (Ctrl-C).
EXIT_FAILED, EXIT_USAGE, EXIT_TIMEOUT, EXIT_INTERRUPTED = 1, 2, 3, 130

#: The exit codes as the help tells them (one line each, for a ``\b`` paragraph).
EXIT_CODES_HELP = """Exit status:
  0    all done
  1    some task or job failed (or the API refused a request)
  2    usage, configuration, or a whole-run error (credentials, account used up, journal)
  3    timed out: the task keeps running; run the command again to go on
  130  interrupted (Ctrl-C); run the same command again to resume"""

_SETTINGS = "kling_async.settings"
_GROUP_PROFILE = "kling_async.group_profile"
_CREDENTIALS_FROM = "kling_async.credentials_from"
_ENV_CREDENTIALS = (ENV_ACCESS_KEY, ENV_SECRET_KEY, ENV_API_KEY)

#: Errors that concern the whole run, not one task: said once, exit 2.
_WHOLE_RUN = (ConfigurationError, ValidationError, JournalError, AuthenticationError, AccountError)


class ConfigFileError(click.ClickException):
    """A config file or profile that cannot be used: one line, a hint, exit 2."""

    exit_code = EXIT_USAGE

    def show(self, file: IO[Any] | None = None) -> None:
        click.echo(f"error: {self.message}", err=True)
        path, _ = config_path()
        click.echo(
            f"hint: the config file is {path} (KLING_ASYNC_CONFIG to use another); "
            "`kling-async --help` shows its format",
            err=True,
        )


# -- settings: flags > environment > config profile > built-in defaults -------------------
def remember_group_profile(ctx: click.Context, _: click.Parameter, value: str | None) -> None:
    """``kling-async --profile NAME <command>``: the profile for the command that follows."""
    if value:
        ctx.meta[_GROUP_PROFILE] = value


def _apply_profile(ctx: click.Context, _: click.Parameter, value: str | None) -> str | None:
    """Load the config profile before the command's other options are read, and hand its
    defaults to click (``default_map``): a flag or an option's environment variable still
    wins over them, and they win over the built-in defaults."""
    if ctx.resilient_parsing:  # shell completion: read nothing
        return value
    settings = load_for(value or ctx.meta.get(_GROUP_PROFILE))
    names = {p.name for p in ctx.command.params}
    defaults = {k: v for k, v in settings.option_defaults().items() if k in names}
    ctx.default_map = {**defaults, **(ctx.default_map or {})}
    return value


def load_for(profile: str | None) -> Settings:
    """``load_settings`` for a command: remembered for ``make_client``, errors as exit 2."""
    try:
        settings = load_settings(profile)
    except ConfigError as exc:
        raise ConfigFileError(str(exc)) from None
    ctx = click.get_current_context(silent=True)
    if ctx is not None:
        ctx.meta[_SETTINGS] = settings
    return settings


def current_settings() -> Settings:
    """The settings the running command loaded (``--profile``), else those of
    ``KLING_ASYNC_PROFILE`` / ``[default]``."""
    ctx = click.get_current_context(silent=True)
    if ctx is not None and _SETTINGS in ctx.meta:
        settings: Settings = ctx.meta[_SETTINGS]
        return settings
    return load_for(None)


def client_options(fn: Callable[..., Any]) -> Callable[..., Any]:
    """--base-url, --verbose, --api and --profile for every command that talks to the API."""
    fn = click.option(
        "--base-url",
        envvar="KLING_BASE_URL",
        default=None,
        help="API host (env KLING_BASE_URL; else the profile's base_url); e.g. an emulator's URL.",
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
    fn = click.option(
        "--profile",
        metavar="NAME",
        default=None,
        is_eager=True,
        expose_value=False,
        callback=_apply_profile,
        help=f"Config profile for credentials and defaults (env {ENV_PROFILE}).",
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
    """The client, with credentials from the environment, else from the config profile."""
    options.setdefault("api", chosen_api())
    ctx = click.get_current_context(silent=True)
    from_env = any(os.environ.get(name) for name in _ENV_CREDENTIALS)
    settings = current_settings() if ctx is not None else Settings()
    where = "the environment"
    if not from_env and settings.has_credentials:
        for key, value in settings.credentials().items():
            options.setdefault(key, value)
        where = settings.where()
    if ctx is not None:
        ctx.meta[_CREDENTIALS_FROM] = where
    return KlingClient(base_url=base_url, **options)


# -- errors in the CLI's words ---------------------------------------------------------
#: SDK field -> the option (or argument) that sets it.
OPTION_FOR = {
    "image": "IMAGE",
    "prompt": "--prompt",
    "negative_prompt": "--negative-prompt",
    "model": "--model",
    "mode": "--mode",
    "duration": "--duration",
    "cfg_scale": "--cfg-scale",
    "camera_control": "--camera",
    "sound": "--sound",
    "voices": "--voice",
    "image_tail": "--end-frame",
    "external_task_id": "--external-id",
    "callback_url": "--callback-url",
    "watermark": "--watermark",
    "multi_prompt": "--multi-prompt",
    "multi_shot": "--multi-prompt",
    "elements": "--element",
    "aspect_ratio": "--aspect-ratio",
    "api": "--api",
    "timeout": "--timeout",
    "task_id": "TASK_ID",
}
#: SDK phrasings in rules -> the CLI's.
_PHRASES = [
    ("pass access_key= and secret_key= (or api_key=), or set", "set"),
    ("native audio (sound=True)", "native audio (--sound)"),
    ("voices (voices=...)", "voices (--voice)"),
    ("an end frame (image_tail)", "an end frame (--end-frame)"),
    ("multi-shot (multi_shot / multi_prompt)", "multi-shot (--multi-prompt)"),
    ("elements (element_list)", "elements (--element)"),
    ("need sound=True", "need --sound"),
    ("leave sound unset", "leave out --no-sound"),
    ("pass allow_unknown_models=True", "add --allow-unknown-models"),
    ("pass api_key= or set KLING_API_KEY", "set KLING_API_KEY (or api_key in the config file)"),
    ("api='legacy'", "--api legacy"),
    ("or pass allow_http=True if you really mean it", "plain http goes only to this machine"),
]
_FIELD = re.compile(r"^([a-z_]+)(\[\d+\])?(\..*)?$")


def cli_words(text: str) -> str:
    for sdk, cli in _PHRASES:
        text = text.replace(sdk, cli)
    return text


def message_for(exc: BaseException) -> str:
    """The error's message, with the SDK's field names and phrasings in the CLI's words."""
    if isinstance(exc, ValidationError):
        match = _FIELD.match(exc.field)
        option = OPTION_FOR.get(match.group(1)) if match else None
        rule = cli_words(exc.rule)
        if option is None:
            return cli_words(str(exc))
        if isinstance(exc.value, bool) and option in ("--sound", "--watermark"):
            option = option if exc.value else option.replace("--", "--no-")
            return f"{option}: {rule}"
        shown = repr(exc.value)
        shown = shown if len(shown) <= 60 else shown[:57] + "..."
        return f"{option}: {rule}" if exc.value is None else f"{option}: {shown} — {rule}"
    text = str(exc)
    if isinstance(exc, ConfigurationError) and text.startswith("base_url: "):
        text = "--base-url: " + text.removeprefix("base_url: ")
    return cli_words(text)


def hint_for(exc: BaseException) -> str | None:
    ctx = click.get_current_context(silent=True)
    where = ctx.meta.get(_CREDENTIALS_FROM, "the environment") if ctx is not None else ""
    path, _ = config_path()
    if isinstance(exc, ConfigurationError):
        return (
            "set KLING_ACCESS_KEY and KLING_SECRET_KEY (or KLING_API_KEY), or put access_key "
            f"and secret_key (or api_key) in {path}; --base-url or KLING_BASE_URL for "
            "another host"
        )
    if isinstance(exc, AuthenticationError):
        return (
            f"Kling refused the credentials from {where}: check the access key and secret "
            "key (or the API key) there; no task was created"
        )
    if isinstance(exc, BalanceExhaustedError):
        return "the resource pack is used up: top it up, then run the same command again"
    if isinstance(exc, AccountError):
        return "the account cannot be used right now (Kling says why above); check it on klingai"
    if isinstance(exc, RateLimitError):
        return "the account is rate limited; try again in a moment"
    if isinstance(exc, NotFoundError):
        return "check the task id (a task_id or your external id)"
    if isinstance(exc, APIConnectionError):
        return "check the network and --base-url"
    if isinstance(exc, ValidationError):
        return "fix the input named above; nothing was sent"
    if isinstance(exc, CreateUnconfirmedError):
        return (
            f"`kling-async status {exc.external_task_id}` tells whether it was created; "
            "submit again only if that says it is not found"
        )
    if isinstance(exc, DownloadError):
        return "run the same command again: a broken download resumes where it stopped"
    return None


def fail(message: str, hint: str | None, code: int) -> NoReturn:
    """Say what went wrong (one line, and a hint) and exit with ``code``."""
    click.echo(f"error: {message}", err=True)
    if hint:
        click.echo(f"hint: {hint}", err=True)
    sys.exit(code)


def run(coro_fn: Callable[[], Coroutine[Any, Any, T]], verbose: bool) -> T:
    """Run a command's coroutine: expected errors become one message and an exit code."""
    logging.basicConfig(
        level=logging.INFO if verbose else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    try:
        return run_on_loop(coro_fn())
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
        if isinstance(exc, TaskTimeoutError):
            code = EXIT_TIMEOUT
        elif isinstance(exc, _WHOLE_RUN):
            code = EXIT_USAGE
        else:
            code = EXIT_FAILED
        fail(message_for(exc), hint_for(exc), code)


def command_runner(fn: Callable[..., Coroutine[Any, Any, T]]) -> Callable[..., T]:
    """Wrap an async command body so click can call it."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> T:
        verbose = bool(kwargs.get("verbose"))
        return run(lambda: fn(*args, **kwargs), verbose)

    return wrapper
