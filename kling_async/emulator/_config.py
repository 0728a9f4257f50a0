"""Everything the emulator can be told: accounts, timings, limits, faults, videos."""

from __future__ import annotations

import math
import random
from collections.abc import Callable
from pathlib import Path
from typing import Literal, Protocol

import attrs

from ._models import family_of

#: Fault kinds the emulator can inject, with what each one does.
FAULT_KINDS: dict[str, str] = {
    "5000": "answer HTTP 500 with code 5000 (internal error); nothing is created",
    "5001": "answer HTTP 503 with code 5001 (maintenance); nothing is created",
    "5002": "answer HTTP 504 with code 5002 (backlog timeout); nothing is created",
    "1302": "answer HTTP 429 with code 1302 (too fast, with Retry-After: 1); nothing is created",
    "1303": "answer HTTP 429 with code 1303 (parallel limit) to a create; nothing is created",
    "drop": "close the connection before any response; nothing is created",
    "lost_create": "create the task, then close the connection before the response",
    "slow": "hold the response for `slow_seconds` before answering normally",
    "truncate": "send a result file's headers, then only part of its body, then close",
}

#: Realistic `task_status_msg` values for tasks the emulator fails at random.
FAILURE_MESSAGES: tuple[str, ...] = (
    "Image pixel is invalid",
    "Failure to pass the risk control system",
    "Internal error, please try again later",
    "Video generation failed, please try again",
)

RetryAfterMode = Literal["seconds", "date", "none", "mixed"]
BillingMode = Literal["unit", "cash"]
#: Hosts callbacks may go to unless told otherwise: this machine (any port).
LOOPBACK_HOSTS: tuple[str, ...] = ("127.0.0.1", "localhost", "::1")
#: The largest create body the emulator reads: one 50 MB image as base64 (~67 MB) and the rest.
MAX_CREATE_BODY = 96 * 1024 * 1024
#: The largest query body (``POST /tasks``) it reads.
MAX_QUERY_BODY = 64 * 1024


@attrs.define
class Account:
    """One Kling account: the credentials it accepts and the limits of its resource pack."""

    access_key: str = "demo-access-key"
    secret_key: str = attrs.field(default="demo-secret-key-0123456789abcdef0123", repr=False)
    api_keys: tuple[str, ...] = attrs.field(default=("demo-api-key",), repr=False)
    #: Parallel tasks the pack allows in EACH model family (held from submit until the task
    #: ends; kling-v3 and kling-3.0 are one family); None = no limit.
    concurrency_limit: int | None = 5
    #: Units left in the resource pack; None = unlimited. Paid tasks consume them.
    units: float | None = None
    #: Cash balance (in ``EmulatorConfig.currency``) when billing in cash; None = unlimited.
    balance: float | None = None
    name: str = "demo"


class UnitCost(Protocol):
    """Units a successful task costs: (model, mode, duration, sound, voice) -> units."""

    def __call__(
        self, model: str, mode: str | None, duration: str, sound: bool, voice: bool
    ) -> float: ...


#: Units per second by family and mode, silent and with native audio (kling.ai pricing page,
#: late 2026). 3.0-turbo always has audio; 2.6 audio is 1080p only (1.2 with voices).
_PER_SECOND: dict[str, dict[str | None, tuple[float, float]]] = {
    "3.0-turbo": {"std": (0.8, 0.8), "pro": (1.0, 1.0)},
    "3.0": {"std": (0.6, 0.9), "pro": (0.8, 1.2), "4k": (3.0, 3.0)},
    "2.6": {"std": (0.3, 1.0), "pro": (0.5, 1.0)},
    "2.5-turbo": {"std": (0.3, 0.3), "pro": (0.5, 0.5)},
}
_VOICE_PER_SECOND = 1.2  # 2.6 with voices
_MASTER_PER_SECOND = 2.0  # kling-v2-master: the old 10 units per 5 s (unconfirmed)
#: Retired models (their tasks fail and are refunded) and unknown ones: the old table, std
#: 1 unit per 5 s, pro 3.5 per 5 s.
_OLD_PER_SECOND = {"std": 0.2, "pro": 0.7}


