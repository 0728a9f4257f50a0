"""The journal's SQLite schema, and bringing a journal of an earlier version up to it.

One ``jobs`` row per job (``JobRecord``'s fields, plus when it last changed) and a ``meta``
table (the salt). ``PRAGMA user_version`` holds ``SCHEMA_VERSION``; a journal of an older
schema is migrated when opened, one of a newer schema is refused.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import attrs

from ..errors import JournalError
from ._contract import SCHEMA_VERSION, JobRecord, default_salt

SCHEMA = """
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
    cost REAL,
    charged REAL,
    currency TEXT
);
CREATE INDEX IF NOT EXISTS jobs_state ON jobs(state);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
"""
#: A job's columns, in ``JobRecord``'s order.
FIELDS = tuple(field.name for field in attrs.fields(JobRecord))
COLUMNS = ", ".join(FIELDS)
_HINT = (
    "move it aside (e.g. rename it to .kling-journal.db.bad) and run again: videos "
    "already in the folder are kept, and tasks it recorded are found again on the "
    "server by their external ids"
)


def connect(path: Path, folder: Path, salt: str | None, busy_timeout: float) -> sqlite3.Connection:
    """Open the journal at ``path`` (made if new), migrated to ``SCHEMA_VERSION`` and checked.
    Returns the connection (autocommit mode; the caller makes the transactions). Raises
    ``JournalError`` — never a raw sqlite error — for a file this version cannot use."""
    conn: sqlite3.Connection | None = None
    try:
        conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")  # durable across a process crash
        conn.execute(f"PRAGMA busy_timeout={int(busy_timeout * 1000)}")
        version = schema_version(conn, path, "upgrade kling-async, or use another folder")
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master")}
        conn.execute("BEGIN IMMEDIATE")
        if "jobs" in tables and version < SCHEMA_VERSION:
            migrate(conn, path, version)
        for statement in SCHEMA.split(";"):
            if statement.strip():
                conn.execute(statement)
        conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
        if conn.execute("SELECT value FROM meta WHERE key = 'salt'").fetchone() is None:
            conn.execute(
                "INSERT INTO meta (key, value) VALUES ('salt', ?)", (salt or default_salt(folder),)
            )
        conn.execute("COMMIT")
        integrity = conn.execute("PRAGMA quick_check").fetchone()[0]
        if integrity != "ok":
            raise JournalError(path, f"is damaged ({integrity}); {_HINT}")
        return conn
    except BaseException as exc:
        if conn is not None:
            conn.close()
        if isinstance(exc, sqlite3.DatabaseError):
            raise JournalError(path, f"is not a usable journal ({exc}); {_HINT}") from None
        raise


def schema_version(conn: sqlite3.Connection, path: Path, advice: str) -> int:
    """The journal's schema version; a ``JournalError`` ending in ``advice`` when a newer
    kling-async wrote it (this one cannot know what its schema means)."""
    version = int(conn.execute("PRAGMA user_version").fetchone()[0])
    if version > SCHEMA_VERSION:
        raise JournalError(
            path,
            f"was written by a newer kling-async (schema {version}; this one knows up to "
            f"{SCHEMA_VERSION}); {advice}",
        )
    return version


def stored_salt(conn: sqlite3.Connection) -> str:
    return str(conn.execute("SELECT value FROM meta WHERE key = 'salt'").fetchone()[0])


def migrate(conn: sqlite3.Connection, path: Path, version: int) -> None:
    """Schema 0/1 (kling-async 0.1): no generation/cost columns, no meta table, and
    output paths as given at the time (often relative to another working directory).
    Schema 2: no charged/currency columns (money billed in cash)."""
    columns = {r[1] for r in conn.execute("PRAGMA table_info(jobs)")}
    missing = {"job_id", "name", "kind", "state", "output"} - columns
    if missing:
        raise JournalError(
            path, f"has a jobs table without {sorted(missing)}: not a kling-async journal"
        )
    if "generation" not in columns:
        conn.execute("ALTER TABLE jobs ADD COLUMN generation INTEGER NOT NULL DEFAULT 0")
    if "cost" not in columns:
        conn.execute("ALTER TABLE jobs ADD COLUMN cost REAL")
    for column, kind in (("charged", "REAL"), ("currency", "TEXT")):
        if column not in columns:
            conn.execute(f"ALTER TABLE jobs ADD COLUMN {column} {kind}")
    if version >= 2:  # outputs are relative to the folder already, sub-folders kept
        return
    # 0.1 wrote every video straight into the folder: keep the file's name only
    rows = conn.execute("SELECT job_id, output FROM jobs WHERE output IS NOT NULL").fetchall()
    for job_id, output in rows:
        name = Path(str(output)).name
        conn.execute(
            "UPDATE jobs SET output = ? WHERE job_id = ?",
            (name if name else None, job_id),
        )
