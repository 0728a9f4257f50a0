"""The ``kling-async`` command's entry point: loads the command line, so that a Ctrl-C while
it loads (the first moments after Enter) ends in one line and exit 130, not a traceback."""

from __future__ import annotations

import sys

#: Ctrl-C, as the command line's exit codes say (``cli/_exits.py``; not imported here: it is
#: what is being loaded).
_INTERRUPTED = 130


def run() -> None:
    try:
        from .cli import main
    except KeyboardInterrupt:
        sys.stderr.write("interrupted while starting: nothing was done\n")
        raise SystemExit(_INTERRUPTED) from None
    main()
