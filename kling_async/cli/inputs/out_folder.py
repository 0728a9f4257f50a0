"""The output folder, checked before anything is sent: a run that cannot write its videos
(or its journal) there is told so in one line, not by a traceback half-way."""

from __future__ import annotations

import os
from pathlib import Path


def out_folder_problem(folder: Path) -> str | None:
    """Why a run cannot write in ``folder`` (made when missing), or None. Looks at the
    folder, else at its nearest existing parent: a file there, a read-only file system, no
    permission. Blocking: call it in a worker thread."""
    there = folder
    while not os.path.lexists(there) and there.parent != there:
        there = there.parent
    if not there.is_dir():
        if there == folder:
            return f"{folder} is not a folder"
        return f"{there} is a file, so no folder can be made in it"
    if os.access(there, os.W_OK | os.X_OK):
        return None
    try:
        read_only = bool(os.statvfs(there).f_flag & os.ST_RDONLY)
    except OSError:
        read_only = False
    why = "read-only file system" if read_only else "no permission to write there"
    return f"cannot write in {there} ({why})"
