"""What the benchmarks share: the emulator in its own process (the shell contract), and the
process's resident memory."""

from __future__ import annotations

import contextlib
import signal
import subprocess
import sys
from collections.abc import Iterator


@contextlib.contextmanager
def emulator_process(*args: str) -> Iterator[dict[str, str]]:
    """Yield the KLING_* environment the emulator printed; stop it with SIGINT afterwards."""
    cmd = [sys.executable, "-m", "kling_async", "emulator", "--port", "0", *args]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        env: dict[str, str] = {}
        while "KLING_API_KEY" not in env:
            line = proc.stdout.readline()
            if not line:
                raise RuntimeError(f"the emulator exited with {proc.wait()} before it was ready")
            name, _, value = line.strip().partition("=")
            env[name] = value
        yield env
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def rss_mb() -> float:
    """This process's resident set size in MB (Linux)."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0
