"""How the commands declare their options, written once: a number option (its range, and
its default shown in ``--help``), an existing file, several options as one decorator, and
the options more than one command takes (``--downloads``), and an amount of money."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from .._cash import Money, as_budget
from ..errors import ValidationError

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


class MoneyType(click.ParamType):  # type: ignore[type-arg]
    """An amount of money a budget may spend: ``20USD``, ``20 USD``, ``$20`` (``as_budget``)."""

    name = "AMOUNT"

    def convert(
        self, value: Any, param: click.Parameter | None, ctx: click.Context | None
    ) -> Money:
        if isinstance(value, Money):
            return value
        try:
            return as_budget(str(value), field=param.opts[0] if param else "max_cost")
        except ValidationError as exc:
            self.fail(f"{value!r}: {exc.rule}", param, ctx)


max_cost_option = click.option(
    "--max-cost",
    type=MoneyType(),
    default=None,
    help="Stop creating once the estimated spend in money would pass this: 20USD, 20 USD or "
    "$20 (a unit counts at $0.14; a job billed in cash, what it was charged). Counts across "
    "runs of OUT; with --max-units both hold.",
)
