"""How the command line runs its coroutine: on uvloop where it is installed (else asyncio's
loop), with the objects of its start-up frozen out of the garbage collector's scans.

A library does not choose its caller's loop: ``KlingClient`` and ``client.batch`` run on
whatever loop the application runs (``uvloop.run(main())`` is the application's call). The
``kling-async`` commands are applications, so they choose: on uvloop the batch engine spends
about a quarter less CPU a job where the loop's own work dominates (10,000 tasks of 0.2-0.5 s:
2.75 -> 2.05 ms a job, 7.4 -> 6.0 s for 3,000 jobs) and about 5% less on a typical batch.

``KLING_ASYNC_LOOP=asyncio`` keeps asyncio's loop (to compare, or to debug with asyncio's
tools); ``uvloop`` insists on uvloop (an error if it is not installed); unset or ``auto``
picks uvloop when it can be imported. A ``VirtualClock`` on uvloop cannot see whether the
loop is busy (uvloop keeps no ``_ready`` queue), so tests that use one stay on asyncio.

Before the loop starts, ``gc.freeze()`` moves what exists then (the modules imported, their
classes and functions: about 45,000 objects the collector tracks) to its permanent
generation, once per process. The collector's full scans, which a batch's many live jobs,
tasks and futures trigger, then walk only what the run made: a C=1000 account's first wave
of 1,000 creates went out in ~0.46 s instead of ~0.52 s (three runs each, alternating).
Those objects live as long as the process anyway. An application that wants the same does
``gc.freeze()`` after its imports.

Signals: while a command starts, ``startup_signals`` makes Ctrl-C (or SIGTERM) one line and
an exit code; once ``run`` starts the loop, the loop takes Ctrl-C over (a cancellation of the
command, which says how to resume) and SIGTERM is the command's to handle.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import os
import signal
import sys
import threading
from collections.abc import Callable, Coroutine, Iterator, Mapping
from types import FrameType
from typing import Any, TypeVar

from .errors import ValidationError

T = TypeVar("T")

#: The environment variable that chooses the loop, and the values it may take.
LOOP_ENV = "KLING_ASYNC_LOOP"
_CHOICES = ("auto", "asyncio", "uvloop")


def loop_choice() -> str:
    """``asyncio`` or ``uvloop``: what ``run`` will use here."""
    wanted = os.environ.get(LOOP_ENV, "").strip().lower() or "auto"
    if wanted not in _CHOICES:
        rule = "must be one of " + ", ".join(_CHOICES)
        raise ValidationError(LOOP_ENV, os.environ.get(LOOP_ENV), rule)
    if wanted == "asyncio":
        return "asyncio"
    try:
        import uvloop  # noqa: F401
    except ImportError:
        if wanted == "uvloop":
            raise ValidationError(
                LOOP_ENV, "uvloop", "needs uvloop installed (pip install uvloop)"
            ) from None
        return "asyncio"
    return "uvloop"


def run(main: Coroutine[Any, Any, T]) -> T:
    """``asyncio.run(main)`` on the loop ``loop_choice`` names, start-up objects frozen."""
    try:
        choice = loop_choice()
    except BaseException:
        main.close()  # never awaited: say nothing of it
        raise
    _hand_signals_to_the_loop()
    if not gc.get_freeze_count():  # once: a second run would freeze the first's garbage
        gc.freeze()
    if choice == "uvloop":
        import uvloop

        return uvloop.run(main)
    return asyncio.run(main)


#: The start-up handlers in force (``startup_signals``), by signal.
_STARTUP_HANDLERS: dict[int, Callable[[int, FrameType | None], None]] = {}


@contextlib.contextmanager
def startup_signals(said: Mapping[signal.Signals, tuple[str, int]]) -> Iterator[None]:
    """While a command starts (its options, its config profile): each signal of ``said``
    writes its line on stderr and exits with its code — no traceback — until ``run`` hands
    the signals to the loop. The caller's handlers are back afterwards. Only in the main
    thread (the only one signals go to)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {}
    for signum, (line, code) in said.items():

        def stop(_: int, __: FrameType | None, line: str = line, code: int = code) -> None:
            sys.stderr.write(f"\n{line}\n")
            sys.exit(code)

        previous[signum] = signal.signal(signum, stop)
        _STARTUP_HANDLERS[signum] = stop
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
            _STARTUP_HANDLERS.pop(signum, None)


def _hand_signals_to_the_loop() -> None:
    """Ctrl-C goes to the loop, which takes it over only from Python's own handler: put that
    one back; a start-up handler of another signal gives way to the default (the command
    installs its own, if any, on the loop)."""
    if threading.current_thread() is not threading.main_thread():
        return
    signal.signal(signal.SIGINT, signal.default_int_handler)
    for signum, handler in _STARTUP_HANDLERS.items():
        if signum != signal.SIGINT and signal.getsignal(signum) is handler:
            signal.signal(signum, signal.SIG_DFL)
