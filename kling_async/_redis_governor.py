"""``RedisGovernor``: one account's limits shared by every process that uses it, in Redis.

Several replicas of a web app, or several hosts running batches on one Kling account, each
learning their own window and pacing their own requests oversubscribe the account N-fold (a
storm of 1303s and 1302s). With ``KlingClient(governor=RedisGovernor(url))`` they share:

* per account and model family, the concurrency window: the learned limit (a 1303 lowers it
  for everyone; probing is one shared flag, so one process probes at a time) and the slots,
  held as *leases* — members of a sorted set scored by their expiry. Taking a slot is one
  Lua script (drop expired leases, compare the count with the limit, add); a holder renews
  its leases every ``lease / 3`` seconds; a release removes them. A process that dies
  (kill -9, a lost host) stops renewing, and its slots come back within ``lease`` seconds.
* per account, the request pacer: GCRA by reservation in Lua (each request gets its slot's
  time in one round trip and sleeps until then), at a rate learned from 1302 by all.

Waiting for a slot does not poll Redis hard: each release ``PUBLISH``es on the family's
channel, and one subscriber per governor wakes that family's waiters at once; between
notifications a waiter looks again after a backoff doubling from 20 ms to at most 1 s (or a
quarter of the lease), which is what finds slots freed by expiry (an expiry sends nothing).
In each process only one acquirer per window talks to Redis, however many callers wait.

The account is named in keys by a hash of its API key (or access key), never the key.
Redis must be reachable: a failing Redis fails ``generate()`` calls that wait for a slot; a
batch keeps trying (with a logged warning) and releases that fail are left to expire.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import secrets
import time
from collections import deque
from collections.abc import Awaitable, Callable
from typing import Any, Self

from . import _redis_lua as lua
from ._clock import Clock
from ._governor import hash_account
from ._pacer import PacerStats
from .errors import ConfigurationError, GovernorUnavailableError

log = logging.getLogger("kling_async.governor")

_TTL_MS = 7 * 24 * 3600 * 1000  # shared state idle this long is forgotten
_SCRIPTS = ("ACQUIRE", "ANSWERED", "HOLD", "RENEW", "RELEASE", "ACCEPTED", "OVER_LIMIT", "PACE")
_SPARE_IDLE = 1.0  # seconds a slot taken ahead for the batch dispatcher may stay unused


def _redis_module() -> Any:
    try:
        import redis.asyncio as aioredis
    except ImportError:  # pragma: no cover - the extra is part of dev
        raise ConfigurationError(
            "RedisGovernor needs the redis package: pip install 'kling-async[redis]'"
        ) from None
    return aioredis


class RedisGovernor:
    """Limits of one Kling account shared through Redis by every client that uses it.

    ``KlingClient(governor=RedisGovernor("redis://host:6379/0"))``: one line for a web app's
    replicas or several batch hosts. ``lease`` is how long a slot stays held without renewal
    (how soon a dead process's slots come back); ``prefix`` starts every key; ``account``
    names the account instead of its key (give it to share one account's limits between an
    API-key client and an access-key client). A batch whose Redis stays unreachable for
    ``give_up_after`` seconds stops with ``GovernorUnavailableError``.

    The connection pool is made on first use, in the running loop, and closed by ``close()``
    (or ``async with``); a governor handed to clients only is closed when the last of them
    closes. It is reopened if used again.
    """

    def __init__(
        self,
        url: str,
        *,
        lease: float = 30.0,
        prefix: str = "kling:gov",
        account: str | None = None,
        min_rate: float = 0.2,
        growth_per_second: float = 0.05,
        probe_every: int = 20,
        max_probe_every: int = 640,
        give_up_after: float = 60.0,
    ) -> None:
        if not lease > 0:
            raise ConfigurationError(f"lease: {lease} must be a positive number of seconds")
        _redis_module()  # a missing package is a configuration error now, not a stall later
        #: Seconds a batch's window keeps trying a Redis that does not answer.
        self.give_up_after = give_up_after
        self.url = url
        self.lease = float(lease)
        self.prefix = prefix
        self.account = account
        self.min_rate = min_rate
        self.growth = growth_per_second
        self.probe_every = probe_every
        self.max_probe_every = max_probe_every
        self._redis: Any = None
        self._scripts: dict[str, Any] = {}
        self._windows: set[RedisWindow] = set()
        self._listener: asyncio.Task[None] | None = None
        self._renewer: asyncio.Task[None] | None = None
        self._clients = 0
        self._entered = False
        self._token = secrets.token_hex(6)  # this process's lease ids: <token>:<n>
        self._ids = itertools.count(1)

    def __repr__(self) -> str:
        # the URL may carry a password: show only where it points
        where = self.url.split("@")[-1]
        return f"RedisGovernor({where!r}, lease={self.lease:g})"

    # -- the Governor interface --------------------------------------------------------
    def pacer(
        self,
        account: str,
        *,
        max_rate: float | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        clock: Clock | None = None,  # the shared pace runs on Redis's time; sleeps on ``sleep``
    ) -> RedisPacer:
        return RedisPacer(self, self._account(account), max_rate=max_rate, sleep=sleep)

    def window(
        self,
        account: str,
        family: str,
        *,
        initial: int = 4,
        cap: int | None = None,
        condition: asyncio.Condition | None = None,
    ) -> RedisWindow:
        return RedisWindow(
            self, self._account(account), family, initial=initial, cap=cap, condition=condition
        )

    def attach(self) -> None:
        self._clients += 1

    async def detach(self) -> None:
        self._clients = max(0, self._clients - 1)
        if self._clients == 0 and not self._entered:
            await self.close()

    async def __aenter__(self) -> Self:
        self._entered = True
        return self

    async def __aexit__(self, *exc: object) -> None:
        self._entered = False
        await self.close()

    async def close(self) -> None:
        """Give back every lease held here, stop the listener and renewer, close the pool."""
        for window in list(self._windows):
            await window.close()
        for task in (self._listener, self._renewer):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        self._listener = self._renewer = None
        if self._redis is not None:
            redis, self._redis = self._redis, None
            self._scripts = {}
            await redis.aclose()

    # -- plumbing ------------------------------------------------------------------------
    def _account(self, account: str) -> str:
        if self.account is not None:
            return hash_account(self.account)  # a label is hashed like a key
        return account

    def key(self, *parts: str) -> str:
        return ":".join((self.prefix, *parts))

    def lease_id(self) -> str:
        return f"{self._token}:{next(self._ids)}"

    def _connection(self) -> Any:
        if self._redis is None:
            aioredis = _redis_module()
            self._redis = aioredis.from_url(self.url)
            self._scripts = {
                name: self._redis.register_script(getattr(lua, name)) for name in _SCRIPTS
            }
        return self._redis

    async def run(self, script: str, keys: list[str], args: list[Any]) -> Any:
        """Run one of ``_redis_lua``'s scripts (EVALSHA, loaded on first use)."""
        self._connection()
        return await self._scripts[script](keys=keys, args=args)

    def register(self, window: RedisWindow) -> None:
        self._connection()
        self._windows.add(window)
        if self._listener is None or self._listener.done():
            self._listener = asyncio.get_running_loop().create_task(
                self._listen(), name="kling-governor-listener"
            )
        if self._renewer is None or self._renewer.done():
            self._renewer = asyncio.get_running_loop().create_task(
                self._renew(), name="kling-governor-renewer"
            )

    def unregister(self, window: RedisWindow) -> None:
        self._windows.discard(window)

    async def _listen(self) -> None:
        """One subscriber for every family of this prefix: a release wakes its waiters."""
        while True:
            pubsub = None
            try:
                pubsub = self._connection().pubsub()
                await pubsub.psubscribe(self.key("*", "freed"))
                for window in list(self._windows):
                    window.freed.set()  # anything missed while (re)subscribing: look again
                while True:
                    message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=5)
                    if message is None:
                        continue
                    channel = message["channel"]
                    if isinstance(channel, bytes):
                        channel = channel.decode()
                    for window in list(self._windows):
                        if window.channel == channel:
                            window.freed.set()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # Redis away: waiters fall back on their backoff
                log.warning("governor: the release channel failed (%r); resubscribing", exc)
                await asyncio.sleep(1.0)
            finally:
                if pubsub is not None:
                    with contextlib.suppress(Exception):
                        await pubsub.aclose()

    async def _renew(self) -> None:
        """Renew every lease held here every ``lease / 3`` s; give back idle spare slots."""
        tick = min(1.0, self.lease / 3)
        renewed_at = time.monotonic()
        while True:
            await asyncio.sleep(tick)
            now = time.monotonic()
            renew = now - renewed_at >= self.lease / 3 - tick / 2
            if renew:
                renewed_at = now
            for window in list(self._windows):
                try:
                    await window.tick(renew)
                except asyncio.CancelledError:
                    raise
                except Exception as exc:
                    log.warning("governor: renewing leases failed (%r)", exc)


