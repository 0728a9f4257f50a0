"""The account governor: what paces a client's requests and bounds its tasks in flight.

Two parts, behind two small interfaces: a *pacer* (``Pacing``: ``turn`` before every
request, told of each answer and of each 1302) and, per model family, a *concurrency window*
(``Window``: a slot held from before a create until the task's end is seen; learned from
1303). ``LocalGovernor`` (the default) keeps both in this process — ``Pacer`` and
``ConcurrencyWindow``; ``RedisGovernor`` keeps them in Redis (``RedisPacer``,
``RedisWindow``), shared by every process that uses the same account.
``KlingClient(governor=...)`` picks one.
"""

from ._local import LocalGovernor
from ._pacer import Pacer
from ._protocol import (
    Governor,
    PacerOptions,
    PacerStats,
    Pacing,
    Window,
    WindowOptions,
    account_id,
    hash_account,
)
from ._redis import RedisGovernor
from ._redis_link import GIVE_UP_AFTER, RECONNECT
from ._redis_pacer import RedisPacer
from ._redis_window import RedisWindow
from ._window import ConcurrencyWindow

__all__ = [
    "GIVE_UP_AFTER",
    "RECONNECT",
    "ConcurrencyWindow",
    "Governor",
    "LocalGovernor",
    "Pacer",
    "PacerOptions",
    "PacerStats",
    "Pacing",
    "RedisGovernor",
    "RedisPacer",
    "RedisWindow",
    "Window",
    "WindowOptions",
    "account_id",
    "hash_account",
]
