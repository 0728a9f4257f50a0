"""One contract, two stores: every test here runs on the SQLite journal and on the Redis job
store (a real ``redis-server``), and expects the same of both (see ``kling_async.store``'s
``_contract`` docstring): claims, output names with their sub-folders, every state
transition, committed units, the salt and external ids, records that outlive the store
object, the schema version, and the read-only snapshot ``kling-async report`` shows."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from kling_async.batch import external_id_for
from kling_async.errors import JobClaimedError, JournalError, JournalLockedError
from kling_async.states import COMMITTED, JOB_STATES, JobState
from kling_async.store import (
    SCHEMA_VERSION,
    JobStore,
    Journal,
    RedisJobStore,
    Spend,
    StoreSnapshot,
    default_salt,
    read_journal,
    read_redis,
)

from .._redis_server import RedisServer

pytestmark = pytest.mark.timeout(60)
KIND = "image2video"


def ids(n: int) -> str:
    return str(n) * 64


class Backend:
    """Opens a store of one kind on ``folder``, and reads what only that kind can show."""

    kind = ""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.opened: list[JobStore] = []

    def make(self, owner: str = "w1") -> JobStore:
        raise NotImplementedError

    async def open(self, *, salt: str | None = None, owner: str = "w1") -> JobStore:
        store = await self.make(owner).open(salt=salt)
        self.opened.append(store)
        return store

    async def reopen(self, store: JobStore, *, salt: str | None = None) -> JobStore:
        await store.close()
        return await self.open(salt=salt)

    async def schema(self) -> int:
        raise NotImplementedError

    async def write_output(self, job_id: str, output: str) -> None:
        """Write a job's output as something else than this SDK might have."""
        raise NotImplementedError

    async def write_schema(self, version: int) -> None:
        raise NotImplementedError

    def snapshot(self) -> StoreSnapshot:
        raise NotImplementedError

    async def close(self) -> None:
        for store in self.opened:
            await store.close()


class SqliteBackend(Backend):
    kind = "sqlite"

    @property
    def path(self) -> Path:
        return self.folder / ".kling-journal.db"

    def make(self, owner: str = "w1") -> JobStore:
        return Journal(self.path, self.folder)

    async def schema(self) -> int:
        with sqlite3.connect(self.path) as db:
            version = int(db.execute("PRAGMA user_version").fetchone()[0])
        db.close()
        return version

    async def write_schema(self, version: int) -> None:
        db = sqlite3.connect(self.path)
        db.execute(f"PRAGMA user_version = {version}")
        db.close()

    def snapshot(self) -> StoreSnapshot:
        return read_journal(self.path)

    async def write_output(self, job_id: str, output: str) -> None:
        db = sqlite3.connect(self.path)
        with db:
            db.execute("UPDATE jobs SET output = ? WHERE job_id = ?", (output, job_id))
        db.close()


class RedisBackend(Backend):
    kind = "redis"

    def __init__(self, folder: Path, server: RedisServer) -> None:
        super().__init__(folder)
        self.url = server.url

    def make(self, owner: str = "w1") -> JobStore:
        return RedisJobStore(self.url, self.folder, owner=owner, lease=5.0)

    async def _meta(self, write: dict[str, str] | None = None) -> dict[str, str]:
        from redis import asyncio as aioredis

        client = aioredis.Redis.from_url(self.url, decode_responses=True)
        try:
            if write:
                await client.hset("kling:default:meta", mapping=write)  # type: ignore[misc]
            return await client.hgetall("kling:default:meta")  # type: ignore[no-any-return,misc]
        finally:
            await client.aclose()

    async def schema(self) -> int:
        return int((await self._meta())["schema"])

    async def write_schema(self, version: int) -> None:
        await self._meta({"schema": str(version)})

    def snapshot(self) -> StoreSnapshot:
        return read_redis(self.url, self.folder)

    async def write_output(self, job_id: str, output: str) -> None:
        from redis import asyncio as aioredis

        client = aioredis.Redis.from_url(self.url)
        try:
            await client.hset(f"kling:default:job:{job_id}", "output", output)  # type: ignore[misc]
        finally:
            await client.aclose()


@pytest.fixture(params=["sqlite", "redis"])
async def backend(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Backend]:
    folder = tmp_path / "out"
    folder.mkdir()
    if request.param == "sqlite":
        chosen: Backend = SqliteBackend(folder)
    else:
        chosen = RedisBackend(folder, request.getfixturevalue("redis_server"))
    try:
        yield chosen
    finally:
        await chosen.close()


