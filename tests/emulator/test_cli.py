"""The shell contract: `kling-async emulator ...` in its own process, driven over HTTP."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from collections.abc import Iterator

import aiohttp
import pytest

from .._helpers import CLI

EXE = CLI


@pytest.fixture
def emulator_process() -> Iterator[tuple[subprocess.Popen[str], dict[str, str]]]:
    args = [
        *EXE,
        "emulator",
        "--port",
        "0",
        "--access-key",
        "ak-cli",
        "--secret-key",
        "sk-cli-0123456789abcdef0123456789abcdef",
        "--api-key",
        "cli-key",
        "--concurrency-limit",
        "1",
        "--rate-limit",
        "100",
        "--duration",
        # long enough that the first task is still running when the second create
        # arrives on a loaded machine (0.05-0.1 s was not: CI saw code 0, not 1303)
        "1.5:2",
        "--failure-rate",
        "0",
        "--fault",
        "5000=0",
        "--no-render",
        "--video-bytes",
        "1000",
        "--seed",
        "3",
    ]
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    env: dict[str, str] = {}
    try:
        assert proc.stdout is not None
        for _ in range(4):
            line = proc.stdout.readline().strip()
            name, _, value = line.partition("=")
            env[name] = value
        yield proc, env
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(10)


async def test_emulator_process_follows_the_shell_contract(
    emulator_process: tuple[subprocess.Popen[str], dict[str, str]],
) -> None:
    proc, env = emulator_process
    assert list(env) == ["KLING_BASE_URL", "KLING_ACCESS_KEY", "KLING_SECRET_KEY", "KLING_API_KEY"]
    assert env["KLING_BASE_URL"].startswith("http://127.0.0.1:")
    assert env["KLING_ACCESS_KEY"] == "ak-cli"
    base, auth = env["KLING_BASE_URL"], {"Authorization": "Bearer cli-key"}
    async with aiohttp.ClientSession() as s:
        body = {"model_name": "kling-v2-6", "image": "https://x.test/a.png"}
        async with s.post(f"{base}/v1/videos/image2video", json=body, headers=auth) as r:
            assert (await r.json())["code"] == 0
        async with s.post(f"{base}/v1/videos/image2video", json=body, headers=auth) as r:
            assert (await r.json())["code"] == 1303  # --concurrency-limit 1
        async with s.get(f"{base}/__emulator__/stats") as r:
            stats = await r.json()
        assert (stats["creates"], stats["duplicate_creates"], stats["errors_by_code"]) == (
            1,
            0,
            {"1303": 1},
        )
        async with s.post(f"{base}/__emulator__/reset") as r:
            assert r.status == 200
        async with s.get(f"{base}/__emulator__/stats") as r:
            assert (await r.json())["creates"] == 0
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 20
        while True:  # bounded: 20 s, polls every 0.2 s
            async with s.get(f"{base}/v1/videos/image2video", headers=auth) as r:
                task = (await r.json())["data"][0]
            if task["task_status"] == "succeed" or loop.time() > deadline:
                break
            await asyncio.sleep(0.2)
        assert task["task_status"] == "succeed"
        async with s.get(task["task_result"]["videos"][0]["url"]) as r:
            assert len(await r.read()) == 1000  # --video-bytes
    proc.send_signal(signal.SIGINT)
    assert proc.wait(10) == 0


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["--fault", "explode=0.1"], "explode=0.1"),
        (["--fault", "drop=2"], "0..1"),
        (["--duration", "5:1"], "MIN <= MAX"),
        (["--tls-cert", __file__], "--tls-key"),
    ],
)
def test_bad_arguments_exit_2_with_a_clear_message(args: list[str], words: str) -> None:
    done = subprocess.run([*EXE, "emulator", *args], capture_output=True, text=True, timeout=30)
    assert done.returncode == 2
    assert words in done.stderr
    assert "Traceback" not in done.stderr


def test_module_entry_point_and_help() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "kling_async.emulator", "--help"],
        capture_output=True,
        text=True,
        timeout=30,
        env={**os.environ, "COLUMNS": "200"},
    )
    assert done.returncode == 0
    for option in (
        "--concurrency-limit",
        "--rate-limit",
        "--fault",
        "--render / --no-render",
        "--video-bytes",
        "--tls-cert",
        "--webhook-secret",
    ):
        assert option in done.stdout
