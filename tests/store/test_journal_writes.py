"""The journal's writes: claims and updates made at the same time share a transaction, and one
that fails is undone alone."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from kling_async.errors import JournalError
from kling_async.states import JobState
from kling_async.store import MAX_CLAIM_TRIES, Journal


async def test_claims_and_updates_made_together_share_transactions(tmp_path: Path) -> None:
    journal = await Journal(tmp_path / "j.db").open()
    try:
        opened = journal.transactions
        records = await asyncio.wait_for(
            asyncio.gather(
                *(journal.get_or_claim(f"job-{i}", "same", "image2video") for i in range(200))
            ),
            30,
        )
        claims = journal.transactions - opened
        await asyncio.wait_for(
            asyncio.gather(*(journal.update(f"job-{i}", JobState.SUBMITTING) for i in range(200))),
            30,
        )
        updates = journal.transactions - opened - claims
    finally:
        await journal.close()
    assert claims <= 5, claims  # one commit a claim had made a C=1000 first wave take 1.25 s
    assert updates <= 5, updates
    # in one transaction, each claim still sees the names the others took
    assert len({r.output for r in records}) == 200
    assert records[0].output == "same.mp4"
    rows = sqlite3.connect(tmp_path / "j.db").execute("SELECT state, output FROM jobs").fetchall()
    assert len(rows) == 200
    assert {state for state, _ in rows} == {JobState.SUBMITTING}
    assert len({output for _, output in rows}) == 200


async def test_a_claim_that_fails_is_undone_alone(tmp_path: Path) -> None:
    path = tmp_path / "j.db"
    journal = await Journal(path).open()
    await journal.get_or_claim("bad", "bad", "image2video")
    await journal.close()
    db = sqlite3.connect(path)
    with db:  # written by something else: a path outside the folder, which gets a new name
        db.execute("UPDATE jobs SET output = '../elsewhere.mp4' WHERE job_id = 'bad'")
    # ... but every name it could get is taken by a file: its claim refuses
    for n in range(MAX_CLAIM_TRIES):
        tail = "" if n == 0 else "-bad" + ("" if n == 1 else f"-{n}")
        (tmp_path / f"bad{tail}.mp4").touch()
    journal = await Journal(path).open()
    try:
        results = await asyncio.wait_for(
            asyncio.gather(
                *(journal.get_or_claim(f"job-{i}", f"n{i}", "image2video") for i in range(10)),
                journal.get_or_claim("bad", "bad", "image2video"),
                *(journal.get_or_claim(f"job-{i}", f"n{i}", "image2video") for i in range(10, 20)),
                return_exceptions=True,
            ),
            30,
        )
    finally:
        await journal.close()
    assert isinstance(results[10], JournalError)
    good = results[:10] + results[11:]
    assert [r.output for r in good] == [f"n{i}.mp4" for i in range(20)]  # type: ignore[union-attr]
    rows = dict(db.execute("SELECT job_id, output FROM jobs").fetchall())
    assert rows.pop("bad") == "../elsewhere.mp4"  # its own write (output NULL) was undone
    assert rows == {f"job-{i}": f"n{i}.mp4" for i in range(20)}
    db.close()


async def test_updates_need_no_savepoint_and_claims_get_one_each(tmp_path: Path) -> None:
    """A claim may refuse (no free name) and must be undone alone: a savepoint each. An
    update is one statement that never refuses: a savepoint around it would be two more
    statements (and two more GIL hand-backs) on the journal's thread for nothing."""
    journal = await Journal(tmp_path / "j.db").open()
    statements: list[str] = []
    try:
        await asyncio.gather(*(journal.get_or_claim(f"job-{i}", f"n{i}", "x") for i in range(3)))
        journal.trace(statements.append)  # runs on the journal's thread
        await asyncio.wait_for(
            asyncio.gather(
                *(
                    journal.update(f"job-{i}", JobState.SUBMITTED, task_id=f"t{i}")
                    for i in range(3)
                ),
                journal.get_or_claim("job-9", "n9", "x"),
            ),
            30,
        )
        journal.trace(None)
    finally:
        await journal.close()
    savepoints = [s for s in statements if s.startswith("SAVEPOINT")]
    updates = [s for s in statements if s.startswith("UPDATE jobs SET task_id")]
    assert len(updates) == 3
    assert len(savepoints) == 1  # the claim's alone