class RedisWindow:
    """One model family's share of the account's parallel-task limit, held in Redis.

    The same steps as ``ConcurrencyWindow``; ``limit`` and ``learned`` are the shared ones as
    last seen, ``in_flight`` the slots this window holds. For the batch dispatcher,
    ``has_room`` asks for a slot ahead (one at a time) and says True once it holds one;
    ``acquire`` (``generate()``) waits for its own.
    """

    def __init__(
        self,
        governor: RedisGovernor,
        account: str,
        family: str,
        *,
        initial: int,
        cap: int | None,
        condition: asyncio.Condition | None,
    ) -> None:
        self._gov = governor
        self.family = family
        tag = "{" + f"{account}:{family}" + "}"
        self._keys = [governor.key(tag, name) for name in ("slots", "state", "answers", "pending")]
        self.channel = governor.key(tag, "freed")
        self._initial = initial
        self.cap = cap
        self._condition = condition or asyncio.Condition()
        self.limit = min(initial, cap) if cap is not None else initial
        self.learned: int | None = None
        self.in_flight = 0
        self.limited = 0
        #: Leases held for tasks (fungible: a release gives back any one of them).
        self._held: list[str] = []
        #: Held leases whose create has no answer yet (``answered`` tells Redis).
        self._unanswered: list[str] = []
        #: Leases taken ahead for the dispatcher: (id, when).
        self._spare: deque[tuple[str, float]] = deque()
        self._want_spare = False
        self._waiters: deque[asyncio.Future[str]] = deque()
        self._acquirer: asyncio.Task[None] | None = None
        self.freed = asyncio.Event()
        #: Since when taking a slot has failed (Redis unreachable), and why.
        self._failing: tuple[float, Exception] | None = None
        self._registered = False
        self._closed = False

    def __repr__(self) -> str:
        return f"RedisWindow({self.family!r}, limit={self.limit}, in_flight={self.in_flight})"

    def _seen(self, limit: Any, learned: Any) -> None:
        self.limit = int(limit)
        self.learned = None if int(learned) < 0 else int(learned)

    # -- taking a slot ------------------------------------------------------------------
    def has_room(self) -> bool:
        if self._spare:
            return True
        if self._failing is not None:
            since, exc = self._failing
            if time.monotonic() - since >= self._gov.give_up_after:
                raise GovernorUnavailableError(
                    f"Redis has not answered the shared governor for {self._gov.give_up_after:g}"
                    f" s ({exc!r})"
                ) from exc
        if self.cap is not None and self.in_flight >= self.cap:
            return False
        self._want_spare = True
        self._start_acquirer()
        return False

    def take(self) -> None:
        lease, _ = self._spare.popleft()
        self._held.append(lease)
        self._unanswered.append(lease)
        self.in_flight += 1

    async def acquire(self) -> None:
        """Wait for a slot and hold it (no create to account for: see ``reserve``)."""
        await self.reserve()
        await self.answered()

    async def reserve(self) -> None:
        """Wait for a slot for a create; call ``answered`` once the create has its answer
        (until then it counts among the creates on their way, for slow start)."""
        waiter: asyncio.Future[str] = asyncio.get_running_loop().create_future()
        self._waiters.append(waiter)
        self._start_acquirer()
        try:
            lease = await waiter
        except asyncio.CancelledError:
            if waiter.done() and not waiter.cancelled() and waiter.exception() is None:
                # handed over just as the caller gave up: spare, used or given back soon
                self._spare.append((waiter.result(), time.monotonic()))
            raise
        self._held.append(lease)
        self._unanswered.append(lease)
        self.in_flight += 1

    def _start_acquirer(self) -> None:
        if self._closed:
            return
        if not self._registered:
            self._gov.register(self)
            self._registered = True
        if self._acquirer is None or self._acquirer.done():
            self._acquirer = asyncio.get_running_loop().create_task(
                self._acquire_loop(), name=f"kling-governor-acquire-{self.family}"
            )

    def _wanted(self) -> bool:
        while self._waiters and self._waiters[0].done():
            self._waiters.popleft()  # cancelled while waiting
        return bool(self._waiters) or self._want_spare

    async def _acquire_loop(self) -> None:
        backoff = _MIN_BACKOFF
        most = min(_MAX_BACKOFF, self._gov.lease / 4)
        while self._wanted():
            self.freed.clear()
            lease = self._gov.lease_id()
            try:
                got, _, limit, learned = await self._gov.run(
                    "ACQUIRE",
                    self._keys,
                    [_TTL_MS, lease, int(self._gov.lease * 1000), self._initial],
                )
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("governor: taking a %s slot failed (%r)", self.family, exc)
                if self._failing is None:
                    self._failing = (time.monotonic(), exc)
                async with self._condition:
                    self._condition.notify_all()  # the dispatcher looks at has_room again
                while self._waiters:  # generate() callers hear of it at once
                    waiter = self._waiters.popleft()
                    if not waiter.done():
                        error = GovernorUnavailableError(
                            f"Redis did not answer the shared governor ({exc!r})"
                        )
                        error.__cause__ = exc
                        waiter.set_exception(error)
                await asyncio.sleep(1.0)  # the dispatcher's demand stays: try again
                continue
            self._failing = None
            self._seen(limit, learned)
            if got:
                backoff = _MIN_BACKOFF
                await self._hand_over(lease)
                continue
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(backoff):
                    await self.freed.wait()
            backoff = min(most, backoff * 2)

    async def _hand_over(self, lease: str) -> None:
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(lease)
                return
        if self._want_spare:
            self._want_spare = False
            self._spare.append((lease, time.monotonic()))
            async with self._condition:
                self._condition.notify_all()
            return
        await self._give_back([lease], completed=False)  # nobody wants it any more

    async def force_acquire(self) -> None:
        """A task already running on the server (resumed from a journal): counted at once."""
        lease = self._gov.lease_id()
        if not self._registered:
            self._gov.register(self)
            self._registered = True
        self._held.append(lease)
        self.in_flight += 1
        await self._quietly("HOLD", [_TTL_MS, int(self._gov.lease * 1000), lease])

    # -- what happened to the create and the task ------------------------------------------
    async def answered(self) -> None:
        """The create of a slot has its answer: it no longer counts as on its way."""
        if self._unanswered:
            await self._quietly("ANSWERED", [self._unanswered.pop(0)])

    async def accepted(self) -> None:
        result = await self._quietly("ACCEPTED", [_TTL_MS])
        if result is not None:
            self._seen(*result)

    async def release(self, *, completed: bool = True) -> None:
        if not self._held:
            return
        lease = self._held.pop()
        self.in_flight -= 1
        if lease in self._unanswered:
            self._unanswered.remove(lease)
        await self._give_back([lease], completed=completed)
        async with self._condition:
            self._condition.notify_all()

    async def over_limit(self) -> None:
        self.limited += 1
        if not self._held:
            return
        lease = self._held.pop()
        self.in_flight -= 1
        if lease in self._unanswered:
            self._unanswered.remove(lease)
        result = await self._quietly(
            "OVER_LIMIT",
            [_TTL_MS, self.channel, lease, self._gov.probe_every, self._gov.max_probe_every],
        )
        if result is not None:
            self._seen(*result)
        async with self._condition:
            self._condition.notify_all()

    async def _give_back(self, leases: list[str], *, completed: bool) -> None:
        if not leases:
            return
        result = await self._quietly(
            "RELEASE",
            [_TTL_MS, self.channel, int(completed), self._gov.probe_every, *leases],
        )
        if result is not None:
            self._seen(*result)

    async def _quietly(self, script: str, args: list[Any]) -> Any:
        """A bookkeeping step that must not fail a job: a lease left behind expires."""
        try:
            return await self._gov.run(script, self._keys, args)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            log.warning("governor: %s for %s failed (%r)", script.lower(), self.family, exc)
            return None

    # -- upkeep ---------------------------------------------------------------------------
    async def tick(self, renew: bool) -> None:
        """Give back spare slots the dispatcher left unused; renew the leases if due."""
        now = time.monotonic()
        stale = [lease for lease, at in self._spare if now - at > _SPARE_IDLE]
        if stale:
            self._spare = deque((lease, at) for lease, at in self._spare if lease not in stale)
            await self._give_back(stale, completed=False)
        leases = self._held + [lease for lease, _ in self._spare]
        if renew and leases:
            gone = await self._gov.run(
                "RENEW", self._keys, [_TTL_MS, int(self._gov.lease * 1000), *leases]
            )
            # a lease released while the renewal was on its way is gone, and rightly so
            still = set(self._held) | {lease for lease, _ in self._spare}
            lost = sum(
                1
                for lease in gone
                if (lease.decode() if isinstance(lease, bytes) else lease) in still
            )
            if lost:
                log.warning(
                    "governor: %d %s lease(s) expired before renewal (this process was paused "
                    "longer than the lease?): the account may be oversubscribed until they end",
                    lost,
                    self.family,
                )

    async def close(self) -> None:
        """Give every lease back (a batch that stops leaves its tasks to the journal)."""
        if self._closed:
            return
        self._closed = True
        if self._acquirer is not None:
            self._acquirer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._acquirer
        for waiter in self._waiters:
            waiter.cancel()
        leases = self._held + [lease for lease, _ in self._spare]
        self._held, self._spare, self._unanswered = [], deque(), []
        self.in_flight = 0
        if self._gov._redis is not None:
            await self._give_back(leases, completed=False)
        self._gov.unregister(self)


