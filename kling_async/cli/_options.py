"""How the commands declare their options, written once: a number option (its range, and
its default shown in ``--help``), an existing file, several options as one decorator, and
the options more than one command takes (``--downloads``)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

Decorator = Callable[[Callable[..., Any]], Callable[..., Any]]

#: An existing file (not a folder), handed to the command as a ``Path``.
EXISTING_FILE = click.Path(exists=True, dir_okay=False, path_type=Path)


def number_option(
    name: str,
    kind: click.IntRange | click.FloatRange,
    help: str | None = None,
    *,
    default: float | None = None,
) -> Decorator:
    """``name`` taking a number within ``kind``'s range; ``--help`` shows its default when
    it has one (none: the option is not given)."""
    if default is None:
        return click.option(name, type=kind, default=None, help=help)
    return click.option(name, type=kind, default=default, show_default=True, help=help)


def options(*decorators: Decorator) -> Decorator:
    """Several options as one decorator; ``--help`` lists them in the order given."""

    def apply(fn: Callable[..., Any]) -> Callable[..., Any]:
        for option in reversed(decorators):  # click lists them in the order they decorate
            fn = option(fn)
        return fn

    return apply


downloads_option = number_option("--downloads", click.IntRange(min=1), default=4)
