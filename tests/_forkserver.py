"""A fork server for the CLI tests: ``kling-async`` processes without the interpreter's start.

Every CLI test runs ``kling-async`` as a process of its own (its own arguments, environment,
working folder, stdin/stdout/stderr pipes, exit code and signals). Started from scratch, each
one spent ~0.6 s of CPU importing aiohttp, PyJWT, Pillow and the package before doing anything,
and the suite starts over a hundred of them. This server imports all that once (one per test
worker process), then forks a ready process per run:

    launcher (tests/_forkcli.py, ~10 ms)  --argv, env, cwd, fds 0/1/2-->  this server
                                                                            fork: kling-async

- The launcher is what the test starts (``CLI`` in ``tests/_helpers.py``), with ``subprocess``
  as before; it passes its own stdin/stdout/stderr, environment and working folder, forwards
  the signals it gets (SIGINT, SIGTERM, ...) to the forked process and exits as it did
  (the same code, or killed by the same signal).
- The server waits for the forked process and reports its exit; if the launcher dies first
  (``kill -9``), the server kills the forked process, as the kill would have, and does so
  before it starts any run asked for after that kill.
- The forked process sets up what a fresh ``python -m kling_async`` would have (the fds,
  folder, environment, ``sys.argv``, ``sys.path[0]``, signal dispositions), runs the CLI's
  ``main``, then the exit handlers, and exits with its code.
- A run whose environment changes the interpreter's start (``PYTHON*`` variables differing
  from the server's) is refused, and the launcher then runs ``python -m kling_async`` itself;
  so does it when no server is listening. ``tests/cli/test_forkserver.py`` checks that both ways
  give the same output and exit codes.

The server stops when the process that started it is gone.
"""

from __future__ import annotations

import atexit
import contextlib
import json
import os
import selectors
import signal
import socket
import struct
import sys
import traceback
from typing import Any, NoReturn

#: What a fresh ``python -m kling_async`` (or a script of the tests or examples) would have
#: imported by the time it runs.
PRELOAD = (
    "kling_async",
    "kling_async.cli",
    "kling_async.client",
    "kling_async.batch",
    "kling_async.emulator",
    "aiohttp",
    "aiofiles",
    "PIL.Image",
    "PIL.PngImagePlugin",
    "PIL.JpegImagePlugin",
    "jwt",
    "click",
    "aiohttp.web",
    "kling_async.emulator._server",
    "redis",  # the workers extra
    "av",  # rendering
)


def _interpreter_env(env: dict[str, str]) -> dict[str, str]:
    return {k: v for k, v in env.items() if k.startswith("PYTHON")}


def serve(path: str, parent: int) -> None:
    import importlib

    for name in PRELOAD:
        # an extra not installed: a run that needs it imports (and fails) as it would
        with contextlib.suppress(ImportError):
            importlib.import_module(name)
    startup_env = _interpreter_env(dict(os.environ))
    os.close(os.pidfd_open(os.getpid()))  # no pidfds (Linux < 5.3): no server, runs start fresh
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    partial = path + ".partial"
    if os.path.exists(partial):
        os.unlink(partial)
    server.bind(partial)
    server.listen(64)
    os.rename(partial, path)  # the launcher finds the socket only once it is listening
    runs = _Runs()
    runs.selector.register(server, selectors.EVENT_READ)
    try:
        while os.getppid() == parent:
            ready = [key.fileobj for key, _ in runs.selector.select(1.0)]
            if server in ready:
                # A launcher killed before this request was made has closed its socket by
                # now: end its run first, so that a run started right after a kill -9 never
                # meets the killed one still holding a lock.
                ready = [key.fileobj for key, _ in runs.selector.select(0)]
            for item in ready:
                if item is not server:
                    runs.event(item)
            if server in ready:
                _accept(server, runs, startup_env)
    finally:
        server.close()
        if os.path.exists(path):
            os.unlink(path)


