"""`--max-cost` and money in the summary and `report` (#24 item 7): a subprocess against the
emulator, as a user meets them."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import pytest
from click.testing import CliRunner

from kling_async.cli import main
from kling_async.emulator import EmulatorThread

from .._helpers import CLI, test_account
from .test_animate import cli, env_for, events, images, start


def report(out: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*CLI, "report", str(out), *extra],
        capture_output=True,
        text=True,
        timeout=60,
        env=env_for(None),
    )


def test_max_cost_stops_the_run_at_its_budget_and_says_so_once(tmp_path: Path) -> None:
    images(tmp_path / "in", 5)
    out = tmp_path / "out"
    with start() as emu:  # kling-v2-6 std 5 s: 1.5 units, $0.21 a video
        done = cli(tmp_path / "in", "--out", out, "--max-cost", "0.5USD", emu=emu)
        creates = emu.stats()["creates"]
    assert done.returncode == 1, done.stdout + done.stderr  # the user's budget, not an error
    assert done.stdout.count("--max-cost $0.50 reached") == 1
    assert "raise --max-cost" in done.stdout
    assert re.search(r"\| not sent +\| 3 ", done.stdout)
    assert re.search(r"units used +\| 3 units \(≈ \$0\.42\)", done.stdout)
    assert creates == 2
    shown = report(out)
    assert "units committed: 3 units (≈ $0.42)" in shown.stdout, shown.stdout


@pytest.mark.parametrize(
    ("budgets", "creates", "said"),
    [
        (("--max-units", "100", "--max-cost", "$0.25"), 1, "--max-cost $0.25 reached"),
        (("--max-units", "3", "--max-cost", "20USD"), 2, "--max-units 3 reached"),
    ],
)
def test_with_max_units_too_both_hold(
    tmp_path: Path, budgets: tuple[str, ...], creates: int, said: str
) -> None:
    images(tmp_path / "in", 4)
    with start() as emu:
        done = cli(tmp_path / "in", "--out", tmp_path / "o", *budgets, emu=emu)
        assert emu.stats()["creates"] == creates
    assert done.returncode == 1, done.stdout + done.stderr
    assert done.stdout.count(said) == 1


@pytest.mark.parametrize("api", ["legacy", "new"])
def test_a_cash_billing_run_shows_money_in_the_summary_and_report(tmp_path: Path, api: str) -> None:
    images(tmp_path / "in", 2)
    out = tmp_path / "out"
    account = test_account(concurrency_limit=4, balance=50.0)
    with start(account=account, billing="cash") as emu:
        done = cli(tmp_path / "in", "--out", out, "--plain", "--api", api, emu=emu)
        json_run = cli(tmp_path / "in", "--out", tmp_path / "j", "--json", "--api", api, emu=emu)
        charged = emu.stats()["cash_charged"]
    assert done.returncode == 0, done.stdout + done.stderr
    assert charged == pytest.approx(0.84)  # both runs: 4 x $0.21
    shown = "$0.42" if api == "new" else "0.42 (currency not named)"
    assert re.search(rf"charged in cash +\| {re.escape(shown)} ", done.stdout), done.stdout
    summary = events(json_run.stdout)[-1]
    assert summary["event"] == "summary"
    code = "USD" if api == "new" else None
    assert summary["charged"] == [{"amount": pytest.approx(0.42), "currency": code}]
    assert set(summary["units_cost"]) == {"amount", "currency"}
    text = report(out)
    assert f"charged in cash: {shown}" in text.stdout, text.stdout
    assert "units committed: 0 units (≈ $0.00)" in text.stdout  # none taken from a pack
    record = json.loads(report(out, "--json").stdout)
    assert record["charged"] == [{"amount": pytest.approx(0.42), "currency": code}]
    assert [job["charged"] for job in record["jobs"]] == [pytest.approx(0.21)] * 2


@pytest.mark.parametrize(
    ("value", "rule"),
    [
        ("-5USD", "amount must be >= 0"),
        ("nanUSD", "an amount and a currency code"),
        ("20", "an amount and a currency code"),
        ("twenty", "an amount and a currency code"),
        ("20EUR", "must be in USD"),
    ],
)
def test_bad_max_cost_is_refused_before_anything_is_sent(
    tmp_path: Path, value: str, rule: str
) -> None:
    images(tmp_path / "in", 1)
    result = CliRunner().invoke(
        main, ["animate", str(tmp_path / "in"), "--out", str(tmp_path / "o"), "--max-cost", value]
    )
    assert result.exit_code == 2
    assert "--max-cost" in result.output
    assert repr(value) in result.output
    assert rule in result.output
    assert not (tmp_path / "o").exists()


def test_the_account_balance_falls_as_the_emulator_charges(tmp_path: Path) -> None:
    images(tmp_path / "in", 2)
    with start() as emu:
        before = _account(emu)
        done = cli(tmp_path / "in", "--out", tmp_path / "o", emu=emu)
        after = _account(emu)
    assert done.returncode == 0, done.stdout + done.stderr
    assert before - after == pytest.approx(3.0)  # 2 x 1.5 units


def _account(emu: EmulatorThread) -> float:
    shown = subprocess.run(
        [*CLI, "account", "--json"], capture_output=True, text=True, timeout=60, env=env_for(emu)
    )
    assert shown.returncode == 0, shown.stdout + shown.stderr
    return float(json.loads(shown.stdout)["remaining"])


def test_the_config_file_may_set_max_cost() -> None:
    from kling_async.cli._config import KEYS

    check = KEYS["max_cost"]
    assert check("20USD") == "20USD"
    assert check("$20") == "$20"
    assert check("3EUR") is None
    assert check(20) is None  # a bare number says no currency
    assert "USD" in check.rule  # type: ignore[attr-defined]


def test_a_dry_run_estimates_in_units_and_in_money(tmp_path: Path) -> None:
    images(tmp_path / "in", 2)
    plain = cli(tmp_path / "in", "--out", tmp_path / "o", "--dry-run", emu=None)
    assert "estimated 3 units (≈ $0.42) if all succeed" in plain.stdout, plain.stdout
    as_json = cli(tmp_path / "in", "--out", tmp_path / "o", "--dry-run", "--json", emu=None)
    estimate = events(as_json.stdout)[-1]
    assert estimate["units_cost"] == {"amount": pytest.approx(0.42), "currency": "USD"}