# -- claims and names ----------------------------------------------------------------------
async def test_a_new_job_is_recorded_pending_with_its_name(backend: Backend) -> None:
    store = await backend.open()
    record = await store.get_or_claim(ids(1), "cat", KIND)
    assert (record.job_id, record.name, record.kind) == (ids(1), "cat", KIND)
    assert record.state == JobState.PENDING
    assert record.output == "cat.mp4"
    assert (record.external_task_id, record.task_id, record.error, record.units) == (None,) * 4
    assert (record.attempts, record.generation, record.cost) == (0, 0, None)
    again = await store.get_or_claim(ids(1), "another name", KIND)
    assert again == record  # known: its record as it is, the name it owns kept


async def test_has_tells_a_recorded_job_and_claims_nothing(backend: Backend) -> None:
    store = await backend.open()
    assert not await store.has(ids(1))
    assert not await store.has(ids(1))  # asking twice did not claim it
    await store.get_or_claim(ids(1), "cat", KIND)
    assert await store.has(ids(1))
    assert not await store.has(ids(2))
    record = await store.get_or_claim(ids(2), "cat", KIND)
    assert record.output == "cat-22222222.mp4"  # has() left no claim on ids(2)'s name


async def test_two_jobs_never_get_one_output(backend: Backend) -> None:
    folder = backend.folder
    (folder / "dog.mp4").write_bytes(b"not ours")  # an unrelated file has the name
    (folder / "fox.mp4.part").write_bytes(b"")  # a download under way has it
    (folder / "owl-44444444.mp4").write_bytes(b"")  # even the second choice is taken
    store = await backend.open()
    claimed = await asyncio.gather(
        store.get_or_claim(ids(1), "cat", KIND),
        store.get_or_claim(ids(2), "cat", KIND),
        store.get_or_claim(ids(3), "dog", KIND),
        store.get_or_claim(ids(5), "fox", KIND),
    )
    outputs = sorted(r.output or "" for r in claimed)
    # claimed at the same time: which cat comes first is the store's choice
    assert outputs == ["cat-11111111.mp4", "cat.mp4", "dog-33333333.mp4", "fox-55555555.mp4"] or (
        outputs == ["cat-22222222.mp4", "cat.mp4", "dog-33333333.mp4", "fox-55555555.mp4"]
    )
    owl = await store.get_or_claim(ids(6), "owl", KIND)
    owl2 = await store.get_or_claim(ids(4), "owl", KIND)
    assert (owl.output, owl2.output) == ("owl.mp4", "owl-44444444-2.mp4")


async def test_sub_folders_are_kept_and_same_names_in_two_do_not_collide(
    backend: Backend,
) -> None:
    store = await backend.open()
    beach = await store.get_or_claim(ids(1), "beach/b1", KIND)
    city = await store.get_or_claim(ids(2), "city/b1", KIND)
    top = await store.get_or_claim(ids(3), "b1", KIND)
    twin = await store.get_or_claim(ids(4), "beach/b1", KIND)
    assert [beach.output, city.output, top.output, twin.output] == [
        "beach/b1.mp4",
        "city/b1.mp4",
        "b1.mp4",
        "beach/b1-44444444.mp4",
    ]
    (backend.folder / "deep" / "er").mkdir(parents=True)
    (backend.folder / "deep" / "er" / "x.mp4").write_bytes(b"not ours")
    deep = await store.get_or_claim(ids(5), "deep/er/x", KIND)
    assert deep.output == "deep/er/x-55555555.mp4"


async def test_an_output_outside_the_folder_is_never_used_the_job_gets_a_new_one(
    backend: Backend,
) -> None:
    store = await backend.open()
    await store.get_or_claim(ids(1), "cat", KIND)
    await store.update(ids(1), JobState.SUBMITTED, task_id="t1")
    store = await backend.reopen(store)
    await backend.write_output(ids(1), "../elsewhere.mp4")
    record = await store.get_or_claim(ids(1), "cat", KIND)
    assert record.output == "cat.mp4"  # the name it was given is its own still
    assert (record.state, record.task_id) == (JobState.SUBMITTED, "t1")
    assert (await store.get_or_claim(ids(1), "cat", KIND)).output == record.output
    other = await store.get_or_claim(ids(2), "cat", KIND)
    assert other.output not in (record.output, None)