def default_unit_cost(
    model: str, mode: str | None, duration: str, sound: bool, voice: bool
) -> float:
    """Units a successful task costs: a price per second times the duration.

    e.g. kling-v2-6 pro with sound 10 s = 10; kling-v3 4k 15 s = 45; kling-3.0-turbo 1080p
    8 s = 8; kling-2.6 1080p with voices 5 s = 6. Replace through ``EmulatorConfig.unit_cost``.
    """
    seconds = int(duration)
    family = family_of(model)
    if family in _PER_SECOND:
        silent, audio = _PER_SECOND[family].get(mode, _PER_SECOND[family]["std"])
        rate = _VOICE_PER_SECOND if voice and family == "2.6" else (audio if sound else silent)
    elif model.endswith("master"):
        rate = _MASTER_PER_SECOND
    else:
        rate = _OLD_PER_SECOND.get(mode or "std", _OLD_PER_SECOND["pro"])
    return round(rate * seconds, 6)


@attrs.define
class EmulatorConfig:
    """Knobs of the emulator. Every field may also be changed on a running emulator."""

    accounts: list[Account] = attrs.Factory(lambda: [Account()])
    host: str = "127.0.0.1"
    port: int = 0
    #: Seconds from create to end, drawn uniformly from (min, max) unless ``duration_fn`` is set.
    duration: tuple[float, float] = (1.0, 3.0)
    #: Optional draw of a task's duration: (rng, model, mode, duration in seconds as a string)
    #: -> seconds; model is the name of the wire used (kling-v2-6 or kling-2.6), mode std/pro/4k.
    duration_fn: Callable[[random.Random, str, str | None, str], float] | None = None
    #: Optional mixture of uniform durations, ((weight, min, max), ...): a task picks a component
    #: with probability weight / sum of weights, then a duration uniformly in (min, max), both
    #: with the seeded rng. Replaces ``duration`` when set (``duration_fn`` still comes first).
    #: e.g. a heavy tail: ((0.9, 1, 2), (0.1, 10, 20)).
    duration_mix: tuple[tuple[float, float, float], ...] | None = None
    #: Share of a task's duration spent in ``submitted`` before ``processing``.
    queue_fraction: float = 0.1
    #: Probability that a task ends ``failed`` with a realistic ``task_status_msg``.
    failure_rate: float = 0.0
    #: Requests per second per account before 1302; None = no rate limit.
    rate_limit: float | None = None
    #: Bucket size of the rate limit (how many requests may come at once); default max(1, rate).
    rate_burst: float | None = None
    #: How a 1302 answer carries Retry-After: seconds, an HTTP date, not at all, or mixed.
    retry_after: RetryAfterMode = "seconds"
    #: Render real H.264 mp4 files from the input image (needs PyAV; without it: the clip).
    render: bool = False
    #: When ``render`` is off: None serves a bundled sample clip (a small playable mp4) for
    #: every video; a size serves that many filler bytes instead (not playable: benchmarks).
    video_bytes: int | None = None
    fps: int = 24
    #: Longest side of a rendered video, in pixels.
    render_max_side: int = 640
    #: Seconds a result URL stays valid after its task ended (the real service: 30 days).
    url_lifetime: float = 30 * 24 * 3600.0
    #: Fault kind -> probability per eligible request (see ``FAULT_KINDS``).
    faults: dict[str, float] = attrs.Factory(dict)
    #: How long a ``slow`` fault holds a response.
    slow_seconds: float = 2.0
    #: Standard Webhooks secret (``whsec_...``) to sign callbacks with; None = unsigned.
    webhook_secret: str | None = attrs.field(default=None, repr=False)
    #: Attempts per callback delivery and the pause between them.
    callback_attempts: int = 3
    callback_retry_delay: float = 1.0
    callback_timeout: float = 5.0
    #: Hosts (``"host"``: any port) and ``"host:port"`` pairs callbacks may be delivered to;
    #: a callback URL elsewhere is accepted at create and never called (counted as failed and
    #: refused). The default is this machine: the emulator never reaches out on its own.
    callback_hosts: tuple[str, ...] = LOOPBACK_HOSTS
    #: Deliver callbacks to any host at all (overrides ``callback_hosts``).
    allow_remote_callbacks: bool = False
    #: Treat a JWT as expired (1004) once it is older than this many seconds past ``nbf``.
    token_max_age: float | None = None
    #: Model used when a legacy create names none (the legacy API's documented default,
    #: kling-v1: retired, so such a task is accepted and then fails "discontinued").
    default_model: str = "kling-v1"
    #: Units an image- or text-to-video task costs: (model, mode, duration, sound, voice) ->
    #: units (see ``UnitCost``); other kinds follow the vendor's tables (``_prices``).
    unit_cost: UnitCost = default_unit_cost
    #: "unit": charges draw on the account's resource pack (``billing[].charge_type`` "unit");
    #: "cash": on its balance, at the vendor's list price per unit less ``cash_discount``
    #: (``charge_type`` "cash" with ``currency`` and ``list_price``; legacy task objects and
    #: callbacks carry ``final_balance_deduction``).
    billing: BillingMode = "unit"
    currency: str = "USD"
    #: Share taken off the list price of a cash charge (0.2: 20% off).
    cash_discount: float = 0.0
    #: Model names the model-in-path API serves although it does not know them (e.g.
    #: "kling-4.0"), with only the checks every model of that endpoint shares.
    allow_models: tuple[str, ...] = ()
    #: Largest create body read (checked against Content-Length before reading, and while
    #: reading); larger: code 1200 (HTTP 400).
    max_body_bytes: int = MAX_CREATE_BODY
    #: Bytes of request bodies held in memory at once, all requests together; a body that does
    #: not fit waits for others to finish (so many huge uploads cannot exhaust memory).
    body_budget_bytes: int = 256 * 1024 * 1024
    #: Seed of every random draw (durations, failures, faults, ids); None = from the OS.
    seed: int | None = None
    tls_cert: Path | None = None
    tls_key: Path | None = None
    #: Seconds a custom element or voice takes to be made (``/v1/general/...``).
    asset_seconds: float = 2.0
    #: Refuse video creates naming an element id this emulator never made (by default only
    #: ids it made and then deleted are refused: the vendor's examples use ids of their own).
    strict_elements: bool = False

    def __attrs_post_init__(self) -> None:
        unknown = sorted(set(self.faults) - set(FAULT_KINDS))
        if unknown:
            raise ValueError(
                f"faults: unknown kind(s) {unknown}; known kinds are {sorted(FAULT_KINDS)}"
            )
        for kind, p in self.faults.items():
            if not 0.0 <= p <= 1.0:
                raise ValueError(f"faults[{kind!r}]: probability {p} is not within 0..1")
        low, high = self.duration
        if not 0 <= low <= high:
            raise ValueError(f"duration: {self.duration} must satisfy 0 <= min <= max")
        if self.duration_mix is not None:
            check_duration_mix(self.duration_mix)
        if not 0.0 <= self.failure_rate <= 1.0:
            raise ValueError(f"failure_rate: {self.failure_rate} is not within 0..1")
        if not 0.0 <= self.cash_discount < 1.0:
            raise ValueError(f"cash_discount: {self.cash_discount} is not within 0..1")
        if self.billing not in ("unit", "cash"):
            raise ValueError(f"billing: {self.billing!r} is not 'unit' or 'cash'")
        if (self.tls_cert is None) != (self.tls_key is None):
            raise ValueError("tls_cert and tls_key: give both or neither")


def check_duration_mix(mix: tuple[tuple[float, float, float], ...]) -> None:
    """Raise ValueError unless ``mix`` is a non-empty tuple of (weight > 0, 0 <= min <= max)."""
    if not mix:
        raise ValueError("duration_mix: give at least one (weight, min, max) component")
    for component in mix:
        if len(component) != 3:
            raise ValueError(f"duration_mix: {component!r} is not (weight, min, max)")
        weight, low, high = component
        if not (math.isfinite(weight) and weight > 0):
            raise ValueError(f"duration_mix: weight {weight} of {component!r} must be > 0")
        if not (math.isfinite(high) and 0 <= low <= high):
            raise ValueError(f"duration_mix: {component!r} must satisfy 0 <= min <= max")


def draw_from_mix(rng: random.Random, mix: tuple[tuple[float, float, float], ...]) -> float:
    """One duration from a ``duration_mix``: a component by weight, then uniform within it."""
    point = rng.random() * sum(weight for weight, _, _ in mix)
    for weight, low, high in mix:
        if point < weight:
            return rng.uniform(low, high)
        point -= weight
    _, low, high = mix[-1]  # rounding left the point past the last weight
    return rng.uniform(low, high)
