"""The ``kling-async`` command line (also ``python -m kling_async``)."""

from __future__ import annotations

from typing import Any

import click

from ._config import ENV_CONFIG, ENV_PROFILE
from ._emulator_cmd import demo_command, emulator_command
from ._exits import EXIT_CODES_HELP
from ._report import report_command
from ._runner import startup_signals
from ._settings import remember_group_profile
from ._worker_cmd import worker_command
from .commands import (
    account_command,
    animate_command,
    download_command,
    elements_group,
    generate_command,
    list_command,
    status_command,
    submit_command,
    voices_group,
    wait_command,
)

EPILOG = f"""\b
{EXIT_CODES_HELP}

\b
Config file (optional): ~/.config/kling-async/config.toml ($XDG_CONFIG_HOME is respected;
{ENV_CONFIG} points elsewhere), chmod 600 when it holds keys:
  [default]
  base_url = "https://api-singapore.klingai.com"
  model = "kling-v3"
  [profiles.work]
  api_key = "..."
  mode = "pro"
  max_in_flight = 4
Pick a profile with --profile NAME (before or after the command) or {ENV_PROFILE}.
Flags win over environment variables, which win over the profile, then [default].

\b
Shell completion (bash; zsh_source and fish_source for the others):
  eval "$(_KLING_ASYNC_COMPLETE=bash_source kling-async)"    # in ~/.bashrc
"""


class _Main(click.Group):
    """The ``kling-async`` group: Ctrl-C or SIGTERM while a command starts is one line (see
    ``startup_signals``)."""

    def main(self, *args: Any, **kwargs: Any) -> Any:
        with startup_signals():
            return super().main(*args, **kwargs)


@click.group(
    cls=_Main,
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
    epilog=EPILOG,
)
@click.option(
    "--profile",
    metavar="NAME",
    default=None,
    expose_value=False,
    callback=remember_group_profile,
    help=f"Config profile for every command (env {ENV_PROFILE}).",
)
@click.version_option(package_name="kling-async")
def main() -> None:
    """kling-async: animate images with Kling AI from the command line.

    Credentials come from KLING_ACCESS_KEY and KLING_SECRET_KEY (or KLING_API_KEY), else from
    the config file's profile; the host from --base-url, KLING_BASE_URL or the profile. Try
    `kling-async demo` for a tour on the built-in emulator.
    """


for command in (
    animate_command,
    generate_command,
    submit_command,
    status_command,
    wait_command,
    download_command,
    list_command,
    account_command,
    elements_group,
    voices_group,
    report_command,
    emulator_command,
    demo_command,
    worker_command,
):
    main.add_command(command)

__all__ = ["emulator_command", "main"]