async def test_any_other_error_undoes_the_whole_transaction(tmp_path: Path) -> None:
    journal = await Journal(tmp_path / "j.db").open()
    await journal.get_or_claim("job-1", "one", "image2video")
    try:
        results = await asyncio.wait_for(
            asyncio.gather(
                journal.update("job-1", JobState.SUBMITTING, external_task_id="ext-1"),
                # a value SQLite cannot store: the statement fails inside the transaction
                journal.update("job-1", JobState.SUBMITTED, task_id=object()),
                return_exceptions=True,
            ),
            30,
        )
    finally:
        await journal.close()
    assert [type(r) for r in results] == [JournalError, JournalError]
    db = sqlite3.connect(tmp_path / "j.db")
    # the update before it in the same transaction was not committed either
    assert db.execute("SELECT state, external_task_id FROM jobs").fetchall() == [
        (JobState.PENDING, None)
    ]
    db.close()


async def test_a_cancelled_callers_write_is_still_made(tmp_path: Path) -> None:
    journal = await Journal(tmp_path / "j.db").open()
    await journal.get_or_claim("job-1", "one", "image2video")
    writer = asyncio.create_task(
        journal.update("job-1", JobState.SUBMITTING, external_task_id="ext-1")
    )
    await asyncio.sleep(0)  # queued
    writer.cancel()
    with pytest.raises(asyncio.CancelledError):
        await writer
    await journal.close()  # waits for the writes already queued
    db = sqlite3.connect(tmp_path / "j.db")
    assert db.execute("SELECT state, external_task_id FROM jobs").fetchall() == [
        (JobState.SUBMITTING, "ext-1")
    ]
    db.close()


async def test_a_job_that_goes_right_costs_five_journal_writes(
    start_emulator: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Claim, submitting (before the POST), submitted (task id), finished (units), done: each
    write is a hop to the journal's thread (~0.1 ms of CPU; with none at all a uniform batch
    took 0.55 ms less a job). A 'downloading' write between finished and done said nothing a
    rerun needs."""
    import kling_async as kling

    from .._helpers import fast_client, png

    states: list[str] = []
    update = Journal.update

    async def counted(self: Journal, job_id: str, state: str, **fields: Any) -> None:
        states.append(state)
        await update(self, job_id, state, **fields)

    claims = [0]
    claim = Journal.get_or_claim

    async def counted_claim(self: Journal, *args: Any, **kwargs: Any) -> Any:
        claims[0] += 1
        return await claim(self, *args, **kwargs)

    monkeypatch.setattr(Journal, "update", counted)
    monkeypatch.setattr(Journal, "get_or_claim", counted_claim)
    emu, _ = await start_emulator()
    images = []
    for i in range(6):
        path = tmp_path / f"img{i}.png"
        path.write_bytes(png(400, 300, (i * 40, 90, 90)))
        images.append(kling.ImageToVideo(image=path, prompt="p"))
    poll = kling.PollPolicy(min_interval=0.05, max_interval=1.0)
    async with fast_client(emu) as client:
        outcomes = await asyncio.wait_for(
            _collect(client.batch(images, output_dir=tmp_path / "out", poll=poll)), 60
        )
    assert [o.status for o in outcomes] == [kling.OutcomeStatus.SUCCEEDED] * 6
    assert claims[0] == 6
    written = [JobState.SUBMITTING, JobState.SUBMITTED, JobState.FINISHED, JobState.DONE]
    assert sorted(states) == sorted(written * 6)


async def _collect(batch: Any) -> list[Any]:
    return [o async for o in batch]
