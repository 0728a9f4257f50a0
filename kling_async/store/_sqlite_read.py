"""Reading a journal without touching it: a read-only SQLite open that takes no lock, so it
works while a run holds the journal (and after one was killed), writes nothing and needs no
credentials. ``read_journal`` makes the ``StoreSnapshot`` ``kling-async report`` shows (the
Redis store makes the same from its keys); ``failed_jobs`` and ``recorded_outputs`` are what
``animate --retry-failed`` / ``--overwrite`` read before a run."""

from __future__ import annotations

import contextlib
import os
import socket
import sqlite3
from collections import Counter
from pathlib import Path

import attrs

from ..errors import JournalError
from ..states import COMMITTED, JOB_STATES, JobState
from ._contract import JobRecord, Spend
from ._sqlite_schema import FIELDS, schema_version

#: What a journal of an older schema lacks.
_DEFAULTS = {"attempts": "0", "generation": "0"}


@attrs.frozen
class StoreSnapshot:
    """Every job of a job store as it stood when read."""

    #: Where the records were read: the journal's path, or the Redis store (password masked).
    source: str
    #: The output folder the records' relative outputs are under.
    folder: Path
    jobs: tuple[JobRecord, ...]
    #: Who is using the store: the journal's lock note (``pid 42 on host since ...``) if that
    #: process is still alive (or on another host), or the Redis store's live workers; None
    #: when no run is using it.
    in_use_by: str | None = None

    def counts(self) -> dict[str, int]:
        """Jobs per state, in the lifecycle's order (states no job is in left out)."""
        counter = Counter(job.state for job in self.jobs)
        known = {str(s): counter[s] for s in JOB_STATES if counter[s]}
        return known | {s: n for s, n in sorted(counter.items()) if s not in known}

    def units_committed(self) -> float:
        """Units of the jobs whose create went out (or may have): billed where known, else
        the estimate counted when it was sent — as the engine's ``max_units`` counts them."""
        return sum(
            job.units if job.units is not None else (job.cost or 0.0)
            for job in self.jobs
            if job.state in COMMITTED
        )

    def spend(self) -> Spend:
        """The same jobs' spend by how they were paid: money charged in cash per currency,
        units of the others (``Spend``) — as the engine's ``max_cost`` counts them."""
        spend = Spend()
        for job in self.jobs:
            if job.state in COMMITTED:
                spend = spend.add(job)
        return spend


def _uri(path: Path, *, immutable: bool) -> str:
    return path.resolve().as_uri() + ("?mode=ro&immutable=1" if immutable else "?mode=ro")


def _holder(lock_path: Path) -> str | None:
    try:
        with lock_path.open("rb") as f:
            note = f.read(512).decode("utf-8", "replace").strip()
    except OSError:
        return None
    if not note:
        return None  # a run that ended cleanly empties the note
    parts = note.split()
    if (
        len(parts) >= 4
        and parts[0] == "pid"
        and parts[1].isdigit()
        and parts[3] == (socket.gethostname())
    ):
        try:
            os.kill(int(parts[1]), 0)
        except ProcessLookupError:
            return None  # the run that wrote it is gone (killed)
        except PermissionError:
            pass  # alive, another user's
    return note


def read_journal(path: Path) -> StoreSnapshot:
    """The journal at ``path``, read-only. Raises ``JournalError`` when there is none, or it
    is not a journal this version can read."""
    if not path.is_file():
        raise JournalError(path, "does not exist: no batch has run with this output folder")
    wal = path.with_name(path.name + "-wal")
    try:
        conn = sqlite3.connect(_uri(path, immutable=False), uri=True)
    except sqlite3.OperationalError:
        if wal.exists():
            raise JournalError(path, "cannot be opened read-only") from None
        # a folder we may not write to, and no run using the journal: nothing can change it
        conn = sqlite3.connect(_uri(path, immutable=True), uri=True)
    try:
        with contextlib.closing(conn):
            conn.execute("PRAGMA query_only = 1")
            schema_version(conn, path, "upgrade kling-async")
            columns = {r[1] for r in conn.execute("PRAGMA table_info(jobs)")}
            if not {"job_id", "name", "state"} <= columns:
                raise JournalError(path, "has no jobs table: not a kling-async journal")
            select = ", ".join(f if f in columns else _DEFAULTS.get(f, "NULL") for f in FIELDS)
            rows = conn.execute(
                f"SELECT {select} FROM jobs ORDER BY updated, name"  # noqa: S608
                if "updated" in columns
                else f"SELECT {select} FROM jobs ORDER BY name"  # noqa: S608
            ).fetchall()
    except sqlite3.DatabaseError as exc:
        raise JournalError(path, f"cannot be read ({exc})") from None
    jobs = tuple(JobRecord(*row) for row in rows)
    holder = _holder(path.with_name(path.name + ".lock"))
    return StoreSnapshot(str(path), path.parent, jobs, holder)


def _read_only(path: Path) -> sqlite3.Connection:
    return sqlite3.connect(_uri(path, immutable=False), uri=True)


def read_failed(path: Path) -> dict[str, str] | None:
    """Job id -> the error recorded, for every job the journal says failed; None when there
    is no journal. Blocking: call it in a worker thread. Raises ``JournalError`` when it
    cannot be read."""
    if not path.is_file():
        return None
    try:
        with contextlib.closing(_read_only(path)) as conn:
            rows = conn.execute(
                "SELECT job_id, COALESCE(error, '') FROM jobs WHERE state = ?",
                (JobState.FAILED.value,),
            ).fetchall()
    except sqlite3.Error as exc:
        raise JournalError(path, f"cannot be read: {exc}") from None
    return {str(job_id): str(error) for job_id, error in rows}


def recorded_external_ids(path: Path) -> dict[str, tuple[str, str]]:
    """External id -> (job id, name) of the job whose create went out under it, for every
    job of the journal with a task (or a create that may have made one); empty when there
    is no journal yet. Blocking: call it in a worker thread."""
    if not path.is_file():
        return {}
    try:
        with contextlib.closing(_read_only(path)) as conn:
            rows = conn.execute(
                "SELECT external_task_id, job_id, name FROM jobs "
                "WHERE external_task_id IS NOT NULL ORDER BY task_id IS NULL"
            ).fetchall()
    except sqlite3.Error as exc:
        raise JournalError(path, f"cannot be read: {exc}") from None
    found: dict[str, tuple[str, str]] = {}
    for external_id, job_id, name in rows:  # a job with a task first: the id is its
        found.setdefault(str(external_id), (str(job_id), str(name)))
    return found


def recorded_outputs(path: Path) -> dict[str, str | None]:
    """Job id -> the file it owns (relative to the output folder), for every job of the
    journal; empty when there is no journal yet. Blocking: call it in a worker thread."""
    if not path.is_file():
        return {}
    try:
        with contextlib.closing(_read_only(path)) as conn:
            rows = conn.execute("SELECT job_id, output FROM jobs").fetchall()
    except sqlite3.Error as exc:
        raise JournalError(path, f"cannot be read: {exc}") from None
    return {str(job_id): None if output is None else str(output) for job_id, output in rows}
