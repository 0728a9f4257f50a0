"""Tasks, accounts and their limits: the emulator's state, advanced lazily by the clock.

A task's status is a function of time (submitted -> processing -> succeed | failed), so nothing
ticks: each request first *settles* the tasks that ended, freeing their slots, refunding failed
tasks' units and adding their durations to the counters.
"""

from __future__ import annotations

import hashlib
import heapq
import json
import random
from collections.abc import Mapping
from typing import Any

import attrs

from ._config import FAILURE_MESSAGES, Account, EmulatorConfig
from ._errors import Rejection, invalid
from ._rules import TaskSpec
from ._stats import Stats

FINAL = ("succeed", "failed")


@attrs.define(eq=False)
class EmuTask:
    """One task with its whole future already drawn: when it starts processing and how it ends."""

    task_id: str
    account: str
    spec: TaskSpec
    created: float
    processing_at: float
    ends_at: float
    outcome: str
    status_msg: str
    units: float
    video_id: str
    video_seconds: float
    settled: bool = False

    def status(self, now: float) -> str:
        if now >= self.ends_at:
            return self.outcome
        return "processing" if now >= self.processing_at else "submitted"

    def updated(self, now: float) -> float:
        if now >= self.ends_at:
            return self.ends_at
        return self.processing_at if now >= self.processing_at else self.created

    def body(self, now: float, base_url: str) -> dict[str, Any]:
        """The task object exactly as the legacy API shapes it (milliseconds, strings)."""
        status = self.status(now)
        body: dict[str, Any] = {
            "task_id": self.task_id,
            "task_status": status,
            "task_status_msg": self.status_msg if status == "failed" else "",
            "task_info": {"external_task_id": self.spec.external_task_id or ""},
            "created_at": int(self.created * 1000),
            "updated_at": int(self.updated(now) * 1000),
            "final_unit_deduction": _units(self.units) if status == "succeed" else "0",
        }
        if status == "succeed":
            url = f"{base_url}/__files__/{self.video_id}.mp4"
            body["task_result"] = {
                "videos": [
                    {
                        "id": self.video_id,
                        "url": url,
                        "watermark_url": f"{base_url}/__files__/{self.video_id}-wm.mp4",
                        "duration": f"{self.video_seconds:.1f}",
                    }
                ]
            }
        elif status == "failed":
            body["task_result"] = {}
        return body


def _units(value: float) -> str:
    return f"{value:g}"


def content_key(body: Mapping[str, Any]) -> str:
    """What makes two creates "the same request": every field but the ids a retry may change."""
    same = {k: v for k, v in body.items() if k not in ("external_task_id", "callback_url")}
    return hashlib.sha256(json.dumps(same, sort_keys=True, default=str).encode()).hexdigest()


@attrs.define
class AccountState:
    account: Account
    units_left: float | None
    running: list[tuple[float, int, EmuTask]] = attrs.Factory(list)
    by_kind: dict[str, list[EmuTask]] = attrs.Factory(dict)
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
        self.accounts = {
            a.access_key: AccountState(account=a, units_left=a.units) for a in self.config.accounts
        }

    def state_of(self, account: Account) -> AccountState:
        state = self.accounts.get(account.access_key)
        if state is None:  # an account added to the config while running
            state = self.accounts[account.access_key] = AccountState(account, account.units)
        return state

    def settle(self, now: float) -> None:
        """Finish every task whose end has passed: free its slot, count it, refund a failure."""
        for state in self.accounts.values():
            while state.running and state.running[0][0] <= now:
                _, _, task = heapq.heappop(state.running)
                self._finish(state, task)

    def _finish(self, state: AccountState, task: EmuTask) -> None:
        task.settled = True
        held = task.ends_at - task.created
        self.stats.duration_sum += held
        self.stats.duration_max = max(self.stats.duration_max, held)
        if task.outcome == "succeed":
            self.stats.tasks_succeeded += 1
            self.stats.units_charged += task.units
        else:
            self.stats.tasks_failed += 1
            if state.units_left is not None:
                state.units_left += task.units  # failed tasks are not charged

    def create(
        self, account: Account, spec: TaskSpec, body: Mapping[str, Any], now: float
    ) -> EmuTask:
        """Admit a task (slot, units, unique external id) or raise the matching rejection."""
        self.settle(now)
        state = self.state_of(account)
        if spec.external_task_id is not None and spec.external_task_id in state.by_external:
            raise invalid(
                f"external_task_id: {spec.external_task_id!r} is already used by task "
                f"{state.by_external[spec.external_task_id].task_id} (unique per account)"
            )
        limit = account.concurrency_limit
        if limit is not None and len(state.running) >= limit:
            raise Rejection(
                429, 1303, f"Parallel task limit exceeded: {len(state.running)} of {limit} in use"
            )
        cost = self.config.unit_cost(spec.model, spec.mode, spec.duration)
        if state.units_left is not None:
            if state.units_left < cost:
                raise Rejection(
                    429,
                    1102,
                    f"Resource pack used up: {_units(state.units_left)} units left, "
                    f"this task needs {_units(cost)}",
                )
            state.units_left -= cost
        task = self._draw(account, spec, now, cost)
        key = content_key(body)
        if key in state.seen_content:
            self.stats.duplicate_creates += 1
        state.seen_content.add(key)
        self.tasks[task.task_id] = task
        self.videos[task.video_id] = task
        state.by_kind.setdefault(spec.kind, []).append(task)
        if spec.external_task_id is not None:
            state.by_external[spec.external_task_id] = task
        self._seq += 1
        heapq.heappush(state.running, (task.ends_at, self._seq, task))
        self.stats.creates += 1
        self.stats.max_in_flight = max(self.stats.max_in_flight, len(state.running))
        return task

    def _draw(self, account: Account, spec: TaskSpec, now: float, cost: float) -> EmuTask:
        cfg, rng = self.config, self.rng
        if cfg.duration_fn is not None:
            seconds = cfg.duration_fn(rng, spec.model, spec.mode, spec.duration)
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
            units=cost,
            video_id=f"{rng.getrandbits(64):016x}",
            video_seconds=frames / cfg.fps,
        )

    def find(self, account: Account, kind: str, ident: str) -> EmuTask | None:
        task = self.tasks.get(ident)
        if task is None or task.account != account.access_key:
            task = self.state_of(account).by_external.get(ident)
        if task is None or task.spec.kind != kind:
            return None
        return task

    def page(self, account: Account, kind: str, page_num: int, page_size: int) -> list[EmuTask]:
        """One page of the account's tasks of one kind, newest first."""
        tasks = self.state_of(account).by_kind.get(kind, [])
        end = len(tasks) - (page_num - 1) * page_size
        start = max(0, end - page_size)
        return list(reversed(tasks[start:end])) if end > 0 else []
