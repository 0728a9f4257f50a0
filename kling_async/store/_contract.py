"""The job store's contract: what the batch engine and the submitter ask of a job store.

Two stores keep it: the SQLite ``Journal`` (one run, one host, one output folder) and the
``RedisJobStore`` (many workers on many hosts, one shared folder). Both keep it the same way,
and ``tests/store/test_contract.py`` runs one suite of tests on both:

- **States** are ``JobState`` words (``kling_async.states``); ``update`` refuses any other.
  ``COMMITTED`` says which states' units count as spent.
- **Outputs** are paths relative to the store's ``folder`` (``inside``), sub-folders kept:
  the job named ``beach/b1`` owns ``beach/b1.mp4``. ``get_or_claim`` records a new job as
  ``pending`` with an output no other job and no file (nor its ``.part`` files) has: the
  name itself, else ``<name>-<id8>``, ``<name>-<id8>-2``... (``candidate_outputs``). Two
  jobs never get one output; ``beach/b1`` and ``city/b1`` are two names.
- A store shared by several processes also *claims* the job for the caller (a lease) and
  refuses a job another live process holds (``JobClaimedError``).
- ``update`` is durable once it returns. ``submitting`` with the ``external_task_id`` is
  written *before* the create is sent; a job found ``submitting`` is reconciled by that id,
  never created blindly again (``Submitter.first_id``).
- ``salt`` seeds the external ids (``external_id_for``): the same job in the same store
  always gets the same id, so even a lost record cannot make it billed twice. A new store's
  salt is ``default_salt(folder)`` unless one is given; once set it never changes.
- ``committed_units`` sums the units of every job in a ``COMMITTED`` state: the billed
  ``units`` where known, else the ``cost`` counted when its create went out.
  ``committed_spend`` splits the same jobs by how they were paid (``Spend``): the money
  ``charged`` per ``currency`` of those billed in cash, the units of the others.
- Records outlive the store object: a store opened again finds every record as it was.
- Both stores carry ``SCHEMA_VERSION`` and refuse one written by a newer version.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Protocol

import attrs

from ..states import JOB_STATES

#: The version of the records' layout, kept by both stores (the journal's ``user_version``,
#: the Redis store's ``meta`` hash). 2: generation and cost columns, relative outputs.
#: 3: ``charged`` and ``currency`` (money a task was billed in cash).
SCHEMA_VERSION = 3
#: How many names a claim tries before it gives up (each taken by a file or a job).
MAX_CLAIM_TRIES = 1000
#: What a download leaves beside a video while it is being written.
_PARTS = ("", ".part", ".part.json")
_STATE_WORDS = frozenset(JOB_STATES)


@attrs.frozen
class JobRecord:
    job_id: str
    name: str
    kind: str
    #: A ``JobState`` word.
    state: str
    external_task_id: str | None
    task_id: str | None
    #: The video's path, relative to the output folder (sub-folders kept).
    output: str | None
    error: str | None
    units: float | None
    attempts: int
    #: How many times the job was created anew after a failed task (part of its external id).
    generation: int = 0
    #: The units counted against ``max_units`` when its create went out.
    cost: float | None = None
    #: Money the task was billed in cash (``Task.cost``), in ``currency``; None when it was
    #: billed in units or is not billed yet.
    charged: float | None = None
    currency: str | None = None


#: Fields ``update`` may change, besides the state: every ``JobRecord`` field but the
#: job's identity, name, kind and output (set when it is claimed).
UPDATE_FIELDS = frozenset(field.name for field in attrs.fields(JobRecord)) - {
    "job_id",
    "name",
    "kind",
    "state",
    "output",
}


@attrs.frozen
class Spend:
    """What the jobs whose create went out (or may have) spent, by how they were paid:
    ``units`` of those not billed in cash (billed where known, else the estimate counted
    when sent) and ``cash``, the money charged per currency of those billed in cash (``""``:
    a charge whose currency the server did not name, as the legacy API's)."""

    units: float = 0.0
    cash: dict[str, float] = attrs.field(factory=dict)

    def add(self, record: JobRecord) -> Spend:
        """This spend with one committed job's added."""
        if record.charged is not None:
            cash = dict(self.cash)
            code = record.currency or ""  # the legacy API does not name the currency
            cash[code] = cash.get(code, 0.0) + record.charged
            return Spend(self.units, cash)
        units = record.units if record.units is not None else (record.cost or 0.0)
        return Spend(self.units + units, self.cash)


class JobStore(Protocol):
    #: The output folder the records' relative ``output`` paths are under.
    folder: Path
    #: Seeds the external ids; set by ``open``.
    salt: str

    async def open(self, *, salt: str | None = None) -> JobStore:
        """Make the store usable (lock, connect, read the salt); raises ``JournalError``."""
        ...

    async def close(self) -> None: ...

    async def committed_units(self) -> float: ...

    async def committed_spend(self) -> Spend:
        """The committed jobs' spend: money charged per currency, units of the others."""
        ...

    async def get_or_claim(
        self, job_id: str, name: str, kind: str, suffix: str = ".mp4"
    ) -> JobRecord: ...

    async def update(self, job_id: str, state: str, **fields: Any) -> None: ...

    async def has(self, job_id: str) -> bool:
        """Whether the store holds a record of ``job_id`` (claims nothing)."""
        ...

    async def task_owner(self, external_task_id: str) -> str | None:
        """The job (its content identity) whose task was recorded under ``external_task_id``;
        None when no record has a task under it. Off the hot path: asked only before a task
        found by a caller's external id is taken for a job."""
        ...


def default_salt(folder: Path) -> str:
    """The salt of a new store: from the output folder's absolute path, so that a store lost
    and started again for the same folder derives the same external ids (and the server
    finds the tasks the lost one created)."""
    return hashlib.sha256(f"kling-async:{folder.resolve()}".encode()).hexdigest()[:16]


def inside(folder: Path, relative: str) -> bool:
    """True when ``relative`` names a path inside ``folder`` (no absolute path, no ``..``)."""
    path = Path(relative)
    return not path.is_absolute() and ".." not in path.parts and relative not in ("", ".")


def candidate_outputs(job_id: str, name: str, suffix: str) -> Iterator[str]:
    """The outputs a claim tries, in order: ``<name><suffix>``, ``<name>-<id8><suffix>``,
    ``<name>-<id8>-2<suffix>``... (``MAX_CLAIM_TRIES`` of them)."""
    for n in range(MAX_CLAIM_TRIES):
        tail = "" if n == 0 else f"-{job_id[:8]}" + ("" if n == 1 else f"-{n}")
        yield f"{name}{tail}{suffix}"


def on_disk(folder: Path, output: str) -> bool:
    """True when a file (or a download's part file) already stands at ``output``. Blocking."""
    return any(os.path.lexists(folder / f"{output}{extra}") for extra in _PARTS)


def check_update(state: str, fields: dict[str, Any]) -> None:
    """Raises ``ValueError`` for a state that is not a ``JobState`` or an unknown field."""
    if state not in _STATE_WORDS:
        raise ValueError(f"state: {state!r} is not one of {[str(s) for s in JOB_STATES]}")
    unknown = set(fields) - UPDATE_FIELDS
    if unknown:
        raise ValueError(f"fields: unknown {sorted(unknown)}")
