"""The emulator's counters: what tests and benchmarks read to prove exactly-once and count polls."""

from __future__ import annotations

from array import array
from collections import Counter
from typing import Any

import attrs


@attrs.define
class Stats:
    """Counters since start or the last reset; ``as_dict()`` is what the stats endpoint serves."""

    requests: int = 0
    create_requests: int = 0
    creates: int = 0
    #: Creates accepted whose content (body less external_task_id and callback_url) was seen before.
    duplicate_creates: int = 0
    #: Legacy ``GET /v1/videos/<kind>/<id>`` calls.
    single_queries: int = 0
    #: List pages: legacy ``GET /v1/videos/<kind>`` and new ``POST /tasks`` (cursor) alike.
    list_queries: int = 0
    #: New-wire ``GET /tasks`` calls, and the ids they asked for in total.
    batch_queries: int = 0
    batch_query_ids: int = 0
    account_queries: int = 0
    #: Error answers by Kling code (1302 and 1303 are the 429s a scheduler cares about).
    errors_by_code: Counter[int] = attrs.Factory(Counter)
    faults_injected: Counter[str] = attrs.Factory(Counter)
    downloads: int = 0
    bytes_served: int = 0
    callbacks_sent: int = 0
    #: Deliveries given up, including those refused for their host (also counted below).
    callbacks_failed: int = 0
    #: Callback URLs whose host (and port) the config does not allow: never called.
    callbacks_refused: int = 0
    tasks_succeeded: int = 0
    tasks_failed: int = 0
    #: Sum and maximum of finished tasks' durations (create to end: the time each held a slot).
    duration_sum: float = 0.0
    duration_max: float = 0.0
    #: The drawn duration of every task created (accepted creates only), in creation order,
    #: ended or not: what a benchmark needs to replay the run's schedule. 8 bytes a task.
    durations: array[float] = attrs.Factory(lambda: array("d"))
    #: When each of those tasks was created (the emulator's clock, seconds), same order: how
    #: long a client took to fill the account's slots. 8 bytes a task.
    created: array[float] = attrs.Factory(lambda: array("d"))
    #: Most tasks one account held at once in one model family (the limit applies per family).
    max_in_flight: int = 0
    max_in_flight_by_family: dict[str, int] = attrs.Factory(dict)
    units_charged: float = 0.0
    #: Money charged when billing in cash (after the discount), in the config's currency.
    cash_charged: float = 0.0
    #: Requests by route, e.g. "POST /image-to-video/kling-2.6", "GET /tasks",
    #: "GET /v1/videos/image2video/{id}".
    requests_by_route: Counter[str] = attrs.Factory(Counter)

    def note_in_flight(self, family: str, held: int) -> None:
        """An account now holds ``held`` tasks of ``family``: keep the maxima."""
        self.max_in_flight = max(self.max_in_flight, held)
        by_family = self.max_in_flight_by_family
        by_family[family] = max(by_family.get(family, 0), held)

    def clear(self) -> None:
        """Back to zero, in place (the store and the callbacks hold this very object)."""
        fresh = Stats()
        for field in attrs.fields(Stats):
            setattr(self, field.name, getattr(fresh, field.name))

    def as_dict(self) -> dict[str, Any]:
        arrays = ("durations", "created")
        out = attrs.asdict(self, filter=lambda field, _: field.name not in arrays)
        out["durations"] = [round(seconds, 4) for seconds in self.durations]
        first = self.created[0] if self.created else 0.0
        out["created"] = [round(at - first, 4) for at in self.created]
        out["errors_by_code"] = {str(k): v for k, v in sorted(self.errors_by_code.items())}
        out["faults_injected"] = dict(sorted(self.faults_injected.items()))
        out["requests_by_route"] = dict(sorted(self.requests_by_route.items()))
        out["max_in_flight_by_family"] = dict(sorted(self.max_in_flight_by_family.items()))
        out["rate_limited_1302"] = self.errors_by_code[1302]
        out["concurrency_limited_1303"] = self.errors_by_code[1303]
        out["tasks_finished"] = self.tasks_succeeded + self.tasks_failed
        return out
