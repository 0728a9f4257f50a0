"""How a command ends: the exit codes (and their help text), the command line's own
exceptions (one line, a hint, an exit code), and ``fail``."""

from __future__ import annotations

import sys
from typing import IO, Any, NoReturn

import click

from ._config import config_path

#: Exit codes: 0 all done, 1 some jobs failed (or an API error), 2 usage, configuration or an
#: error that concerns the whole run (credentials, account, journal), 3 timed out (a task or a
#: wait did not end in time; nothing is lost, run again to go on), 4 (``animate``) nothing
#: left that can be done: every other input is done, the rest are invalid, 130 interrupted
#: (Ctrl-C), 143 terminated (SIGTERM).
EXIT_FAILED, EXIT_USAGE, EXIT_TIMEOUT = 1, 2, 3
EXIT_ONLY_INVALID, EXIT_INTERRUPTED, EXIT_TERMINATED = 4, 130, 143

#: The exit codes as the help tells them (one line each, for a ``\b`` paragraph).
EXIT_CODES_HELP = """Exit status:
  0    all done
  1    some task or job failed (or the API refused a request)
  2    usage, configuration, or a whole-run error (credentials, account used up, journal)
  3    timed out: the task keeps running; run the command again to go on
  4    animate: nothing left that can be done; only invalid inputs are left
  130  interrupted (Ctrl-C); run the same command again to resume (generate: it says
       how to fetch the video instead)
  143  terminated (SIGTERM; animate, generate), as Ctrl-C"""

#: ``animate``'s exit codes, for its help.
ANIMATE_EXIT_CODES_HELP = """Exit status:
  0    all done
  1    some job failed or was not sent, or an input is invalid: run again to go on
  2    usage or configuration error, or an error that stops the whole run (credentials
       refused, resource pack used up)
  3    some tasks timed out: run again later to pick them up
  4    nothing left that can be done: every other input is done, the rest are invalid
       (fix them, or leave them out; running again as it is changes nothing)
  130  interrupted (Ctrl-C); run the same command again to resume
  143  terminated (SIGTERM), as Ctrl-C; run the same command again to resume"""


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


def fail(message: str, hint: str | None, code: int) -> NoReturn:
    """Say what went wrong (one line, and a hint) and exit with ``code``."""
    click.echo(f"error: {message}", err=True)
    if hint:
        click.echo(f"hint: {hint}", err=True)
    sys.exit(code)