_MIN_BACKOFF = 0.02
_MAX_BACKOFF = 1.0


class RedisPacer:
    """The account's request pacer, shared through Redis (see ``_redis_lua.PACE``).

    Whether 1302s are a real share of the answers is judged here, over this process's last
    40 answers (as ``Pacer`` does); the decrease itself goes to Redis with the next request
    and counts once per episode for every process."""

    def __init__(
        self,
        governor: RedisGovernor,
        account: str,
        *,
        max_rate: float | None,
        sleep: Callable[[float], Awaitable[None]],
    ) -> None:
        self._gov = governor
        self._key = governor.key(account, "pace")
        self.max_rate = max_rate
        self._sleep = sleep
        self.rate: float | None = max_rate
        self.stats = PacerStats()
        self._answers: deque[bool] = deque(maxlen=40)
        self.limited_share = 0.25
        self.limited_minimum = 3
        self.decrease = 0.5
        #: A decrease to send with the next turn: its Retry-After in ms (-1: none).
        self._decrease: int | None = None
        self._blocked_until = 0.0

    def __repr__(self) -> str:
        return f"RedisPacer(rate={self.rate})"

    async def turn(self, priority: int = 0) -> None:
        """Wait for this request's slot in the account's shared schedule. (``priority`` orders
        waiting requests in ``Pacer``; across processes a reservation is first come.)"""
        decrease, self._decrease = self._decrease, None
        args = [
            _TTL_MS,
            self.max_rate or 0,
            self._gov.min_rate,
            self._gov.growth,
            self.decrease,
            int(decrease is not None),
            decrease if decrease is not None else -1,
        ]
        try:
            wait_ms, rate = await self._gov.run("PACE", [self._key], args)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # Redis away: go at this process's own pace
            log.warning("governor: the shared pacer failed (%r); not pacing", exc)
            wait_ms, rate = b"0", b"-1"
        value = float(rate)
        self.rate = None if value < 0 else value
        wait = max(float(wait_ms) / 1000, self._blocked_until - time.monotonic())
        if wait > 0:
            self.stats.waits += 1
            await self._sleep(wait)

    def answered(self) -> None:
        self._answers.append(False)

    def rate_limited(self, retry_after: float | None) -> None:
        self.stats.rate_limited += 1
        self._answers.append(True)
        limited = sum(self._answers)
        if limited < self.limited_minimum or limited < self.limited_share * len(self._answers):
            return  # a stray 1302: its own retry waits, the account does not slow down
        self._answers.clear()
        self._decrease = -1 if retry_after is None else int(retry_after * 1000)
        if retry_after is not None:  # this process holds back at once, the others on hearing
            self._blocked_until = max(self._blocked_until, time.monotonic() + retry_after)
