"""Secrets never show: not in reprs, exception texts, log lines or printed output."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

import kling_async as kling

from .._helpers import CLI, SECRET_KEY, StartEmulator, fast_client, png

API_KEY = "test-api-key-abcdef"


async def test_secrets_stay_out_of_reprs_errors_and_logs(
    start_emulator: StartEmulator,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
) -> None:
    caplog.set_level(logging.DEBUG)
    emu, _ = await start_emulator()
    seen: list[str] = []
    tokens: set[str] = set()
    async with fast_client(emu) as client:
        seen += [repr(client), str(client), repr(client.credentials), repr(client.tokens)]
        tokens.add((await client.tokens.header()).removeprefix("Bearer "))
        task = await client.image_to_video.create(image=png(), prompt="p")
        done = await client.image_to_video.wait(task)
        seen += [repr(task), repr(done)]
        await client.download(done, tmp_path / "v.mp4")
        emu.inject("5000", count=2, route="query")  # retries write log lines
        await client.image_to_video.get(task.task_id)
        for bad in (
            lambda: client.image_to_video.get("missing"),
            lambda: client.image_to_video.create(image="nope.png"),
            lambda: client.download("ftp://x/y", tmp_path / "x"),
        ):
            try:
                await bad()
            except kling.KlingError as exc:
                seen += [str(exc), repr(exc), "\n".join(getattr(exc, "__notes__", []))]
    async with fast_client(emu, secret_key="wrong-" + SECRET_KEY) as wrong:
        try:
            await wrong.account.costs()
        except kling.AuthenticationError as exc:
            seen += [str(exc), repr(exc), repr(exc.body)]
    async with fast_client(emu, access_key=None, secret_key=None, api_key=API_KEY) as keyed:
        seen += [repr(keyed), repr(keyed.credentials)]
        await keyed.account.costs()
    out = capsys.readouterr()
    seen += [out.out, out.err, caplog.text]
    assert any("retrying" in r.getMessage() for r in caplog.records), "the retries were logged"
    haystack = "\n".join(seen)
    for secret in (SECRET_KEY, API_KEY, "wrong-" + SECRET_KEY, *tokens):
        assert secret not in haystack
    assert "<redacted>" in repr(client.credentials)


def test_secrets_stay_out_of_cli_output_and_the_journal(tmp_path: Path) -> None:
    import os
    import subprocess

    from kling_async.emulator import EmulatorConfig, EmulatorThread

    from .._helpers import ACCESS_KEY, test_account

    shots = tmp_path / "shots"
    shots.mkdir()
    for i in range(3):
        (shots / f"s{i}.png").write_bytes(png(480, 320, (i * 50, 10, 10)))
    (shots / "tiny.png").write_bytes(png(50, 50))
    config = EmulatorConfig(accounts=[test_account()], duration=(0.1, 0.2), video_bytes=100)
    env = {k: v for k, v in os.environ.items() if not k.startswith("KLING_")}
    outputs = []
    with EmulatorThread(config) as emu:
        env |= {
            "KLING_BASE_URL": emu.url,
            "KLING_ACCESS_KEY": ACCESS_KEY,
            "KLING_SECRET_KEY": SECRET_KEY,
        }
        for args in (
            ["animate", str(shots), "--out", str(tmp_path / "v"), "--verbose"],
            ["animate", str(shots), "--out", str(tmp_path / "v"), "--json"],
            ["status", "nope", "--verbose"],
            ["account", "--json"],
            ["list"],
        ):
            done = subprocess.run(
                [*CLI, *args],
                env=env,
                capture_output=True,
                text=True,
                timeout=120,
            )
            outputs += [done.stdout, done.stderr]
        wrong = env | {"KLING_SECRET_KEY": "wrong-" + SECRET_KEY}
        done = subprocess.run(
            [*CLI, "account"],
            env=wrong,
            capture_output=True,
            text=True,
            timeout=60,
        )
        outputs += [done.stdout, done.stderr]
    assert any("done" in o for o in outputs)  # the runs happened, errors included
    assert any("error:" in o for o in outputs)
    journal_bytes = b"".join(p.read_bytes() for p in (tmp_path / "v").glob(".kling-journal*"))
    assert journal_bytes  # the journal exists and was scanned
    for secret in (SECRET_KEY, "wrong-" + SECRET_KEY):
        assert all(secret not in o for o in outputs)
        assert secret.encode() not in journal_bytes


def test_unusable_start_up_values_are_named_by_the_cli_never_shown(tmp_path: Path) -> None:
    """A key with a line break in it, a base URL with a password: the CLI says which setting
    breaks which rule, and prints neither secret (before, both ended in aiohttp tracebacks)."""
    import os
    import subprocess

    piece = "SeKr1t"
    env = {k: v for k, v in os.environ.items() if not k.startswith("KLING_")}
    cases = [
        (
            {
                "KLING_API_KEY": f"{piece}-one\r\n{piece}-two",
                "KLING_BASE_URL": "http://127.0.0.1:9",
            },
            "KLING_API_KEY: contains a carriage return",
        ),
        (
            {"KLING_API_KEY": "key", "KLING_BASE_URL": f"http://bob:{piece}@127.0.0.1:9"},
            "'http://bob:***@127.0.0.1:9' carries a user name or password",
        ),
    ]
    for settings, words in cases:
        done = subprocess.run(
            [*CLI, "account"], env=env | settings, capture_output=True, text=True, timeout=60
        )
        assert done.returncode != 0
        assert words in done.stderr
        assert "Traceback" not in done.stderr
        assert piece not in done.stdout + done.stderr
