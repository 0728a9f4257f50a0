"""The durable journal: one SQLite row per job, in WAL mode, on a thread of its own.

States: pending -> submitting (its external_task_id written *before* the POST) -> submitted
(task id) -> finished (ended remotely; succeeded) -> downloading -> done, or failed / invalid.
Every change is one committed transaction, so a crash, ``kill -9`` or Ctrl-C leaves each job
in a state the next run knows how to continue from.
"""

from __future__ import annotations

import asyncio
import sqlite3
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

import attrs

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
    updated REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS jobs_state ON jobs(state);
"""


@attrs.frozen
class JobRecord:
    job_id: str
    name: str
    kind: str
    state: str
    external_task_id: str | None
    task_id: str | None
    output: str | None
    error: str | None
    units: float | None
    attempts: int


class Journal:
    """All access goes through one worker thread: SQLite never blocks the event loop."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="kling-journal")
        self._conn: sqlite3.Connection | None = None

    async def _run(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        def call() -> T:
            assert self._conn is not None, "journal is closed"
            with self._conn:  # one transaction, committed (or rolled back) here
                return fn(self._conn)

        return await asyncio.get_running_loop().run_in_executor(self._executor, call)

    async def open(self) -> Journal:
        def connect() -> None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")  # durable across a process crash
            conn.execute("PRAGMA busy_timeout=5000")
            conn.isolation_level = "DEFERRED"
            conn.executescript(_SCHEMA)
            self._conn = conn

        await asyncio.get_running_loop().run_in_executor(self._executor, connect)
        return self

    async def close(self) -> None:
        def disconnect() -> None:
            if self._conn is not None:
                self._conn.close()
                self._conn = None

        await asyncio.get_running_loop().run_in_executor(self._executor, disconnect)
        self._executor.shutdown(wait=True)

    async def get(self, job_id: str) -> JobRecord | None:
        def read(conn: sqlite3.Connection) -> JobRecord | None:
            row = conn.execute(
                "SELECT job_id, name, kind, state, external_task_id, task_id, output, error, "
                "units, attempts FROM jobs WHERE job_id = ?",
                (job_id,),
            ).fetchone()
            return JobRecord(*row) if row else None

        return await self._run(read)

    async def claim(self, job_id: str, name: str, kind: str, output: str) -> JobRecord:
        """Record a new job as pending with the output path it owns (made unique)."""

        def insert(conn: sqlite3.Connection) -> JobRecord:
            candidate = output
            taken = conn.execute("SELECT 1 FROM jobs WHERE output = ?", (candidate,)).fetchone()
            if taken or Path(candidate).exists():
                stem = Path(output)
                candidate = str(stem.with_name(f"{stem.stem}-{job_id[:8]}{stem.suffix}"))
            conn.execute(
                "INSERT INTO jobs (job_id, name, kind, state, output, updated) "
                "VALUES (?, ?, ?, 'pending', ?, ?)",
                (job_id, name, kind, candidate, time.time()),
            )
            return JobRecord(job_id, name, kind, "pending", None, None, candidate, None, None, 0)

        return await self._run(insert)

    async def update(self, job_id: str, state: str, **fields: Any) -> None:
        if state not in STATES:
            raise ValueError(f"state: {state!r} is not one of {STATES}")
        allowed = {"external_task_id", "task_id", "error", "units", "attempts"}
        unknown = set(fields) - allowed
        if unknown:
            raise ValueError(f"fields: unknown {sorted(unknown)}")
        assignments = ", ".join([f"{k} = ?" for k in fields] + ["state = ?", "updated = ?"])
        values = [*fields.values(), state, time.time(), job_id]

        def write(conn: sqlite3.Connection) -> None:
            conn.execute(f"UPDATE jobs SET {assignments} WHERE job_id = ?", values)  # noqa: S608

        await self._run(write)
