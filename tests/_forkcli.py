"""``kling-async`` for the tests, forked ready-imported by tests/_forkserver.py (see there).

Usage: ``python -I -S tests/_forkcli.py SOCKET ARGS...``. Runs ``kling-async ARGS...`` in a
process forked by the server listening on SOCKET, with this process's stdin, stdout, stderr,
environment and working folder; forwards the signals it gets and exits as that process did.
Without a server (or when it refuses the run) it becomes ``python -m kling_async ARGS...``.
``python -I -S tests/_forkcli.py SOCKET --script PATH ARGS...`` runs the script ``PATH`` so
(``python PATH ARGS...`` without a server).
``KA_FORKCLI=off`` in the environment: always start from scratch; ``KA_FORKCLI=required``:
fail (exit 70) rather than start from scratch (the fork server's own tests).
Only the standard library, and no ``site``: it starts in ~10 ms.
"""

import contextlib
import json
import os
import signal
import socket
import struct
import sys

_FORWARDED = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT, signal.SIGUSR1)


def main() -> None:
    path, args = sys.argv[1], sys.argv[2:]
    script = None
    if args[:1] == ["--script"]:
        script, args = os.path.abspath(args[1]), args[2:]
    conn = _connect(path)
    if conn is None:
        _fallback(script, args)
    request = {"argv": args, "script": script, "env": dict(os.environ), "cwd": os.getcwd()}
    body = json.dumps(request).encode()
    socket.send_fds(conn, [struct.pack("!I", len(body))], [0, 1, 2])
    conn.sendall(body)
    reader = conn.makefile("rb")
    answer = reader.readline().split()
    if answer[:1] != [b"ok"]:
        conn.close()
        _fallback(script, args)
    child = int(answer[1])

    def forward(signum: int, _frame: object) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.kill(child, signum)

    for signum in _FORWARDED:
        signal.signal(signum, forward)
    ended = reader.readline().split()
    if ended[:1] != [b"exit"]:
        sys.stderr.write("kling-async test fork server: lost the run\n")
        os._exit(70)
    code = int(ended[1])
    if code < 0:  # killed by a signal: so is this process
        signal.signal(-code, signal.SIG_DFL)
        os.kill(os.getpid(), -code)
    os._exit(code)


def _connect(path: str) -> "socket.socket | None":
    if os.environ.get("KA_FORKCLI") == "off" or not os.path.exists(path):
        return None
    conn = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        conn.connect(path)
    except OSError:
        conn.close()
        return None
    return conn


def _fallback(script: "str | None", args: list) -> None:
    if os.environ.get("KA_FORKCLI") == "required":
        sys.stderr.write("kling-async test fork server: not used\n")
        os._exit(70)
    start = [script] if script is not None else ["-m", "kling_async"]
    os.execv(sys.executable, [sys.executable, *start, *args])  # noqa: S606


if __name__ == "__main__":
    main()
