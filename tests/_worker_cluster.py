"""Worker processes for the tests and the benchmark: real ``kling-async worker`` subprocesses
on a real Redis and an emulator, and what they did (the emulator's own record of creates)."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

from PIL import Image

from kling_async.emulator import EmulatorThread
from kling_async.store import RedisJobStore

from ._helpers import ACCESS_KEY, API_KEY, SECRET_KEY

#: Seconds a worker may take to start (imports on a loaded 2-core machine).
START_TIMEOUT = 30.0


def make_images(folder: Path, count: int) -> list[Path]:
    """``count`` small PNGs, each of other content (so each is its own job)."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i in range(count):
        path = folder / f"img-{i:04d}.png"
        color = (i % 256, (i // 256) % 256, 99)
        Image.new("RGB", (320, 320), color).save(path)
        paths.append(path)
    return paths


class Cluster:
    """``count`` worker processes; stopped (SIGTERM, then SIGKILL) by ``stop``."""

    def __init__(
        self,
        redis_url: str,
        out: Path,
        base_url: str,
        logs: Path,
        *,
        count: int = 4,
        concurrency: int = 5,
        lease: float = 2.0,
        sweep: int = 1,
        namespace: str = "default",
        credentials: dict[str, str] | None = None,
        extra: tuple[str, ...] = (),
    ) -> None:
        self.redis_url = redis_url
        self.out = out
        self.base_url = base_url
        self.logs = logs
        self.count = count
        self.concurrency = concurrency
        self.lease = lease
        self.sweep = sweep
        self.namespace = namespace
        self.processes: list[subprocess.Popen[bytes]] = []
        #: More ``kling-async worker`` options (e.g. ``("--prefetch", "1")``).
        self.extra = extra
        self.credentials = credentials or {
            "KLING_ACCESS_KEY": ACCESS_KEY,
            "KLING_SECRET_KEY": SECRET_KEY,
            "KLING_API_KEY": API_KEY,
        }

    def start(self) -> None:
        self.logs.mkdir(parents=True, exist_ok=True)
        for i in range(self.count):
            self.processes.append(self._spawn(i))

    def restart(self, index: int) -> None:
        """Start worker ``index`` again (after ``kill``); its log goes on in the same file."""
        self.processes[index] = self._spawn(index)

    def _spawn(self, index: int) -> subprocess.Popen[bytes]:
        root = str(Path(__file__).resolve().parent.parent)  # the tests package, for hooks
        path = os.pathsep.join(p for p in (root, os.environ.get("PYTHONPATH")) if p)
        env = {**os.environ, **self.credentials, "PYTHONPATH": path}
        env.pop("KLING_REDIS_URL", None)
        log = (self.logs / f"worker-{index}.log").open("ab")
        command = [
            sys.executable,
            "-m",
            "kling_async",
            "worker",
            "--redis",
            self.redis_url,
            "--out",
            str(self.out),
            "--concurrency",
            str(self.concurrency),
            "--lease",
            str(self.lease),
            "--sweep",
            str(self.sweep),
            "--namespace",
            self.namespace,
            "--base-url",
            self.base_url,
            *self.extra,
        ]
        try:
            return subprocess.Popen(
                command, env=env, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL
            )
        finally:
            log.close()

    async def wait_ready(self, timeout: float = START_TIMEOUT) -> None:
        """Until every worker announced itself in Redis."""
        store = RedisJobStore(self.redis_url, self.out, namespace=self.namespace, owner="probe")
        await store.open()
        try:
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline:
                live = [w for w in await store.live_workers() if w != "probe"]
                if len(live) >= self.count:
                    return
                for i, p in enumerate(self.processes):
                    if p.poll() is not None:
                        raise AssertionError(f"worker {i} exited at start:\n{self.log(i)}")
                await asyncio.sleep(0.1)
            raise AssertionError(f"workers not ready in {timeout} s:\n{self.log(0)}")
        finally:
            await store.close()

    def kill(self, index: int) -> None:
        process = self.processes[index]
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=10)

    def stop(self) -> list[int | None]:
        """Stop every worker (SIGTERM, SIGKILL after 10 s); their exit codes."""
        for process in self.processes:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        codes = []
        for process in self.processes:
            try:
                codes.append(process.wait(timeout=10))
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=10)
                codes.append(None)
        return codes

    def log(self, index: int) -> str:
        path = self.logs / f"worker-{index}.log"
        return path.read_text(errors="replace")[-3000:] if path.exists() else ""


def created(emu: EmulatorThread) -> dict[str, Any]:
    """What the emulator saw: creates, external ids, in flight, 429s (read after the run)."""
    stats = emu.stats()
    tasks = [t for state in emu.emulator.state.store.accounts.values() for t in state.all_tasks]
    externals = Counter(t.spec.external_task_id for t in tasks)
    return {
        "creates": stats["creates"],
        "duplicate_creates": stats["duplicate_creates"],
        "external_ids": len(externals),
        "reused_external_ids": sum(n - 1 for n in externals.values() if n > 1),
        "max_in_flight": stats["max_in_flight"],
        "rate_limited_1302": stats["rate_limited_1302"],
        "concurrency_limited_1303": stats["concurrency_limited_1303"],
        "durations": stats["durations"],
    }