async def test_a_job_another_holder_has_is_refused(backend: Backend) -> None:
    """One holder at a time: the journal is one run's (a second run is refused at open), a
    Redis store's job is one worker's (another worker is refused the job)."""
    first = await backend.open(owner="w1")
    await first.get_or_claim(ids(1), "cat", KIND)
    if backend.kind == "sqlite":
        with pytest.raises(JournalLockedError):
            await backend.make("w2").open()
    else:
        second = await backend.open(owner="w2")
        with pytest.raises(JobClaimedError) as refused:
            await second.get_or_claim(ids(1), "cat", KIND)
        assert refused.value.holder == "w1"


# -- states --------------------------------------------------------------------------------
async def test_every_state_transition_is_recorded(backend: Backend) -> None:
    store = await backend.open()
    ext = external_id_for(store.salt, ids(1), 0)
    steps: list[tuple[JobState, dict[str, Any]]] = [
        (JobState.SUBMITTING, {"external_task_id": ext, "attempts": 1, "cost": 5.0}),
        (JobState.SUBMITTED, {"task_id": "t-1"}),
        (JobState.FINISHED, {"units": 4.5}),
        (JobState.DONE, {}),
    ]
    await store.get_or_claim(ids(1), "cat", KIND)
    for state, fields in steps:
        await store.update(ids(1), state, **fields)
        record = await store.get_or_claim(ids(1), "cat", KIND)
        assert record.state == state
    assert (record.external_task_id, record.task_id, record.units, record.cost) == (
        ext,
        "t-1",
        4.5,
        5.0,
    )
    assert (record.attempts, record.output) == (1, "cat.mp4")
    # failed (then created anew under its next generation), and invalid
    await store.get_or_claim(ids(2), "dog", KIND)
    await store.update(ids(2), JobState.FAILED, error="task failed: content policy")
    failed = await store.get_or_claim(ids(2), "dog", KIND)
    assert (failed.state, failed.error) == (JobState.FAILED, "task failed: content policy")
    await store.update(ids(2), JobState.SUBMITTING, generation=1, error=None)
    again = await store.get_or_claim(ids(2), "dog", KIND)
    assert (again.state, again.generation, again.error) == (JobState.SUBMITTING, 1, None)
    await store.get_or_claim(ids(3), "owl", KIND)
    await store.update(ids(3), JobState.INVALID, error="too small")
    assert (await store.get_or_claim(ids(3), "owl", KIND)).state == JobState.INVALID


@pytest.mark.parametrize("state", JOB_STATES)
async def test_every_state_word_is_kept_as_written(backend: Backend, state: JobState) -> None:
    store = await backend.open()
    await store.get_or_claim(ids(1), "cat", KIND)
    await store.update(ids(1), state)
    store = await backend.reopen(store)
    assert (await store.get_or_claim(ids(1), "cat", KIND)).state == state


async def test_an_unknown_state_or_field_is_refused_and_nothing_written(
    backend: Backend,
) -> None:
    store = await backend.open()
    await store.get_or_claim(ids(1), "cat", KIND)
    with pytest.raises(ValueError, match="state"):
        await store.update(ids(1), "succeed")
    with pytest.raises(ValueError, match="unknown"):
        await store.update(ids(1), JobState.SUBMITTED, colour="red")
    assert (await store.get_or_claim(ids(1), "cat", KIND)).state == JobState.PENDING


# -- units, salt, records, schema --------------------------------------------------------
async def test_committed_units_count_every_create_that_went_out(backend: Backend) -> None:
    store = await backend.open()
    assert await store.committed_units() == 0
    # one job per state: units where billed, else the cost counted when it went out
    for n, state in enumerate(JOB_STATES, 1):
        await store.get_or_claim(ids(n), f"job{n}", KIND)
        fields: dict[str, Any] = {"cost": 10.0 * n}
        if state in (JobState.FINISHED, JobState.DONE):
            fields["units"] = 1.0 * n
        await store.update(ids(n), state, **fields)
    expected = sum(
        (1.0 * n if state in (JobState.FINISHED, JobState.DONE) else 10.0 * n)
        for n, state in enumerate(JOB_STATES, 1)
        if state in COMMITTED
    )
    assert await store.committed_units() == expected
    store = await backend.reopen(store)
    assert await store.committed_units() == expected  # across runs
    assert backend.snapshot().units_committed() == expected  # as `report` counts them


