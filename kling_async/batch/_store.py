"""The job store's contract: what the batch engine and the submitter ask of a journal.

Two stores keep it: the SQLite ``Journal`` (one run, one host, one output folder) and the
``RedisJobStore`` (many workers on many hosts, one shared folder). The contract, as the engine
relies on it:

- ``get_or_claim`` returns the job's record, recording a new job as ``pending`` with an output
  name no other job has. A store shared by several processes also *claims* the job for the
  caller (a lease) and refuses a job another live process holds.
- ``update`` is durable once it returns. ``submitting`` with the ``external_task_id`` is
  written *before* the create is sent; a job found ``submitting`` is reconciled by that id,
  never created blindly again (``Submitter.first_id``).
- ``salt`` seeds the external ids (``external_id_for``): the same job in the same store
  always gets the same id, so even a lost record cannot make it billed twice.
- ``committed_units`` sums the units of every job whose create went out (or may have).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Protocol

from ._journal import JobRecord, Journal


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

    async def get_or_claim(
        self, job_id: str, name: str, kind: str, suffix: str = ".mp4"
    ) -> JobRecord: ...

    async def update(self, job_id: str, state: str, **fields: Any) -> None: ...


def _sqlite_journal_keeps_the_contract(journal: Journal) -> JobStore:
    return journal  # mypy checks here that the SQLite journal is a JobStore
