"""The shared option helpers (``kling_async.cli._options``): a number option shows its
default in ``--help`` only when it has one, keeps its range, and ``options`` keeps order."""

from __future__ import annotations

import click
from click.testing import CliRunner

from kling_async.cli._options import downloads_option, number_option, options


@click.command()
@options(
    number_option("--speed", click.FloatRange(min=1), "How fast.", default=2.5),
    number_option("--cap", click.IntRange(min=1), "An upper bound."),
    downloads_option,
)
def _command(speed: float, cap: int | None, downloads: int) -> None:
    click.echo(f"{speed} {cap} {downloads}")


def test_defaults_are_shown_only_when_there_is_one() -> None:
    out = CliRunner().invoke(_command, ["--help"]).output
    assert "How fast.  [default: 2.5; x>=1]" in out
    assert "An upper bound.  [x>=1]" in out
    assert "[default: 4; x>=1]" in out
    assert out.index("--speed") < out.index("--cap") < out.index("--downloads")


def test_values_and_ranges() -> None:
    runner = CliRunner()
    assert runner.invoke(_command, []).output == "2.5 None 4\n"
    assert runner.invoke(_command, ["--cap", "3", "--downloads", "2"]).output == "2.5 3 2\n"
    refused = runner.invoke(_command, ["--cap", "0"])
    assert refused.exit_code == 2
    assert "--cap" in refused.output
