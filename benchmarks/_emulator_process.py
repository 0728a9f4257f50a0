"""What the benchmarks share: the emulator in its own process (the shell contract), the CPU
time that process used, and a process's resident memory."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
from collections.abc import Iterator

import attrs


@attrs.define
class EmulatorProcess:
    """A running ``kling-async emulator``: the KLING_* environment it printed, and its pid."""

    env: dict[str, str]
    pid: int

    def cpu_seconds(self) -> float:
        """User + system CPU seconds the emulator process has used so far (Linux)."""
        return process_cpu_seconds(self.pid)


@contextlib.contextmanager
def emulator_server(*args: str) -> Iterator[EmulatorProcess]:
    """Start ``kling-async emulator --port 0 ARGS``; stop it with SIGINT afterwards."""
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
        yield EmulatorProcess(env, proc.pid)
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@contextlib.contextmanager
def emulator_process(*args: str) -> Iterator[dict[str, str]]:
    """Yield the KLING_* environment the emulator printed; stop it with SIGINT afterwards."""
    with emulator_server(*args) as emulator:
        yield emulator.env


def process_cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of process ``pid`` (Linux ``/proc/<pid>/stat``)."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rpartition(")")[2].split()
    # after "pid (comm)": state is field 3, utime 14 and stime 15 (1-based, man proc)
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def rss_mb() -> float:
    """This process's resident set size in MB (Linux)."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0
