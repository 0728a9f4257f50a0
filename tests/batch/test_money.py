"""Budgets in money (#24 item 7): ``Money`` read from what a person types, units counted at
the list price ($0.14 a unit), ``max_cost`` stopping a batch as ``max_units`` does, and a
journal's cash charges counted as charged."""

from __future__ import annotations

import sqlite3
from decimal import Decimal
from pathlib import Path

import pytest

import kling_async as kling
from kling_async._cash import as_budget, money_text, units_in_money  # private: the arithmetic
from kling_async.batch._budget import Budget, spend_in_money
from kling_async.batch._outcome import Timings
from kling_async.batch._work import Work
from kling_async.store import JobRecord, Journal, Spend

from .._helpers import StartEmulator, fast_client, test_account
from .test_batch import jobs_for, make_images, run


@pytest.mark.parametrize(
    ("text", "amount", "currency"),
    [
        ("20USD", "20", "USD"),
        ("20 USD", "20", "USD"),
        ("$20", "20", "USD"),
        ("20.5usd", "20.5", "USD"),
        ("$ 0.75", "0.75", "USD"),
        ("3eur", "3", "EUR"),
    ],
)
def test_money_reads_the_forms_a_person_types(text: str, amount: str, currency: str) -> None:
    assert kling.Money.parse(text) == kling.Money(Decimal(amount), currency)


@pytest.mark.parametrize(
    ("text", "rule"),
    [
        ("-5USD", "must be >= 0"),
        ("nanUSD", "an amount and a currency code"),
        ("NaN", "an amount and a currency code"),
        ("20", "an amount and a currency code"),
        ("USD20", "an amount and a currency code"),
        ("20 dollars", "an amount and a currency code"),
        ("", "an amount and a currency code"),
    ],
)
def test_bad_money_is_refused_naming_field_value_and_rule(text: str, rule: str) -> None:
    with pytest.raises(kling.ValidationError) as caught:
        kling.Money.parse(text)
    assert caught.value.field == "max_cost"
    assert caught.value.value == text
    assert rule in caught.value.rule


def test_money_built_in_code_is_checked_too() -> None:
    with pytest.raises(kling.ValidationError, match="finite"):
        kling.Money(Decimal("NaN"), "USD")
    with pytest.raises(kling.ValidationError, match="3-letter"):
        kling.Money(Decimal(1), "dollars")
    assert kling.Money(2, "usd") == kling.Money(Decimal(2), "USD")


def test_units_in_money_at_the_list_price() -> None:
    assert units_in_money(12.5) == kling.Money(Decimal("1.75"), "USD")
    assert units_in_money(1.5).amount == Decimal("0.21")
    assert str(units_in_money(12.5)) == "$1.75"
    assert money_text(Decimal("1200"), "USD") == "$1,200.00"
    assert money_text(0.0035, "USD") == "$0.0035"
    assert money_text(3.5, "EUR") == "3.50 EUR"


def test_a_budget_in_another_currency_is_refused() -> None:
    with pytest.raises(kling.ValidationError) as caught:
        as_budget("20EUR")
    assert "no currency is converted" in caught.value.rule
    with pytest.raises(kling.ValidationError) as caught:
        kling.batch.BatchOptions(max_cost="20 EUR")
    assert caught.value.field == "max_cost"
    assert kling.batch.BatchOptions(max_cost="$20").max_cost == kling.Money(20, "USD")


def test_a_journal_charged_in_another_currency_is_refused() -> None:
    spend = Spend(units=10.0, cash={"USD": 1.0, "": 0.5})
    assert spend_in_money(spend, kling.Money(20, "USD")) == Decimal("2.9")
    with pytest.raises(kling.ValidationError, match="records charges in EUR"):
        spend_in_money(Spend(cash={"EUR": 1.0}), kling.Money(20, "USD"))


def _record(**fields: object) -> JobRecord:
    base: dict[str, object] = {"job_id": "j", "name": "n", "kind": "i2v", "state": "finished"}
    base |= {"external_task_id": None, "task_id": None, "output": None, "error": None}
    base |= {"units": None, "attempts": 0}
    return JobRecord(**(base | fields))  # type: ignore[arg-type]


def _work(name: str) -> Work:
    job = kling.ImageToVideo(image="https://example.com/a.png")
    return Work(job=job, job_id=name, name=name, record=_record(job_id=name), timings=Timings(0.0))


def test_both_budgets_hold_and_what_was_not_created_goes_back() -> None:
    budget = Budget(10.0, lambda job: 2.0, kling.Money(Decimal("0.60"), "USD"))
    first, second, third = _work("a"), _work("b"), _work("c")
    assert budget.charge(first, already=False) is None
    assert budget.charge(second, already=False) is None
    refused = budget.charge(third, already=False)  # 0.56 + 0.28 > 0.60; units 6 <= 10
    assert refused is not None
    assert refused.kind == "max_cost"
    assert refused.budget
    assert str(refused).startswith("max_cost $0.60 reached ($0.56 committed")
    budget.uncharge(second)
    assert budget.spent == Decimal("0.28")
    assert budget.charge(third, already=False) is None
    units_first = Budget(3.0, lambda job: 2.0, kling.Money(100, "USD"))
    assert units_first.charge(first, already=False) is None
    refused = units_first.charge(second, already=False)
    assert refused is not None
    assert refused.kind == "max_units"


