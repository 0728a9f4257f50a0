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
import math
import secrets
import time
from collections.abc import Iterator
from typing import Any, Self, Unpack

import attrs

from .._clock import Clock
from .._retry import backoff, retry
from ..errors import ConfigurationError
from ._lua import SCRIPTS
from ._protocol import PacerOptions, WindowOptions, hash_account
from ._redis_link import GIVE_UP_AFTER, RECONNECT, Member
from ._redis_pacer import RedisPacer
from ._redis_window import RedisWindow

log = logging.getLogger("kling_async.governor")


def _redis_module() -> Any:
    try:
        import redis.asyncio as aioredis
    except ImportError:  # pragma: no cover - the extra is part of dev
        raise ConfigurationError(
            "RedisGovernor needs the redis package: pip install 'kling-async[redis]'"
        ) from None
    return aioredis


def _seconds(lease: float) -> float:
    if not lease > 0:
        raise ConfigurationError(f"lease: {lease} must be a positive number of seconds")
    return float(lease)


@attrs.define(kw_only=True, eq=False)
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

    url: str = attrs.field(kw_only=False)
    lease: float = attrs.field(default=30.0, converter=_seconds)
    prefix: str = "kling:gov"
    account: str | None = None
    min_rate: float = 0.2
    growth: float = attrs.field(default=0.05, alias="growth_per_second")
    probe_every: int = 20
    max_probe_every: int = 640
    #: Seconds a batch's window keeps trying a Redis that does not answer.
    give_up_after: float = GIVE_UP_AFTER
    _redis: Any = attrs.field(init=False, default=None)
    _scripts: dict[str, Any] = attrs.field(init=False, factory=dict)
    _windows: set[Member] = attrs.field(init=False, factory=set)
    _listener: asyncio.Task[None] | None = attrs.field(init=False, default=None)
    _renewer: asyncio.Task[None] | None = attrs.field(init=False, default=None)
    _clients: int = attrs.field(init=False, default=0)
    _entered: bool = attrs.field(init=False, default=False)
    #: This process's lease ids: <token>:<n>.
    _token: str = attrs.field(init=False, factory=lambda: secrets.token_hex(6))
    _ids: Iterator[int] = attrs.field(init=False, factory=lambda: itertools.count(1))

    def __attrs_post_init__(self) -> None:
        _redis_module()  # a missing package is a configuration error now, not a stall later

    def __repr__(self) -> str:
        # the URL may carry a password: show only where it points
        where = self.url.split("@")[-1]
        return f"RedisGovernor({where!r}, lease={self.lease:g})"

    # -- the Governor interface --------------------------------------------------------
    def pacer(
        self,
        account: str,
        *,
        clock: Clock | None = None,  # the shared pace runs on Redis's time; sleeps on ``sleep``
        **options: Unpack[PacerOptions],
    ) -> RedisPacer:
        return RedisPacer(self, self._account(account), **options)

    def window(self, account: str, family: str, **options: Unpack[WindowOptions]) -> RedisWindow:
        return RedisWindow(self, self._account(account), family, **options)

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

    @property
    def connected(self) -> bool:
        """A connection pool is open (made on first use, dropped by ``close``)."""
        return self._redis is not None

    def key(self, *parts: str) -> str:
        return ":".join((self.prefix, *parts))

    def lease_id(self) -> str:
        return f"{self._token}:{next(self._ids)}"

    def _connection(self) -> Any:
        if self._redis is None:
            aioredis = _redis_module()
            self._redis = aioredis.from_url(self.url)
            self._scripts = {
                name: self._redis.register_script(source) for name, source in SCRIPTS.items()
            }
        return self._redis

    async def run(self, script: str, keys: list[str], args: list[Any]) -> Any:
        """Run one of ``_lua``'s scripts (EVALSHA, loaded on first use)."""
        self._connection()
        return await self._scripts[script](keys=keys, args=args)

    def register(self, window: Member) -> None:
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

    def unregister(self, window: Member) -> None:
        self._windows.discard(window)

    async def _listen(self) -> None:
        """One subscriber for every family of this prefix: a release wakes its waiters. A
        channel that fails is subscribed to again (``retry``, a second apart, with no bound:
        it runs until ``close`` cancels it)."""
        await retry(
            self._subscribed,
            retry_if=lambda exc: isinstance(exc, Exception),
            wait=lambda n, exc: backoff(n, initial=RECONNECT, cap=RECONNECT),
            deadline=math.inf,
            what="governor: the release channel",
        )

    async def _subscribed(self, attempt: int) -> None:
        """Relay the release channels' messages to the windows until the channel fails."""
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
            raise
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
