"""Tasks, accounts and their limits: the emulator's state, advanced lazily by the clock.

A task's status is a function of time (submitted -> processing -> succeed | failed), so nothing
ticks: each request first *settles* the tasks that ended, freeing their slots, refunding failed
tasks' units and adding their durations to the counters.

Tasks of both wires live in one store. The legacy queries (``/v1/videos/<kind>/<id>`` and the
legacy list) see only legacy tasks of their kind; the new wire's ``GET /tasks`` and ``POST
/tasks`` are account-wide, as the vendor's batch query is, and show tasks of both wires in the
new shape. Parallel tasks are counted per account x model family (``_models.family_of``; image
tasks per image model, each holding ``n`` slots). Charges come from the pack (units) or, when
the config bills in cash, from the balance; a failed task is refunded either way.
"""

from __future__ import annotations

import hashlib
import heapq
import json
import random
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import attrs

from ._config import FAILURE_MESSAGES, Account, EmulatorConfig, draw_from_mix
from ._errors import Rejection, invalid
from ._prices import CASH_PER_UNIT, kind_units
from ._shared import TaskSpec
from ._stats import Stats
from ._task import NEW_STATUS, Charge, EmuTask, family, units_text

__all__ = ["NEW_STATUS", "AccountState", "EmuTask", "Store", "content_key"]


def content_key(body: Mapping[str, Any], spec: TaskSpec) -> str:
    """What makes two creates "the same request": every field but the ids a retry may change.

    On the new wire the ids sit in ``options`` and the model in the path.
    """
    retry_ids = ("external_task_id", "callback_url")
    same = {k: v for k, v in body.items() if k not in retry_ids}
    if spec.wire == "new":
        options = same.get("options")
        if isinstance(options, dict):
            same["options"] = {k: v for k, v in options.items() if k not in retry_ids}
        same = {"__path__": [spec.kind, spec.model], **same}
    return hashlib.sha256(json.dumps(same, sort_keys=True, default=str).encode()).hexdigest()


@attrs.define
class AccountState:
    account: Account
    units_left: float | None
    #: Cash left when billing in cash (None: unlimited).
    balance_left: float | None = None
    #: Units taken from the pack so far, refunds deducted (what an unlimited pack has used).
    units_spent: float = 0.0
    running: list[tuple[float, int, EmuTask]] = attrs.Factory(list)
    #: Tasks holding a slot, by model family.
    in_flight: Counter[str] = attrs.Factory(Counter)
    #: Legacy tasks by kind, oldest first (the legacy list).
    by_kind: dict[str, list[EmuTask]] = attrs.Factory(dict)
    #: Every task of both wires, oldest first (the new wire's cursor list).
    all_tasks: list[EmuTask] = attrs.Factory(list)
    by_external: dict[str, EmuTask] = attrs.Factory(dict)
    seen_content: set[str] = attrs.Factory(set)


