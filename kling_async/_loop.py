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

Ctrl-C: once ``run`` starts the loop, the loop takes it over (a cancellation of the
command, which says how to resume), whatever handler the command's start-up had.
"""

from __future__ import annotations

import asyncio
import gc
import os
import signal
import threading
from collections.abc import Coroutine
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
    _hand_sigint_to_the_loop()
    if not gc.get_freeze_count():  # once: a second run would freeze the first's garbage
        gc.freeze()
    if choice == "uvloop":
        import uvloop

        return uvloop.run(main)
    return asyncio.run(main)


def _hand_sigint_to_the_loop() -> None:
    """Ctrl-C goes to the loop, which takes it over only from Python's own handler: put
    that one back (a command's start-up handler gives way). Only in the main thread, the
    only one signals go to."""
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGINT, signal.default_int_handler)
