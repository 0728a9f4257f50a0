"""A real Redis server for tests: ``redis-server`` started from its binary, never a fake.

The server listens on a Unix socket inside the test's temporary folder only (``--port 0``
turns TCP off), so tests never bind a network address and xdist workers never collide.
``make test`` / ``.ci/run`` install the binary from the system packages when it is missing
(see the Makefile's ``redis-server`` target); a missing binary fails the test with that hint
rather than skipping it.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

STARTUP_TIMEOUT = 10.0


@dataclass(frozen=True)
class RedisServer:
    """One running redis-server: its socket, a URL for redis-py/arq/SAQ, and its process."""

    socket_path: Path
    process: subprocess.Popen[bytes]

    @property
    def url(self) -> str:
        return f"unix://{self.socket_path}"

    def ping(self) -> bool:
        """True when the server answers PING on its socket (plain RESP, no client library)."""
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.settimeout(1.0)
            try:
                sock.connect(str(self.socket_path))
                sock.sendall(b"*1\r\n$4\r\nPING\r\n")
                return sock.recv(16).startswith(b"+PONG")
            except OSError:
                return False


def redis_binary() -> str:
    found = shutil.which("redis-server") or (
        "/usr/bin/redis-server" if os.access("/usr/bin/redis-server", os.X_OK) else None
    )
    if found is None:
        pytest.fail(
            "redis-server is not installed: run `make redis-server` (installs Debian's "
            "redis-server package) or install Redis >= 6 yourself",
            pytrace=False,
        )
    return found


def start_redis(folder: Path) -> RedisServer:
    """Start redis-server with no persistence, on a socket in ``folder``; wait until it answers."""
    folder.mkdir(parents=True, exist_ok=True)
    socket_path = folder / "redis.sock"
    process = subprocess.Popen(
        [
            redis_binary(),
            "--port", "0",
            "--unixsocket", str(socket_path),
            "--unixsocketperm", "700",
            "--save", "",
            "--appendonly", "no",
            "--dir", str(folder),
            "--loglevel", "warning",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )  # fmt: skip
    server = RedisServer(socket_path, process)
    deadline = time.monotonic() + STARTUP_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            err = process.stderr.read().decode(errors="replace") if process.stderr else ""
            pytest.fail(f"redis-server exited at start ({process.returncode}): {err}")
        if socket_path.exists() and server.ping():
            return server
        time.sleep(0.02)
    stop_redis(server)
    pytest.fail(f"redis-server did not answer on {socket_path} within {STARTUP_TIMEOUT} s")


def stop_redis(server: RedisServer) -> None:
    server.process.terminate()
    try:
        server.process.wait(timeout=5)
    except subprocess.TimeoutExpired:
        server.process.kill()
        server.process.wait(timeout=5)
    if server.process.stderr is not None:
        server.process.stderr.close()


def restart_redis(server: RedisServer, *, keep_data: bool, down: float = 0.0) -> RedisServer:
    """Shut ``server`` down, leave it down ``down`` seconds, and start it again on the same
    socket: an outage of Redis. ``keep_data``: it saves its data first and loads it again (a
    restart with persistence, expired keys gone); else it comes back empty (a restart
    without persistence). Blocking: call it in a thread."""
    folder = server.socket_path.parent
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(5.0)
        sock.connect(str(server.socket_path))
        how = b"SAVE" if keep_data else b"NOSAVE"
        sock.sendall(b"*2\r\n$8\r\nSHUTDOWN\r\n$%d\r\n%s\r\n" % (len(how), how))
        with contextlib.suppress(OSError):
            sock.recv(64)  # the server closes the connection as it exits
    server.process.wait(timeout=10)
    if server.process.stderr is not None:
        server.process.stderr.close()
    if not keep_data:
        (folder / "dump.rdb").unlink(missing_ok=True)
    time.sleep(down)
    return start_redis(folder)


@pytest.fixture
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    """A fresh, empty Redis server for one test (stopped afterwards)."""
    # A short path: Unix socket paths are limited to ~107 bytes.
    server = start_redis(tmp_path_factory.mktemp("redis"))
    try:
        yield server
    finally:
        stop_redis(server)