async def test_max_cost_stops_a_batch_at_its_budget(
    start_emulator: StartEmulator, tmp_path: Path
) -> None:
    # kling-v2-6 std 5 s: 1.5 units = $0.21 a job; $0.50 allows two
    emu, _ = await start_emulator(test_account(), video_bytes=1000)
    paths = make_images(tmp_path / "in", 5)
    async with fast_client(emu) as client:
        capped, summary = await run(client, jobs_for(paths), tmp_path / "a", max_cost="0.5USD")
        assert [o.status.value for o in capped].count("succeeded") == 2
        assert sum("max_cost $0.50 reached" in str(o.error) for o in capped) == 3
        assert summary.cash == {}  # billed in units
        # a rerun counts what the journal committed: nothing more fits
        again, _ = await run(client, jobs_for(paths), tmp_path / "a", max_cost="0.5USD")
        assert sum("$0.42 committed" in str(o.error) for o in again) == 3
    assert emu.stats()["creates"] == 2


@pytest.mark.parametrize(("api", "code"), [("legacy", ""), ("new", "USD")])
async def test_cash_charges_are_recorded_and_counted_as_charged(
    start_emulator: StartEmulator, tmp_path: Path, api: str, code: str
) -> None:
    emu, _ = await start_emulator(
        test_account(balance=100.0), video_bytes=1000, billing="cash", cash_discount=0.5
    )
    paths = make_images(tmp_path / "in", 2)
    out = tmp_path / "out"
    async with fast_client(emu, api=api) as client:
        outcomes, summary = await run(client, jobs_for(paths), out, max_cost="$1")
    assert [o.status.value for o in outcomes] == ["succeeded"] * 2
    # 2 x $0.21 list, half off ("": the legacy API does not name the currency)
    assert summary.cash == {code: Decimal("0.21")}
    journal = await Journal(out / ".kling-journal.db").open()
    try:
        spend = await journal.committed_spend()
        assert await journal.committed_units() == 0.0  # paid in cash: no units taken
    finally:
        await journal.close()
    assert spend.cash == {code: pytest.approx(0.21)}
    assert spend.units == 0.0
    snapshot = kling.store.read_journal(out / ".kling-journal.db")
    assert snapshot.spend().cash == {code: pytest.approx(0.21)}


async def test_a_schema_2_journal_opens_and_gains_the_money_columns(tmp_path: Path) -> None:
    path = tmp_path / ".kling-journal.db"
    journal = await Journal(path).open()
    await journal.get_or_claim("j1", "sub/one", "image2video")
    await journal.close()
    with sqlite3.connect(path) as db:  # as kling-async wrote it before: schema 2
        db.execute("ALTER TABLE jobs DROP COLUMN charged")
        db.execute("ALTER TABLE jobs DROP COLUMN currency")
        db.execute("PRAGMA user_version = 2")
    journal = await Journal(path).open()
    try:
        record = await journal.get_or_claim("j1", "sub/one", "image2video")
        assert record.output == "sub/one.mp4"  # sub-folders kept (not a 0.1 journal)
        await journal.update("j1", "finished", units=0.0, charged=0.5, currency="USD")
        assert (await journal.committed_spend()).cash == {"USD": 0.5}
    finally:
        await journal.close()
    assert sqlite3.connect(path).execute("PRAGMA user_version").fetchone()[0] == 3


def test_spend_adds_a_record_by_how_it_was_paid() -> None:
    spend = Spend().add(_record(units=2.0)).add(_record(cost=1.5))
    spend = spend.add(_record(units=0.0, charged=0.3, currency="USD"))
    assert spend == Spend(units=3.5, cash={"USD": 0.3})


async def test_charges_in_another_currency_stop_a_money_budget(
    start_emulator: StartEmulator, tmp_path: Path
) -> None:
    emu, _ = await start_emulator(test_account(), video_bytes=1000, billing="cash", currency="EUR")
    paths = make_images(tmp_path / "in", 4)
    out = tmp_path / "out"
    async with fast_client(emu, api="new") as client:
        outcomes, summary = await run(client, jobs_for(paths), out, max_cost="$10", max_in_flight=1)
        assert set(summary.cash) == {"EUR"}
        refused = [o for o in outcomes if "charged this run's tasks in EUR" in str(o.error)]
        assert refused  # once the account was seen to charge in EUR, nothing more was created
        assert emu.stats()["creates"] == 4 - len(refused)
        # the next run knows it from the journal before anything is sent
        with pytest.raises(kling.ValidationError, match="records charges in EUR"):
            await run(client, jobs_for(paths), out, max_cost="$10")
    assert emu.stats()["creates"] == 4 - len(refused)
