"""Settings for every command that talks to the API: flags win over the environment, which
wins over the config profile, then the built-in defaults; and the client they make."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from .._auth import ENV_ACCESS_KEY, ENV_API_KEY, ENV_SECRET_KEY
from ..client import KlingClient
from ..errors import ConfigurationError, KlingError
from ._config import ENV_PROFILE, Settings, load_settings
from ._exits import ConfigFileError

_SETTINGS = "kling_async.settings"
_GROUP_PROFILE = "kling_async.group_profile"
_CREDENTIALS_FROM = "kling_async.credentials_from"
_ENV_CREDENTIALS = (ENV_ACCESS_KEY, ENV_SECRET_KEY, ENV_API_KEY)


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
    except ConfigurationError as exc:
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


def out_option(help: str, **given: Any) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """``--out FOLDER`` (the ``out_dir`` parameter): where a command writes its videos;
    ``given`` adds ``required``, ``default``... to the option."""
    return click.option(
        "--out",
        "out_dir",
        type=click.Path(file_okay=False, path_type=Path),
        help=help,
        **given,
    )


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
    try:
        return KlingClient(base_url=base_url, **options)
    except ValueError as exc:
        if isinstance(exc, KlingError) or base_url is None:
            raise
        # a URL urllib cannot split ('http://[::1'): the SDK's check lets its ValueError out
        raise ConfigurationError(f"base_url: {base_url!r} is not a URL ({exc})") from None


def credentials_from() -> str:
    """Where the running command's client took its credentials from, for messages."""
    ctx = click.get_current_context(silent=True)
    return str(ctx.meta.get(_CREDENTIALS_FROM, "the environment")) if ctx is not None else ""
