"""The ``kling-async`` command line (also ``python -m kling_async``)."""

from __future__ import annotations

import click

from ._animate import animate_command
from ._emulator_cmd import demo_command, emulator_command
from ._tasks_cmd import (
    account_command,
    download_command,
    list_command,
    status_command,
    submit_command,
    wait_command,
)
from ._worker_cmd import worker_command


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(package_name="kling-async")
def main() -> None:
    """kling-async: animate images with Kling AI from the command line.

    Credentials come from KLING_ACCESS_KEY and KLING_SECRET_KEY (or KLING_API_KEY); the host
    from --base-url or KLING_BASE_URL. Try `kling-async demo` for a tour on the built-in
    emulator.
    """


for command in (
    animate_command,
    submit_command,
    status_command,
    wait_command,
    download_command,
    list_command,
    account_command,
    emulator_command,
    demo_command,
    worker_command,
):
    main.add_command(command)

__all__ = ["emulator_command", "main"]
