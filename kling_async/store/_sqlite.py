"""The journal: the SQLite job store of one output folder (see ``_contract`` for what every
job store keeps, ``JobState`` for the states). One row per job, in WAL mode, on a thread of
its own.

Every change is committed before its caller goes on (changes made at the same time share one
transaction), so a crash, ``kill -9`` or Ctrl-C leaves each job in a state the next run knows
how to continue from.

One run at a time: the journal is locked (``flock`` on ``<journal>.lock``, which says who holds
it) for as long as a run uses it. Output paths are kept relative to the output folder. The
schema carries a version (``PRAGMA user_version``); older journals are migrated on open
(``_sqlite_schema``).
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import os
import socket
import sqlite3
import sys
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any, TypeVar

import attrs

from ..errors import JournalError, JournalLockedError
from ..states import COMMITTED, JobState
from ._contract import (
    MAX_CLAIM_TRIES,
    JobRecord,
    Spend,
    candidate_outputs,
    check_update,
    inside,
    on_disk,
)
from ._sqlite_schema import COLUMNS, connect, stored_salt

T = TypeVar("T")
#: The journal's file name in its output folder (unless a run is given another path).
JOURNAL_NAME = ".kling-journal.db"
_COMMITTED = tuple(state.value for state in COMMITTED)


class Journal:
    """All access goes through one worker thread: SQLite never blocks the event loop."""

    #: Seconds a write waits for another program's lock on the journal before it fails.
    busy_timeout: float = 5.0

    def __init__(
        self,
        path: Path,
        folder: Path | None = None,
        *,
        hold: Callable[[], AbstractContextManager[object]] | None = None,
    ) -> None:
        self.path = path
        #: Held while the journal's thread works (a ``VirtualClock``'s ``hold``: time does not
        #: jump past a write still being made, as it does not past a request on the wire).
        self._hold = hold or contextlib.nullcontext
        #: The output folder the journal's relative paths are under.
        self.folder = folder if folder is not None else path.parent
        self.lock_path = path.with_name(path.name + ".lock")
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="kling-journal")
        self._conn: sqlite3.Connection | None = None
        self._lock_fd: int | None = None
        #: Writes (and claims) waiting for the next transaction, and the task that makes them.
        self._pending: list[_Op] = []
        self._flusher: asyncio.Task[None] | None = None
        #: The salt of the external ids this journal derives (see ``default_salt``).
        self.salt = ""
        #: How many transactions it has made (writes made together share one).
        self.transactions = 0

    async def _run(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        def call() -> T:
            conn = self._conn
            if conn is None:
                raise JournalError(self.path, "is closed")
            # one transaction, committed (or rolled back) here. The connection is in
            # autocommit mode (isolation_level=None), where ``with conn`` does nothing: each
            # statement had been a transaction (and a WAL commit) of its own.
            try:
                conn.execute("BEGIN IMMEDIATE")
                try:
                    result = fn(conn)
                    conn.execute("COMMIT")
                except BaseException:
                    if conn.in_transaction:
                        conn.execute("ROLLBACK")
                    raise
                return result
            except sqlite3.DatabaseError as exc:
                raise JournalError(self.path, f"cannot be written or read: {exc}") from exc

        self.transactions += 1
        with self._hold():
            return await asyncio.get_running_loop().run_in_executor(self._executor, call)

    def trace(self, callback: Callable[[str], None] | None) -> None:
        """Call ``callback`` with every SQL statement the journal runs from now on (on its
        thread), or stop with ``None``: for tests and debugging."""
        if self._conn is None:
            raise JournalError(self.path, "is closed")
        self._conn.set_trace_callback(callback)

    # -- open / close -------------------------------------------------------------------
    async def open(self, *, salt: str | None = None) -> Journal:
        """Lock the journal for this run, open it and bring its schema up to date.

        Raises ``JournalLockedError`` when another run holds it and ``JournalError`` when the
        file is not a journal this version can use — never a raw sqlite error."""

        def connect() -> None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._lock()
            try:
                self._connect(salt)
            except BaseException:
                self._close_conn()
                self._unlock()
                raise

        await asyncio.get_running_loop().run_in_executor(self._executor, connect)
        return self

    def _lock(self) -> None:
        fd = os.open(self.lock_path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 512, 0).decode("utf-8", "replace").strip() or "unknown"
            os.close(fd)
            raise JournalLockedError(self.path, holder) from None
        command = " ".join(Path(a).name if i == 0 else a for i, a in enumerate(sys.argv[:3]))
        stamp = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime())
        note = f"pid {os.getpid()} on {socket.gethostname()} since {stamp} ({command})"
        os.ftruncate(fd, 0)
        os.pwrite(fd, note.encode(), 0)
        self._lock_fd = fd

    def _unlock(self) -> None:
        if self._lock_fd is not None:
            with contextlib.suppress(OSError):
                os.ftruncate(self._lock_fd, 0)
            os.close(self._lock_fd)  # closing the descriptor releases the flock
            self._lock_fd = None

    def _connect(self, salt: str | None) -> None:
        self._conn = connect(self.path, self.folder, salt, self.busy_timeout)
        self.salt = stored_salt(self._conn)

    def _close_conn(self) -> None:
        if self._conn is not None:
            with contextlib.suppress(sqlite3.Error):
                self._conn.close()
            self._conn = None

    async def close(self) -> None:
        if self._flusher is not None and not self._flusher.done():
            with contextlib.suppress(Exception):
                await self._flusher  # the updates already made are committed first

        def disconnect() -> None:
            self._close_conn()
            self._unlock()

        with contextlib.suppress(RuntimeError):  # the executor may already be shut down
            await asyncio.get_running_loop().run_in_executor(self._executor, disconnect)
        self._executor.shutdown(wait=True)

    # -- reading ------------------------------------------------------------------------
    def _record(self, row: tuple[Any, ...]) -> JobRecord:
        record = JobRecord(*row)
        if record.output is not None and not inside(self.folder, record.output):
            # written by something else than this SDK: never write there
            record = attrs.evolve(record, output=None)
        return record

    async def committed_units(self) -> float:
        """Units of every job whose create went out (or may have), across all runs: the
        billed amount where known, else the estimate counted when it was sent."""

        def total(conn: sqlite3.Connection) -> float:
            marks = ",".join("?" * len(_COMMITTED))
            row = conn.execute(
                f"SELECT COALESCE(SUM(COALESCE(units, cost, 0)), 0) FROM jobs "  # noqa: S608
                f"WHERE state IN ({marks})",
                _COMMITTED,
            ).fetchone()
            return float(row[0])

        return await self._run(total)

    async def committed_spend(self) -> Spend:
        """The committed jobs' spend, by how they were paid (``Spend``)."""

        def total(conn: sqlite3.Connection) -> Spend:
            marks = ",".join("?" * len(_COMMITTED))
            rows = conn.execute(
                f"SELECT {COLUMNS} FROM jobs WHERE state IN ({marks})",  # noqa: S608
                _COMMITTED,
            ).fetchall()
            spend = Spend()
            for row in rows:
                spend = spend.add(JobRecord(*row))
            return spend

        return await self._run(total)

    # -- writing ------------------------------------------------------------------------
    def _free_name(self, conn: sqlite3.Connection, job_id: str, name: str, suffix: str) -> str:
        """The first of ``candidate_outputs`` no job and no file has."""
        for candidate in candidate_outputs(job_id, name, suffix):
            if conn.execute("SELECT 1 FROM jobs WHERE output = ?", (candidate,)).fetchone():
                continue
            if on_disk(self.folder, candidate):
                continue
            return candidate
        raise JournalError(
            self.path, f"no free file name for {name!r} after {MAX_CLAIM_TRIES} tries"
        )

    async def get_or_claim(
        self, job_id: str, name: str, kind: str, suffix: str = ".mp4"
    ) -> JobRecord:
        """The job's record, in one transaction. A new job is recorded as pending with the
        output it owns: a name no other job and no file (not even an unrelated one) has (see
        ``_free_name``); a job whose recorded output is unusable (outside the folder) gets a
        fresh name by the same rules."""

        def read_or_insert(conn: sqlite3.Connection) -> JobRecord:
            row = conn.execute(
                f"SELECT {COLUMNS} FROM jobs WHERE job_id = ?",  # noqa: S608
                (job_id,),
            ).fetchone()
            if row is None:
                output = self._free_name(conn, job_id, name, suffix)
                conn.execute(
                    "INSERT INTO jobs (job_id, name, kind, state, output, updated) "
                    "VALUES (?, ?, ?, ?, ?, ?)",
                    (job_id, name, kind, JobState.PENDING.value, output, time.time()),
                )
                return JobRecord(
                    job_id, name, kind, JobState.PENDING, None, None, output, None, None, 0
                )
            record = self._record(row)
            if record.output is None:
                conn.execute("UPDATE jobs SET output = NULL WHERE job_id = ?", (job_id,))
                output = self._free_name(conn, job_id, record.name, suffix)
                conn.execute("UPDATE jobs SET output = ? WHERE job_id = ?", (output, job_id))
                record = attrs.evolve(record, output=output)
            return record

        # with the updates waiting, in one transaction: a batch's first wave claims its
        # jobs in a few commits instead of one each
        return await self._queue(read_or_insert, may_refuse=True)

    async def has(self, job_id: str) -> bool:
        def look(conn: sqlite3.Connection) -> bool:
            found = conn.execute("SELECT 1 FROM jobs WHERE job_id = ?", (job_id,)).fetchone()
            return found is not None

        return await self._run(look)

    async def task_owner(self, external_task_id: str) -> str | None:
        def find(conn: sqlite3.Connection) -> str | None:
            row = conn.execute(
                "SELECT job_id FROM jobs WHERE external_task_id = ? AND task_id IS NOT NULL "
                "LIMIT 1",
                (external_task_id,),
            ).fetchone()
            return None if row is None else str(row[0])

        return await self._run(find)

    async def update(self, job_id: str, state: str, **fields: Any) -> None:
        """Change a job's state (and fields); returns once it is committed. Updates that
        arrive together (a poll round ending many tasks) share one transaction."""
        check_update(state, fields)
        assignments = ", ".join([f"{k} = ?" for k in fields] + ["state = ?", "updated = ?"])
        sql = f"UPDATE jobs SET {assignments} WHERE job_id = ?"  # noqa: S608
        values = (*fields.values(), str(state), time.time(), job_id)

        def write(conn: sqlite3.Connection) -> None:
            conn.execute(sql, values)

        await self._queue(write)

    async def _queue(self, fn: Callable[[sqlite3.Connection], T], *, may_refuse: bool = False) -> T:
        """Run ``fn`` in the next transaction, with whatever else waits for it; its result.
        It is made even when the caller is cancelled meanwhile (and awaited by ``close``).
        An ``fn`` that ``may_refuse`` (a claim: no free name) runs in a savepoint: if it
        raises ``JournalError``, its own writes are undone and the others' stay. Any other
        error fails the whole transaction. (An update is one statement: it needs no
        savepoint, and skipping two statements per write keeps the journal's thread shorter.)"""
        loop = asyncio.get_running_loop()
        done: asyncio.Future[T] = loop.create_future()
        done.add_done_callback(_consume)  # read even when its caller was cancelled
        self._pending.append((fn, done, may_refuse))
        if self._flusher is None or self._flusher.done():
            self._flusher = loop.create_task(self._flush(), name="kling-journal-flush")
        return await done  # cancelled, the caller stops waiting; the write is made anyway

    async def _flush(self) -> None:
        while self._pending:
            batch, self._pending = self._pending, []

            def write(conn: sqlite3.Connection, batch: list[_Op] = batch) -> list[_Result]:
                results: list[_Result] = []
                for fn, _, may_refuse in batch:
                    if not may_refuse:
                        results.append((True, fn(conn)))
                        continue
                    conn.execute("SAVEPOINT op")
                    try:
                        results.append((True, fn(conn)))
                    except JournalError as exc:  # this one's own failure: its writes undone
                        conn.execute("ROLLBACK TO op")
                        results.append((False, exc))
                    conn.execute("RELEASE op")
                return results

            try:
                results = await self._run(write)
            except BaseException as exc:
                for _, done, _ in batch:
                    if not done.done():
                        done.set_exception(
                            exc
                            if isinstance(exc, Exception)
                            else JournalError(
                                self.path, f"write interrupted ({type(exc).__name__})"
                            )
                        )
                if not isinstance(exc, Exception):
                    raise
                continue
            for (_, done, _), (ok, value) in zip(batch, results, strict=True):
                if done.done():
                    continue
                if ok:
                    done.set_result(value)
                else:
                    done.set_exception(value)


#: A queued write: what to run, the future of its result, and whether it may refuse.
_Op = tuple[Callable[[sqlite3.Connection], Any], "asyncio.Future[Any]", bool]
_Result = tuple[bool, Any]


def _consume(done: asyncio.Future[Any]) -> None:
    if not done.cancelled():
        done.exception()
