"""The durable journal: one SQLite row per job, in WAL mode, on a thread of its own.

States: pending -> submitting (its external_task_id written *before* the POST) -> submitted
(task id) -> finished (ended remotely; succeeded; its video to fetch) -> done, or failed /
invalid. ``downloading`` (written by earlier versions between finished and done) means the
same as finished.
Every change is committed before its caller goes on (changes made at the same time share one
transaction), so a crash, ``kill -9`` or Ctrl-C leaves each job in a state the next run knows
how to continue from.

One run at a time: the journal is locked (``flock`` on ``<journal>.lock``, which says who holds
it) for as long as a run uses it. Output paths are kept relative to the output folder. The
schema carries a version (``PRAGMA user_version``); older journals are migrated on open.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import hashlib
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

T = TypeVar("T")

STATES = (
    "pending",
    "submitting",
    "submitted",
    "finished",
    "downloading",
    "done",
    "failed",
    "invalid",
)
#: States whose units count as spent (or about to be): a create went out, or may have.
COMMITTED_STATES = ("submitting", "submitted", "finished", "downloading", "done")
SCHEMA_VERSION = 2
_SCHEMA = """
CREATE TABLE IF NOT EXISTS jobs (
    job_id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    kind TEXT NOT NULL,
    state TEXT NOT NULL,
    external_task_id TEXT,
    task_id TEXT,
    output TEXT UNIQUE,
    error TEXT,
    units REAL,
    attempts INTEGER NOT NULL DEFAULT 0,
    updated REAL NOT NULL,
    generation INTEGER NOT NULL DEFAULT 0,
    cost REAL
);
CREATE INDEX IF NOT EXISTS jobs_state ON jobs(state);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
"""
_COLUMNS = (
    "job_id, name, kind, state, external_task_id, task_id, output, error, units, attempts, "
    "generation, cost"
)
#: How many names ``claim`` tries before it gives up (each one taken by a file or a job).
_MAX_CLAIM_TRIES = 1000


@attrs.frozen
class JobRecord:
    job_id: str
    name: str
    kind: str
    state: str
    external_task_id: str | None
    task_id: str | None
    #: The video's path, relative to the output folder.
    output: str | None
    error: str | None
    units: float | None
    attempts: int
    #: How many times the job was created anew after a failed task (part of its external id).
    generation: int = 0
    #: The units counted against ``max_units`` when its create went out.
    cost: float | None = None


def default_salt(folder: Path) -> str:
    """The salt of a new journal: from the output folder's absolute path, so that a journal
    lost and started again for the same folder derives the same external ids (and the server
    finds the tasks the lost one created)."""
    return hashlib.sha256(f"kling-async:{folder.resolve()}".encode()).hexdigest()[:16]


def inside(folder: Path, relative: str) -> bool:
    """True when ``relative`` names a path inside ``folder`` (no absolute path, no ``..``)."""
    path = Path(relative)
    return not path.is_absolute() and ".." not in path.parts and relative not in ("", ".")


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

        with self._hold():
            return await asyncio.get_running_loop().run_in_executor(self._executor, call)

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
        hint = (
            "move it aside (e.g. rename it to .kling-journal.db.bad) and run again: videos "
            "already in the folder are kept, and tasks it recorded are found again on the "
            "server by their external ids"
        )
        try:
            conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
            self._conn = conn
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")  # durable across a process crash
            conn.execute(f"PRAGMA busy_timeout={int(self.busy_timeout * 1000)}")
            version = conn.execute("PRAGMA user_version").fetchone()[0]
            if version > SCHEMA_VERSION:
                raise JournalError(
                    self.path,
                    f"was written by a newer kling-async (schema {version}; this one knows "
                    f"up to {SCHEMA_VERSION}); upgrade kling-async, or use another folder",
                )
            tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master")}
            conn.execute("BEGIN IMMEDIATE")
            if "jobs" in tables and version < SCHEMA_VERSION:
                self._migrate(conn, version)
            for statement in _SCHEMA.split(";"):
                if statement.strip():
                    conn.execute(statement)
            conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
            row = conn.execute("SELECT value FROM meta WHERE key = 'salt'").fetchone()
            if row is None:
                self.salt = salt or default_salt(self.folder)
                conn.execute("INSERT INTO meta (key, value) VALUES ('salt', ?)", (self.salt,))
            else:
                self.salt = str(row[0])
            conn.execute("COMMIT")
            integrity = conn.execute("PRAGMA quick_check").fetchone()[0]
            if integrity != "ok":
                raise JournalError(self.path, f"is damaged ({integrity}); {hint}")
        except JournalError:
            raise
        except sqlite3.DatabaseError as exc:
            raise JournalError(self.path, f"is not a usable journal ({exc}); {hint}") from None

    def _migrate(self, conn: sqlite3.Connection, version: int) -> None:
        """Schema 0/1 (kling-async 0.1): no generation/cost columns, no meta table, and
        output paths as given at the time (often relative to another working directory)."""
        columns = {r[1] for r in conn.execute("PRAGMA table_info(jobs)")}
        missing = {"job_id", "name", "kind", "state", "output"} - columns
        if missing:
            raise JournalError(
                self.path, f"has a jobs table without {sorted(missing)}: not a kling-async journal"
            )
        if "generation" not in columns:
            conn.execute("ALTER TABLE jobs ADD COLUMN generation INTEGER NOT NULL DEFAULT 0")
        if "cost" not in columns:
            conn.execute("ALTER TABLE jobs ADD COLUMN cost REAL")
        # 0.1 wrote every video straight into the folder: keep the file's name only
        rows = conn.execute("SELECT job_id, output FROM jobs WHERE output IS NOT NULL").fetchall()
        for job_id, output in rows:
            name = Path(str(output)).name
            conn.execute(
                "UPDATE jobs SET output = ? WHERE job_id = ?",
                (name if name else None, job_id),
            )

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
            marks = ",".join("?" * len(COMMITTED_STATES))
            row = conn.execute(
                f"SELECT COALESCE(SUM(COALESCE(units, cost, 0)), 0) FROM jobs "  # noqa: S608
                f"WHERE state IN ({marks})",
                COMMITTED_STATES,
            ).fetchone()
            return float(row[0])

        return await self._run(total)

    # -- writing ------------------------------------------------------------------------
    def _free_name(self, conn: sqlite3.Connection, job_id: str, name: str, suffix: str) -> str:
        """``<name><suffix>`` if no job and no file has it, else ``<name>-<id8><suffix>``,
        ``<name>-<id8>-2<suffix>``... until a free one."""
        for n in range(_MAX_CLAIM_TRIES):
            tail = "" if n == 0 else f"-{job_id[:8]}" + ("" if n == 1 else f"-{n}")
            candidate = f"{name}{tail}{suffix}"
            if conn.execute("SELECT 1 FROM jobs WHERE output = ?", (candidate,)).fetchone():
                continue
            if any(
                os.path.lexists(self.folder / f"{candidate}{extra}")
                for extra in ("", ".part", ".part.json")
            ):
                continue
            return candidate
        raise JournalError(
            self.path, f"no free file name for {name!r} after {_MAX_CLAIM_TRIES} tries"
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
                f"SELECT {_COLUMNS} FROM jobs WHERE job_id = ?",  # noqa: S608
                (job_id,),
            ).fetchone()
            if row is None:
                output = self._free_name(conn, job_id, name, suffix)
                conn.execute(
                    "INSERT INTO jobs (job_id, name, kind, state, output, updated) "
                    "VALUES (?, ?, ?, 'pending', ?, ?)",
                    (job_id, name, kind, output, time.time()),
                )
                return JobRecord(job_id, name, kind, "pending", None, None, output, None, None, 0)
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

    async def update(self, job_id: str, state: str, **fields: Any) -> None:
        """Change a job's state (and fields); returns once it is committed. Updates that
        arrive together (a poll round ending many tasks) share one transaction."""
        if state not in STATES:
            raise ValueError(f"state: {state!r} is not one of {STATES}")
        allowed = {"external_task_id", "task_id", "error", "units", "attempts"}
        allowed |= {"generation", "cost"}
        unknown = set(fields) - allowed
        if unknown:
            raise ValueError(f"fields: unknown {sorted(unknown)}")
        assignments = ", ".join([f"{k} = ?" for k in fields] + ["state = ?", "updated = ?"])
        sql = f"UPDATE jobs SET {assignments} WHERE job_id = ?"  # noqa: S608
        values = (*fields.values(), state, time.time(), job_id)

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
