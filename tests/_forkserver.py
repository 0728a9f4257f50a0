"""A fork server for the CLI tests: ``kling-async`` processes without the interpreter's start.

Every CLI test runs ``kling-async`` as a process of its own (its own arguments, environment,
working folder, stdin/stdout/stderr pipes, exit code and signals). Started from scratch, each
one spent ~0.6 s of CPU importing aiohttp, PyJWT, Pillow and the package before doing anything,
and the suite starts over a hundred of them. This server imports all that once (one per test
worker process), then forks a ready process per run:

    launcher (tests/_forkcli.py, ~10 ms)  --argv, env, cwd, fds 0/1/2-->  this server
                                                                            fork: monitor
                                                                              fork: kling-async

- The launcher is what the test starts (``CLI`` in ``tests/_helpers.py``), with ``subprocess``
  as before; it passes its own stdin/stdout/stderr, environment and working folder, forwards
  the signals it gets (SIGINT, SIGTERM, ...) to the forked process and exits as it did
  (the same code, or killed by the same signal).
- The monitor waits for the forked process and reports its exit; if the launcher dies first
  (``kill -9``), the monitor kills the forked process at once, as the kill would have.
- The forked process sets up what a fresh ``python -m kling_async`` would have (the fds,
  folder, environment, ``sys.argv``, ``sys.path[0]``, signal dispositions), runs the CLI's
  ``main``, then the exit handlers, and exits with its code.
- A run whose environment changes the interpreter's start (``PYTHON*`` variables differing
  from the server's) is refused, and the launcher then runs ``python -m kling_async`` itself;
  so does it when no server is listening. ``tests/test_forkserver.py`` checks that both ways
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

#: What a fresh ``python -m kling_async`` would have imported by the time a command runs.
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
)


def _interpreter_env(env: dict[str, str]) -> dict[str, str]:
    return {k: v for k, v in env.items() if k.startswith("PYTHON")}


def serve(path: str, parent: int) -> None:
    import importlib

    for name in PRELOAD:
        importlib.import_module(name)
    startup_env = _interpreter_env(dict(os.environ))
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    partial = path + ".partial"
    if os.path.exists(partial):
        os.unlink(partial)
    server.bind(partial)
    server.listen(64)
    os.rename(partial, path)  # the launcher finds the socket only once it is listening
    server.settimeout(1.0)
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # monitors are reaped by the kernel
    try:
        while os.getppid() == parent:
            try:
                conn, _ = server.accept()
            except TimeoutError:
                continue
            try:
                request, fds = _receive(conn)
            except (OSError, ValueError):
                conn.close()
                continue
            if os.fork() == 0:
                server.close()
                _monitor(conn, request, fds, startup_env)
            conn.close()
            for fd in fds:
                os.close(fd)
    finally:
        server.close()
        if os.path.exists(path):
            os.unlink(path)


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


def _monitor(
    conn: socket.socket, request: dict[str, Any], fds: list[int], startup_env: dict[str, str]
) -> NoReturn:
    signal.signal(signal.SIGCHLD, signal.SIG_DFL)
    try:
        if _interpreter_env(request["env"]) != startup_env:
            conn.sendall(b"no\n")
            os._exit(0)
        child = os.fork()
        if child == 0:
            conn.close()
            _run_cli(request, fds)
        for fd in fds:
            os.close(fd)
        conn.sendall(f"ok {child}\n".encode())
        pidfd = os.pidfd_open(child)
        with selectors.DefaultSelector() as selector:
            selector.register(conn, selectors.EVENT_READ)
            selector.register(pidfd, selectors.EVENT_READ)
            ended = False
            while not ended:
                for key, _ in selector.select():
                    if key.fileobj is conn:
                        if not conn.recv(64):  # the launcher is gone (kill -9): so is the run
                            os.kill(child, signal.SIGKILL)
                            selector.unregister(conn)
                    else:
                        ended = True
        _, status = os.waitpid(child, 0)
        conn.sendall(f"exit {os.waitstatus_to_exitcode(status)}\n".encode())
    except OSError:
        pass
    os._exit(0)


def _run_cli(request: dict[str, Any], fds: list[int]) -> NoReturn:
    for target, fd in enumerate(fds):
        os.dup2(fd, target)
        os.close(fd)
    code = 1
    try:
        os.chdir(request["cwd"])
        os.environ.clear()
        os.environ.update(request["env"])
        main_path = os.path.join(
            os.path.dirname(sys.modules["kling_async"].__file__ or ""), "__main__.py"
        )
        sys.argv = [main_path, *request["argv"]]
        sys.path[0] = request["cwd"]  # as ``python -m`` puts it
        signal.signal(signal.SIGINT, signal.default_int_handler)
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        signal.signal(signal.SIGPIPE, signal.SIG_IGN)  # as Python's start leaves it
        from kling_async.cli import main

        try:
            main(prog_name="kling-async")
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
