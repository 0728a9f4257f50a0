"""The shell blocks of the docs: every ``kling-async`` command line shown names a command and
options that exist (checked on the click commands themselves, which ``--help`` prints), every
``make`` target and ``pip`` extra exists; and a few cheap blocks really run against an
emulator, as a user would type them."""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import tomllib
from collections.abc import Iterator
from pathlib import Path

import click
import pytest

from kling_async.cli import main as kling_async
from kling_async.emulator import EmulatorConfig, EmulatorThread

from .._helpers import API_KEY, CLI, sample_paths, test_account
from ._blocks import ROOT, Block, blocks

SHELL = [b for b in blocks(("sh", "console", "text", "")) if "kling-async" in b.body]
FLAG = re.compile(r"(?<![\w-])(--?[A-Za-z][\w-]*)")


def _lines(block: Block) -> Iterator[tuple[str, str]]:
    """(command, rest of the line) for each ``kling-async`` line of a block, comments and pipes
    cut; an indented line after one continues it (the emulator's synopsis)."""
    current = None
    for raw in block.body.splitlines():
        line = raw.split("  #", 1)[0].split(" | ", 1)[0]
        if current is not None and raw.startswith((" ", "\t")) and "kling-async" not in raw:
            yield current, line
            continue
        current = None
        m = re.match(r"^(?:\$ )?kling-async((?: --profile \S+)?) ([a-z]+)(.*)$", line.strip())
        if m:
            current = m[2]
            yield current, m[1] + m[3]
        elif line.startswith("python -m kling_async.emulator"):
            current = "emulator"
            yield current, line.removeprefix("python -m kling_async.emulator")


def _options(command: click.Command) -> set[str]:
    return {opt for p in command.params for opt in (*p.opts, *p.secondary_opts)}


def _every_option(command: click.Command) -> set[str]:
    """A command's options, and a group's (``elements``, ``voices``) its subcommands' too."""
    found = _options(command)
    if isinstance(command, click.Group):
        found = found.union(*(_every_option(sub) for sub in command.commands.values()))
    return found


def _resolved(command: str, rest: str) -> tuple[click.Command, str]:
    """The command a line runs: a group's subcommand (its first word) when it has one."""
    found = kling_async.commands[command]
    if isinstance(found, click.Group):
        sub, _, rest = rest.strip().partition(" ")
        assert sub in found.commands, f"kling-async {command} has no subcommand {sub!r}"
        found = found.commands[sub]
    return found, rest


GROUP = _options(kling_async) | {"--help", "-h"}


def test_the_command_lines_are_found() -> None:
    commands = {cmd for b in SHELL for cmd, _ in _lines(b)}
    assert commands >= {"animate", "submit", "wait", "status", "download", "list", "account"}
    assert commands >= {"report", "emulator", "worker"}


@pytest.mark.parametrize("block", SHELL, ids=lambda b: b.id)
def test_commands_and_options_exist(block: Block) -> None:
    for command, rest in _lines(block):
        assert command in kling_async.commands, f"{block.id}: no command {command!r}"
        runs, rest = _resolved(command, rest)
        known = _options(runs) | GROUP
        for flag in FLAG.findall(rest):
            assert flag in known, f"{block.id}: kling-async {command} has no {flag}"


def test_make_targets_and_pip_extras_exist() -> None:
    makefile = (ROOT / "Makefile").read_text()
    extras = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"][
        "optional-dependencies"
    ]
    readme = (ROOT / "README.md").read_text()
    assert "make demo" in readme
    assert "make test" in readme
    for block in blocks(("sh", "")):
        for target in re.findall(r"^make (\w+)", block.body, re.M):
            assert re.search(rf"^{target}:", makefile, re.M), f"{block.id}: make {target}"
        for extra in re.findall(r"kling-async\[(\w+)\]|'\.\[(\w+)\]'", block.body):
            name = extra[0] or extra[1]
            assert name in extras, f"{block.id}: no extra [{name}]"


# -- a few blocks, run --------------------------------------------------------------------


@pytest.fixture(scope="module")
def emu() -> Iterator[EmulatorThread]:
    config = EmulatorConfig(accounts=[test_account()], duration=(0.02, 0.05), video_bytes=1000)
    with EmulatorThread(config) as running:
        yield running