async def test_committed_spend_splits_cash_charges_from_units(backend: Backend) -> None:
    store = await backend.open()
    assert await store.committed_spend() == Spend()
    await store.get_or_claim(ids(1), "units", KIND)
    await store.update(ids(1), JobState.FINISHED, cost=2.0, units=1.5)
    await store.get_or_claim(ids(2), "cash", KIND)
    await store.update(ids(2), JobState.DONE, cost=2.0, units=0.0, charged=0.25, currency="USD")
    await store.get_or_claim(ids(3), "legacy cash", KIND)
    await store.update(ids(3), JobState.FINISHED, cost=2.0, units=0.0, charged=0.5)
    await store.get_or_claim(ids(4), "sent", KIND)
    await store.update(ids(4), JobState.SUBMITTING, cost=3.0)
    await store.get_or_claim(ids(5), "refused", KIND)
    await store.update(ids(5), JobState.FAILED, cost=3.0, charged=9.0, currency="USD")
    expected = Spend(units=4.5, cash={"USD": 0.25, "": 0.5})
    assert await store.committed_spend() == expected
    store = await backend.reopen(store)
    assert await store.committed_spend() == expected  # across runs
    assert backend.snapshot().spend() == expected  # as `report` counts them


async def test_the_task_owner_of_an_external_id_is_the_job_its_task_was_recorded_for(
    backend: Backend,
) -> None:
    store = await backend.open()
    for n in (1, 2, 3):
        await store.get_or_claim(ids(n), f"job{n}", KIND)
    await store.update(ids(1), JobState.DONE, external_task_id="shared", task_id="t-1")
    await store.update(ids(2), JobState.SUBMITTING, external_task_id="shared")  # no task
    await store.update(ids(3), JobState.SUBMITTED, external_task_id="other", task_id="t-3")
    assert await store.task_owner("shared") == ids(1)
    assert await store.task_owner("other") == ids(3)
    assert await store.task_owner("nobody's") is None


async def test_the_salt_is_set_once_and_derives_the_same_external_ids(backend: Backend) -> None:
    store = await backend.open()
    assert store.salt == default_salt(backend.folder)
    first = external_id_for(store.salt, ids(1), 0)
    store = await backend.reopen(store, salt="another")  # set once: never changed
    assert store.salt == default_salt(backend.folder)
    assert external_id_for(store.salt, ids(1), 0) == first
    assert external_id_for(store.salt, ids(1), 1) != first


async def test_a_salt_given_to_a_new_store_is_kept(backend: Backend) -> None:
    store = await backend.open(salt="s3cr3t-salt")
    assert store.salt == "s3cr3t-salt"
    store = await backend.reopen(store)
    assert store.salt == "s3cr3t-salt"


async def test_records_outlive_the_store_object(backend: Backend) -> None:
    store = await backend.open()
    await store.get_or_claim(ids(1), "beach/b1", KIND)
    await store.update(ids(1), JobState.SUBMITTED, external_task_id="e", task_id="t", attempts=2)
    before = await store.get_or_claim(ids(1), "beach/b1", KIND)
    store = await backend.reopen(store)
    assert await store.get_or_claim(ids(1), "beach/b1", KIND) == before
    assert (await store.get_or_claim(ids(2), "beach/b1", KIND)).output == "beach/b1-22222222.mp4"


async def test_both_keep_the_schema_version_and_refuse_a_newer_one(backend: Backend) -> None:
    store = await backend.open()
    await store.get_or_claim(ids(1), "cat", KIND)
    await store.close()
    assert await backend.schema() == SCHEMA_VERSION
    await backend.write_schema(SCHEMA_VERSION + 1)
    with pytest.raises(JournalError, match="newer kling-async"):
        await backend.make().open()
    with pytest.raises(JournalError, match="newer kling-async"):
        backend.snapshot()


async def test_the_snapshot_shows_what_the_store_holds(backend: Backend) -> None:
    store = await backend.open()
    await store.get_or_claim(ids(1), "beach/b1", KIND)
    await store.update(ids(1), JobState.FINISHED, task_id="t1", units=3.0)
    await store.update(ids(1), JobState.DONE)
    await store.get_or_claim(ids(2), "city/b1", KIND)
    await store.update(ids(2), JobState.FAILED, error="nope")
    await store.get_or_claim(ids(3), "x", KIND)
    snapshot = backend.snapshot()
    assert snapshot.folder == backend.folder
    assert "write to" not in snapshot.source  # read for the folder it was written for
    assert snapshot.counts() == {"pending": 1, "done": 1, "failed": 1}
    assert snapshot.units_committed() == 3.0
    by_name = {job.name: job for job in snapshot.jobs}
    assert by_name["beach/b1"].output == "beach/b1.mp4"
    assert by_name["city/b1"].output == "city/b1.mp4"
    assert by_name["city/b1"].error == "nope"
