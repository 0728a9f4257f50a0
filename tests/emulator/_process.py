"""``kling-async emulator`` in a process of its own (forked by the tests' fork server)."""

from __future__ import annotations

import contextlib
import signal
import subprocess
from collections.abc import Iterator

from .._helpers import API_KEY, CLI


@contextlib.contextmanager
def emulator_process(*args: str, api_key: str = API_KEY) -> Iterator[str]:
    """Run ``kling-async emulator --port 0 --api-key KEY ARGS...``; yield its base URL;
    stop it with Ctrl-C (killed if it does not end within 10 s)."""
    cmd = [*CLI, "emulator", "--port", "0", "--api-key", api_key, *args]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        yield proc.stdout.readline().strip().partition("=")[2]
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)