class _Runs:
    """The forked runs: each one's launcher connection and pidfd, in one selector."""

    def __init__(self) -> None:
        self.selector = selectors.DefaultSelector()
        self.by_conn: dict[socket.socket, tuple[int, int]] = {}
        self.by_pidfd: dict[int, socket.socket] = {}

    def add(self, conn: socket.socket, child: int) -> None:
        pidfd = os.pidfd_open(child)
        self.by_conn[conn] = (child, pidfd)
        self.by_pidfd[pidfd] = conn
        self.selector.register(conn, selectors.EVENT_READ)
        self.selector.register(pidfd, selectors.EVENT_READ)

    def fds(self) -> list[int]:
        return [fd for _, fd in self.by_conn.values()] + [c.fileno() for c in self.by_conn]

    def event(self, item: object) -> None:
        if isinstance(item, int):  # a run ended: tell its launcher how
            conn = self.by_pidfd[item]
            self._end(conn, report=True)
        elif isinstance(item, socket.socket) and item in self.by_conn:
            with contextlib.suppress(OSError):
                if item.recv(64):
                    return  # nothing else is sent: ignore
            child, _ = self.by_conn[item]
            with contextlib.suppress(ProcessLookupError):
                os.kill(child, signal.SIGKILL)  # its launcher was killed: so is the run
            self._end(item, report=False)

    def _end(self, conn: socket.socket, *, report: bool) -> None:
        child, pidfd = self.by_conn.pop(conn)
        del self.by_pidfd[pidfd]
        self.selector.unregister(conn)
        self.selector.unregister(pidfd)
        _, status = os.waitpid(child, 0)
        if report:
            with contextlib.suppress(OSError):
                conn.sendall(f"exit {os.waitstatus_to_exitcode(status)}\n".encode())
        conn.close()
        os.close(pidfd)


def _accept(server: socket.socket, runs: _Runs, startup_env: dict[str, str]) -> None:
    conn, _ = server.accept()
    try:
        request, fds = _receive(conn)
    except (OSError, ValueError):
        conn.close()
        return
    try:
        if _interpreter_env(request["env"]) != startup_env:
            with contextlib.suppress(OSError):
                conn.sendall(b"no\n")
            conn.close()
            return
        child = os.fork()
        if child == 0:
            server.close()
            for fd in runs.fds():
                with contextlib.suppress(OSError):
                    os.close(fd)
            conn.close()
            _run_cli(request, fds)
    finally:
        for fd in fds:
            os.close(fd)
    try:
        runs.add(conn, child)
    except OSError:  # cannot follow it: it must not run beside the launcher's own fallback
        os.kill(child, signal.SIGKILL)
        os.waitpid(child, 0)
        with contextlib.suppress(OSError):
            conn.sendall(b"no\n")
        conn.close()
        return
    with contextlib.suppress(OSError):
        conn.sendall(f"ok {child}\n".encode())


def _receive(conn: socket.socket) -> tuple[dict[str, Any], list[int]]:
    conn.settimeout(10.0)
    head, fds, _, _ = socket.recv_fds(conn, 4, 3)
    if len(head) != 4 or len(fds) != 3:
        for fd in fds:
            os.close(fd)
        raise ValueError("a malformed request")
    (size,) = struct.unpack("!I", head)
    body = b""
    while len(body) < size:
        chunk = conn.recv(size - len(body))
        if not chunk:
            raise ValueError("a cut request")
        body += chunk
    conn.settimeout(None)
    request: dict[str, Any] = json.loads(body)
    return request, fds


def _run_cli(request: dict[str, Any], fds: list[int]) -> NoReturn:
    for target, fd in enumerate(fds):
        os.dup2(fd, target)
        os.close(fd)
    code = 1
    try:
        os.chdir(request["cwd"])
        os.environ.clear()
        os.environ.update(request["env"])
        script = request.get("script")
        if script is None:
            package = os.path.dirname(sys.modules["kling_async"].__file__ or "")
            sys.argv = [os.path.join(package, "__main__.py"), *request["argv"]]
            sys.path[0] = request["cwd"]  # as ``python -m`` puts it
        else:
            sys.argv = [script, *request["argv"]]
            sys.path[0] = os.path.dirname(script)  # as ``python SCRIPT`` puts it
        signal.signal(signal.SIGINT, signal.default_int_handler)
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        signal.signal(signal.SIGPIPE, signal.SIG_IGN)  # as Python's start leaves it
        try:
            if script is None:
                from kling_async.cli import main

                main(prog_name="kling-async")
            else:
                import runpy

                runpy.run_path(script, run_name="__main__")
            code = 0
        except SystemExit as exit_:
            code = _exit_code(exit_.code)
        except KeyboardInterrupt:  # an unhandled Ctrl-C: die by SIGINT, as Python does
            _flush()
            signal.signal(signal.SIGINT, signal.SIG_DFL)
            os.kill(os.getpid(), signal.SIGINT)
        except BaseException:
            traceback.print_exc()
            code = 1
    finally:
        try:
            atexit._run_exitfuncs()
        finally:
            _flush()
            os._exit(code)


def _exit_code(code: object) -> int:
    if code is None:
        return 0
    if isinstance(code, int):
        return code
    print(code, file=sys.stderr)
    return 1


def _flush() -> None:
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError, ValueError):
            stream.flush()


if __name__ == "__main__":
    serve(sys.argv[1], int(sys.argv[2]))
