"""The loop the kling-async commands run on: uvloop where installed, asyncio's on request."""

from __future__ import annotations

import asyncio
import warnings
from typing import Any

import pytest

from kling_async._loop import LOOP_ENV, loop_choice, run
from kling_async.cli._runner import run as run_command  # private: how the commands run the loop
from kling_async.errors import ValidationError

from .._helpers import python_output


async def _loop_module() -> str:
    return type(asyncio.get_running_loop()).__module__.split(".")[0]


def test_commands_run_on_uvloop_when_it_is_installed(monkeypatch: pytest.MonkeyPatch) -> None:
    import uvloop  # noqa: F401  (a dependency wherever CPython runs on Linux or macOS)

    monkeypatch.delenv(LOOP_ENV, raising=False)
    assert loop_choice() == "uvloop"
    assert run_command(_loop_module, verbose=False) == "uvloop"


@pytest.mark.parametrize("value", ["asyncio", " AsyncIO "])
def test_the_environment_keeps_asyncios_loop(monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    monkeypatch.setenv(LOOP_ENV, value)
    assert loop_choice() == "asyncio"
    assert run(_loop_module()) == "asyncio"


def test_a_bad_choice_is_named_and_nothing_is_left_unawaited(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv(LOOP_ENV, "trio")
    coro = _loop_module()
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a "never awaited" warning would fail here
        with pytest.raises(ValidationError) as caught:
            run(coro)
    assert caught.value.field == LOOP_ENV
    assert caught.value.value == "trio"
    assert "auto, asyncio, uvloop" in caught.value.rule
    assert coro.cr_frame is None  # closed


def test_insisting_on_uvloop_without_it_says_how_to_get_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import sys

    monkeypatch.setenv(LOOP_ENV, "uvloop")
    monkeypatch.setitem(sys.modules, "uvloop", None)  # import fails as if not installed
    with pytest.raises(ValidationError, match="pip install uvloop"):
        loop_choice()
    monkeypatch.setenv(LOOP_ENV, "auto")
    assert loop_choice() == "asyncio"


@pytest.mark.parametrize("command", [["demo", "--out", "unused"], ["emulator", "--port", "0"]])
def test_the_emulator_commands_name_a_bad_choice_in_one_line(
    monkeypatch: pytest.MonkeyPatch, command: list[str], tmp_path: Any
) -> None:
    from click.testing import CliRunner

    from kling_async.cli import main as cli

    monkeypatch.setenv(LOOP_ENV, "trio")
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(cli, command)
    assert result.exit_code == 1, result.output
    assert "KLING_ASYNC_LOOP: 'trio'" in result.output
    assert "auto, asyncio, uvloop" in result.output
    assert "Traceback" not in result.output
    assert not (tmp_path / "unused").exists()  # nothing was started


def test_a_command_freezes_its_start_up_objects_once() -> None:
    """Before the loop starts, what the imports made goes to the collector's permanent
    generation (a C=1000 first wave of creates went out ~12% sooner without full scans
    walking it); a second run in the same process does not freeze the first one's garbage.
    In a child process: freezing is for the life of a process."""

    code = (
        "import gc\n"
        "from kling_async._loop import run\n"
        "async def frozen():\n"
        "    return gc.get_freeze_count()\n"
        "assert gc.get_freeze_count() == 0\n"
        "first = run(frozen())\n"
        "garbage = [[] for _ in range(5000)]\n"
        "print(first, run(frozen()))\n"
    )
    first, second = map(int, python_output(code).split())
    assert first > 10_000  # the SDK's imports and their dependencies
    # not frozen again: the 5,000 lists made between the runs would be in it (a few objects
    # frozen with the first run, its coroutine among them, come and go)
    assert abs(second - first) < 100