class Store:
    """All accounts and their tasks. Not thread-safe: it lives on the emulator's event loop."""

    def __init__(self, config: EmulatorConfig, rng: random.Random, stats: Stats) -> None:
        self.config = config
        self.rng = rng
        self.stats = stats
        self.tasks: dict[str, EmuTask] = {}
        self.videos: dict[str, EmuTask] = {}
        self.accounts: dict[str, AccountState] = {}
        self._seq = 0
        self.reset_accounts()

    def reset_accounts(self) -> None:
        self.accounts = {a.access_key: _fresh(a) for a in self.config.accounts}

    def state_of(self, account: Account) -> AccountState:
        state = self.accounts.get(account.access_key)
        if state is None:  # an account added to the config while running
            state = self.accounts[account.access_key] = _fresh(account)
        return state

    def settle(self, now: float) -> None:
        """Finish every task whose end has passed: free its slot, count it, refund a failure."""
        for state in self.accounts.values():
            while state.running and state.running[0][0] <= now:
                _, _, task = heapq.heappop(state.running)
                self._finish(state, task)

    def _finish(self, state: AccountState, task: EmuTask) -> None:
        task.settled = True
        name = family(task.spec)
        state.in_flight[name] -= task.spec.count
        if state.in_flight[name] <= 0:
            del state.in_flight[name]
        held = task.ends_at - task.created
        self.stats.duration_sum += held
        self.stats.duration_max = max(self.stats.duration_max, held)
        if task.outcome == "succeed":
            self.stats.tasks_succeeded += 1
            self.stats.units_charged += task.charge.units
            self.stats.cash_charged += task.charge.amount
        else:  # failed tasks are not charged
            self.stats.tasks_failed += 1
            state.units_spent -= task.units
            if state.units_left is not None:
                state.units_left += task.units
            if state.balance_left is not None:
                state.balance_left += task.charge.amount

    def create(
        self,
        account: Account,
        spec: TaskSpec,
        body: Mapping[str, Any],
        now: float,
        key: str | None = None,
    ) -> EmuTask:
        """Admit a task (slot, units, unique external id) or raise the matching rejection.
        ``key``: the body's ``content_key`` when the caller has it already."""
        self.settle(now)
        state = self.state_of(account)
        external = spec.external_task_id
        if external is not None and external in state.by_external:
            raise invalid(
                f"external_task_id {external!r} already exists "
                f"(task {state.by_external[external].task_id}; unique per account)"
            )
        limit = account.concurrency_limit
        name = family(spec)
        held = state.in_flight[name]
        if limit is not None and held + spec.count > limit:
            asks = f"; this task needs {spec.count}" if spec.count > 1 else ""
            raise Rejection(
                429,
                1303,
                f"parallel task over resource pack limit ({held} of {limit} in use "
                f"for model family {name}{asks})",
            )
        charge = self._charge(state, spec)
        self._seq += 1
        task = self._draw(account, spec, now, charge)
        task.seq = self._seq
        key = key or content_key(body, spec)
        if key in state.seen_content:
            self.stats.duplicate_creates += 1
        state.seen_content.add(key)
        self.tasks[task.task_id] = task
        self.videos[task.video_id] = task
        if spec.wire == "legacy":
            state.by_kind.setdefault(spec.kind, []).append(task)
        state.all_tasks.append(task)
        if external is not None:
            state.by_external[external] = task
        heapq.heappush(state.running, (task.ends_at, self._seq, task))
        state.in_flight[name] += spec.count
        self.stats.creates += 1
        self.stats.durations.append(task.ends_at - task.created)
        self.stats.created.append(task.created)
        self.stats.note_in_flight(name, state.in_flight[name])
        return task

    def _charge(self, state: AccountState, spec: TaskSpec) -> Charge:
        """Price a task and take it from the pack or the balance (refunded if it fails)."""
        if spec.kind in ("image2video", "text2video"):
            units = self.config.unit_cost(
                spec.model, spec.mode, spec.duration, spec.sound, "voice" in spec.features
            )
        else:
            units = kind_units(spec)
        if self.config.billing == "cash":
            list_price = round(units * CASH_PER_UNIT[spec.product], 6)
            amount = round(list_price * (1 - self.config.cash_discount), 6)
            currency = self.config.currency
            state.balance_left = _take(
                state.balance_left, amount, 1101, "Account in arrears", currency
            )
            return Charge(units, cash=True, amount=amount, list_price=list_price, currency=currency)
        state.units_left = _take(state.units_left, units, 1102, "Resource pack used up", "units")
        state.units_spent += units
        return Charge(units)

    def _draw(self, account: Account, spec: TaskSpec, now: float, charge: Charge) -> EmuTask:
        cfg, rng = self.config, self.rng
        if cfg.duration_fn is not None:
            seconds = cfg.duration_fn(rng, spec.model, spec.mode, spec.duration)
        elif cfg.duration_mix:
            seconds = draw_from_mix(rng, cfg.duration_mix)
        else:
            seconds = rng.uniform(*cfg.duration)
        if spec.late_failure is not None:
            outcome, msg = "failed", spec.late_failure
        elif rng.random() < cfg.failure_rate:
            outcome, msg = "failed", rng.choice(FAILURE_MESSAGES)
        else:
            outcome, msg = "succeed", ""
        frames = int(int(spec.duration) * cfg.fps) + 2
        return EmuTask(
            task_id=str(rng.randrange(10**17, 10**18)),
            account=account.access_key,
            spec=spec,
            created=now,
            processing_at=now + seconds * cfg.queue_fraction,
            ends_at=now + seconds,
            outcome=outcome,
            status_msg=msg,
            charge=charge,
            video_id=f"{rng.getrandbits(64):016x}",
            video_seconds=frames / cfg.fps,
        )

    def file_task(self, file_id: str) -> EmuTask | None:
        """The task whose result file (video or image) has this id."""
        return self.videos.get(file_id)

    def find(self, account: Account, kind: str, ident: str) -> EmuTask | None:
        """A legacy task of ``kind`` by task id or external id (new-wire tasks are not found)."""
        task = self.tasks.get(ident)
        if task is None or task.account != account.access_key:
            task = self.state_of(account).by_external.get(ident)
        if task is None or task.spec.kind != kind or task.spec.wire != "legacy":
            return None
        return task

    def batch(self, account: Account, idents: Iterable[str], *, external: bool) -> list[EmuTask]:
        """The account's tasks (both wires) among ``idents``, in the order asked, each once."""
        state = self.state_of(account)
        found: list[EmuTask] = []
        for ident in idents:
            task = state.by_external.get(ident) if external else self.tasks.get(ident)
            if task is not None and task.account == account.access_key and task not in found:
                found.append(task)
        return found

    def window(
        self,
        account: Account,
        start_ms: int,
        end_ms: int,
        before_seq: int | None,
        keep: Callable[[EmuTask], bool],
        limit: int,
    ) -> tuple[list[EmuTask], bool]:
        """Newest first: up to ``limit`` tasks created in [start, end] ms, older than
        ``before_seq`` (a cursor's position), that ``keep`` accepts; and whether more follow."""
        page: list[EmuTask] = []
        for task in reversed(self.state_of(account).all_tasks):
            if before_seq is not None and task.seq >= before_seq:
                continue
            if not start_ms <= int(task.created * 1000) <= end_ms or not keep(task):
                continue
            if len(page) == limit:
                return page, True
            page.append(task)
        return page, False

    def page(self, account: Account, kind: str, page_num: int, page_size: int) -> list[EmuTask]:
        """One page of the account's legacy tasks of one kind, newest first."""
        tasks = self.state_of(account).by_kind.get(kind, [])
        end = len(tasks) - (page_num - 1) * page_size
        start = max(0, end - page_size)
        return list(reversed(tasks[start:end])) if end > 0 else []


def _take(left: float | None, need: float, code: int, short: str, unit: str) -> float | None:
    """What is left of a balance in ``unit`` (None: unlimited) once ``need`` is taken; when it
    is short, a 429 with ``code`` saying ``short``, what is left and what the task needs."""
    if left is None:
        return None
    if left < need:
        raise Rejection(
            429,
            code,
            f"{short}: {units_text(left)} {unit} left, this task needs {units_text(need)}",
        )
    return left - need


def _fresh(account: Account) -> AccountState:
    return AccountState(account=account, units_left=account.units, balance_left=account.balance)
