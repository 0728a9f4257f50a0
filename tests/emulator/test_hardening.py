"""Hostile bodies: JSON nested 100,000 deep is code 1200 (never a 500); bodies over the cap are
refused before they are read (Content-Length) or as soon as they pass it (chunked); many huge
uploads at once are held within the body budget, so the process stays far from 1.5 GB."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import aiohttp
import pytest

from .._helpers import Api, StartEmulator
from ._client import KEY
from ._process import emulator_process
from ._vendor import vendor_error_table

DEEP = b'{"a":' * 100_000 + b"1" + b"}" * 100_000
DEEP_LIST = b"[" * 100_000 + b"]" * 100_000

ROUTES = [
    ("POST", "/image-to-video/kling-3.0"),
    ("POST", "/omni-video/kling-3.0-omni"),
    ("POST", "/tasks"),
    ("POST", "/v1/videos/image2video"),
    ("POST", "/v1/images/generations"),
]


async def test_deeply_nested_json_is_1200(emu_api: tuple[object, Api]) -> None:
    _, api = emu_api
    for method, path in ROUTES:
        for raw in (DEEP, DEEP_LIST, b'{"contents": ' + b"[" * 40 + b"]" * 40 + b"}"):
            status, answer, _ = await api.call(method, path, data=raw, auth=KEY)
            assert (status, answer["code"]) == (400, 1200), (path, answer)
            assert (status, answer["code"]) in vendor_error_table()
            if path == "/tasks" and len(raw) > 64 * 1024:  # a query's cap: refused unread
                assert "exceeds the limit of 65536 bytes" in answer["message"]
            else:
                assert "nested too deeply" in answer["message"], answer


async def _raw(base: str, head: str, body: bytes = b"") -> bytes:
    host, port = base.removeprefix("http://").split(":")
    reader, writer = await asyncio.open_connection(host, int(port))
    try:
        writer.write(head.encode() + body)
        await writer.drain()
        async with asyncio.timeout(5):
            return await reader.readuntil(b"\r\n\r\n") + await reader.read(2000)
    finally:
        writer.close()


async def test_a_declared_huge_body_is_refused_before_it_is_sent(
    start_emulator: StartEmulator,
) -> None:
    emu, _ = await start_emulator()
    size = 3 * 1024**3  # 3 GB announced; only the headers are ever sent
    head = (
        "POST /image-to-video/kling-3.0 HTTP/1.1\r\nHost: x\r\n"
        f"Authorization: {KEY}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {size}\r\n\r\n"
    )
    answer = await _raw(emu.url, head, b'{"contents": [')
    assert answer.startswith(b"HTTP/1.1 400"), answer[:100]
    assert b'"code": 1200' in answer
    assert f"{size} bytes exceeds the limit of {96 * 1024 * 1024}".encode() in answer
    assert emu.stats()["body_bytes_held"] == 0


async def test_a_chunked_body_is_cut_at_the_cap(start_emulator: StartEmulator) -> None:
    emu, api = await start_emulator(max_body_bytes=1 << 20)

    async def chunks() -> AsyncIterator[bytes]:
        yield b'{"prompt": "'
        for _ in range(64):  # 4 MB in all, never announced
            yield b"x" * 65536

    async with api.session.post(
        emu.url + "/text-to-video/kling-2.6", data=chunks(), headers={"Authorization": KEY}
    ) as r:
        answer = await r.json()
    assert (r.status, answer["code"]) == (400, 1200), answer
    assert f"limit of {1 << 20} bytes" in answer["message"]
    assert emu.stats()["creates"] == 0


@pytest.fixture
def separate_emulator() -> Iterator[str]:
    with emulator_process("--seed", "1") as url:
        yield url


def _peak_rss(pid: int) -> int:
    """The process's peak resident memory (VmHWM), bytes."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmHWM")


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="reads /proc")
async def test_eight_huge_bodies_at_once_stay_within_the_budget(separate_emulator: str) -> None:
    base = separate_emulator
    body = b'{"contents": "' + b"A" * (90 * 1024 * 1024) + b'"}'  # 90 MB, under the cap
    headers = {"Authorization": KEY, "Content-Type": "application/json"}
    timeout = aiohttp.ClientTimeout(total=100)  # 720 MB over loopback on a busy machine
    async with aiohttp.ClientSession(timeout=timeout) as session:
        async with session.get(f"{base}/__emulator__/stats") as r:
            pid = (await r.json())["pid"]
        before = _peak_rss(pid)

        async def send() -> tuple[int, int]:
            async with session.post(f"{base}/omni-video/kling-o1", data=body, headers=headers) as r:
                return r.status, (await r.json())["code"]

        answers = await asyncio.gather(*(send() for _ in range(8)))
        async with session.get(f"{base}/__emulator__/stats") as r:
            stats = await r.json()
    assert answers == [(400, 1201)] * 8  # read, parsed, refused: contents is not a list
    peak = _peak_rss(pid)
    print(f"\npeak RSS {before / 2**20:.0f} MB before, {peak / 2**20:.0f} MB after 8 x 90 MB")
    assert peak < 1.0 * 1024**3  # without the budget: ~2 GB (8 x body, its copy, its text)
    assert stats["body_bytes_held"] == 0
