"""Several replicas of an app on one Kling account: share its limits through Redis.

Each replica (here: three clients, as three processes of a web app would each hold one) makes
its client with ``governor=kling.RedisGovernor(REDIS_URL)`` — that one line is all it takes.
Then every ``generate()`` of every replica waits for a free slot of the *account*, instead of
each replica learning its own window and the account answering 1303 to the surplus.

    python examples/shared_account.py [REDIS_URL] [OUTPUT_DIR]

Without REDIS_URL (or ``KLING_REDIS_URL``) it starts a throwaway ``redis-server`` from PATH on
a Unix socket in a temporary folder (TCP off). Without KLING_* credentials it runs on a local
emulator whose account allows 3 parallel tasks, first with the shared governor, then without
it, and prints what the account saw each time.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

from _client import QUICK_WAIT, output_arg  # QUICK_WAIT: tasks of a second, looks every 0.25-1 s

import kling_async as kling
from kling_async._samples import SAMPLES_DIR
from kling_async.emulator import Account, Emulator, EmulatorConfig

REPLICAS, CALLS_EACH, LIMIT = 3, 4, 3


@contextlib.contextmanager
def throwaway_redis() -> Iterator[str]:
    """A redis-server of our own on a Unix socket in a temporary folder; its URL."""
    binary = shutil.which("redis-server")
    if binary is None:
        sys.exit("no REDIS_URL given and no redis-server on PATH (apt install redis-server)")
    with tempfile.TemporaryDirectory(prefix="kling-redis-") as folder:
        sock = Path(folder) / "redis.sock"
        args = [binary, "--port", "0", "--unixsocket", str(sock), "--save", "", "--dir", folder]
        server = subprocess.Popen(args, stdout=subprocess.DEVNULL)  # noqa: S603  (our own argv)
        try:
            deadline = time.monotonic() + 10
            while not sock.exists():
                if server.poll() is not None or time.monotonic() > deadline:
                    sys.exit("redis-server did not start")
                time.sleep(0.02)
            yield f"unix://{sock}"
        finally:
            server.terminate()
            server.wait(10)


async def replica(
    n: int, emu: Emulator, redis_url: str | None, out: Path, images: list[Path]
) -> None:
    """One app replica: its own client (its own process, in real life), several calls at once."""
    governor = kling.RedisGovernor(redis_url) if redis_url else None
    async with kling.KlingClient(
        api_key=emu.credentials["KLING_API_KEY"],
        base_url=emu.url,
        governor=governor,
        wait=QUICK_WAIT,
    ) as client:
        await asyncio.gather(
            *(
                client.image_to_video.generate(
                    image=images[i % len(images)],
                    prompt=f"replica {n}, call {i}",
                    output=out / f"r{n}-{i}.mp4",
                )
                for i in range(CALLS_EACH)
            )
        )


@contextlib.asynccontextmanager
async def emulator() -> AsyncIterator[Emulator]:
    account = Account(concurrency_limit=LIMIT)
    async with Emulator(EmulatorConfig(accounts=[account], duration=(0.5, 1.0))) as emu:
        yield emu


async def run(redis_url: str | None, out: Path) -> dict[str, int]:
    images = sorted(SAMPLES_DIR.glob("*.png"))
    async with emulator() as emu:
        await asyncio.gather(*(replica(n, emu, redis_url, out, images) for n in range(REPLICAS)))
        stats = emu.stats()
    return {
        "videos": stats["creates"],
        "max_in_flight": stats["max_in_flight"],
        "refused_1303": stats["concurrency_limited_1303"],
    }


async def main(redis_url: str, out: Path) -> None:
    if os.environ.get("KLING_API_KEY") or os.environ.get("KLING_ACCESS_KEY"):
        sys.exit("this example compares runs on the emulator; see the README for real use")
    await asyncio.to_thread(out.mkdir, parents=True, exist_ok=True)
    calls = REPLICAS * CALLS_EACH
    print(f"{REPLICAS} replicas x {CALLS_EACH} generate() calls, an account of {LIMIT} tasks")
    for label, url in (("shared (RedisGovernor)", redis_url), ("each on its own", None)):
        seen = await run(url, out / label.split()[0])
        print(
            f"{label:24s} {seen['videos']}/{calls} videos, the account saw at most "
            f"{seen['max_in_flight']} at once and refused {seen['refused_1303']} creates (1303)"
        )


if __name__ == "__main__":
    given = sys.argv[1] if len(sys.argv) > 1 else os.environ.get("KLING_REDIS_URL")
    out_dir = output_arg(2, "shared-account-videos")
    with contextlib.nullcontext(given) if given else throwaway_redis() as url:
        asyncio.run(main(url, out_dir))