def _run(line: str, cwd: Path, url: str, **env: str) -> subprocess.CompletedProcess[str]:
    environ = {k: v for k, v in os.environ.items() if not k.startswith("KLING_")}
    environ |= {"KLING_BASE_URL": url, "KLING_API_KEY": API_KEY}
    environ |= {"XDG_CONFIG_HOME": str(cwd / "xdg"), **env}  # never the user's config file
    args = shlex.split(line.split("  #", 1)[0].split(" | ", 1)[0])
    assert args[0] == "kling-async", line
    done = subprocess.run(
        [*CLI, *args[1:]], capture_output=True, text=True, timeout=60, cwd=cwd, env=environ
    )
    assert done.returncode == 0, f"{line}\n{done.stdout}\n{done.stderr}"
    return done


def _block(page: str, containing: str) -> Block:
    (found,) = [b for b in SHELL if b.page == page and containing in b.body]
    return found


def test_one_task_at_a_time(emu: EmulatorThread, tmp_path: Path) -> None:
    (tmp_path / "cat.png").write_bytes(sample_paths()[0].read_bytes())
    block = _block("docs/cli.md", "kling-async submit cat.png")
    lines = [line for line in block.body.splitlines() if line.startswith("kling-async")]
    assert len(lines) == 7
    outputs = [_run(line, tmp_path, emu.url).stdout for line in lines]
    status = json.loads(outputs[3])
    assert status["external_task_id"] == "cat-1"
    assert (tmp_path / "videos" / f"{status['task_id']}.mp4").stat().st_size == 1000


def test_animate_dry_run_then_a_run_and_its_report(emu: EmulatorThread, tmp_path: Path) -> None:
    (tmp_path / "photos").mkdir()
    for sample in sample_paths():
        (tmp_path / "photos" / sample.name).write_bytes(sample.read_bytes())
    animate = _block("docs/cli.md", "--dry-run").body.splitlines()
    (dry,) = [line for line in animate if "--dry-run" in line]
    _run(dry, tmp_path, emu.url)
    assert not (tmp_path / "videos").exists() or not list((tmp_path / "videos").glob("*.mp4"))
    _run(animate[1], tmp_path, emu.url)  # kling-async animate photos/ --out videos --prompt ...
    assert len(list((tmp_path / "videos").glob("*.mp4"))) == 3
    report = _block("docs/cli.md", "kling-async report videos --json").body.splitlines()
    assert "jobs: 3" in _run(report[0], tmp_path, emu.url).stdout
    jobs = json.loads(_run(report[1], tmp_path, emu.url).stdout)["jobs"]
    assert [job for job in jobs if job["state"] == "failed"] == []  # the jq filter's answer


def test_shell_completion(emu: EmulatorThread, tmp_path: Path) -> None:
    block = _block("docs/cli.md", "_KLING_ASYNC_COMPLETE=bash_source")
    (variable,) = re.findall(r"_KLING_ASYNC_COMPLETE=(bash_source)", block.body)
    done = _run("kling-async", tmp_path, emu.url, _KLING_ASYNC_COMPLETE=variable)
    assert "complete" in done.stdout


PROSE_PAGES = ["cli", "emulator", "scaling", "quickstart", "batches", "client", "webhooks"]


@pytest.mark.parametrize("page", PROSE_PAGES)
def test_options_named_in_the_prose_exist(page: str) -> None:
    """`--flag` in the text of the pages about the commands: an option of some command."""
    text = re.sub(r"```.*?```", "", (ROOT / "docs" / f"{page}.md").read_text(), flags=re.S)
    flags = {f for span in re.findall(r"`([^`]+)`", text) for f in FLAG.findall(span)}
    known = GROUP.union(*(_every_option(c) for c in kling_async.commands.values()))
    assert {f for f in flags if f.startswith("--")} - known == set()


def test_benchmark_options_exist() -> None:
    """The benchmarks' flags that the performance page names are the scripts' own."""
    text = (ROOT / "docs" / "performance.md").read_text()
    scripts = "".join(p.read_text() for p in (ROOT / "benchmarks").glob("*.py"))
    flags = set(re.findall(r"(?<![\w-])(--[a-z][\w-]*)", text))
    cli = GROUP.union(*(_options(c) for c in kling_async.commands.values()))
    assert {f for f in flags - cli if f"'{f}'" not in scripts and f'"{f}"' not in scripts} == set()
