"""Which fault, if any, hits a request: drawn from probabilities or taken from a schedule."""

from __future__ import annotations

import random
from collections import deque

import attrs

from ._config import FAULT_KINDS, EmulatorConfig

#: Faults that stand in for the answer (the request is not handled at all).
REPLACING = ("5000", "5001", "5002", "1302", "1303", "drop")
#: Which route kinds each fault can hit.
_ROUTES: dict[str, frozenset[str]] = {
    "5000": frozenset({"create", "query", "list", "account"}),
    "5001": frozenset({"create", "query", "list", "account"}),
    "5002": frozenset({"create", "query", "list", "account"}),
    "1302": frozenset({"create", "query", "list", "account"}),
    "1303": frozenset({"create"}),
    "drop": frozenset({"create", "query", "list", "account"}),
    "slow": frozenset({"create", "query", "list", "account", "download"}),
    "lost_create": frozenset({"create"}),
    "truncate": frozenset({"download"}),
}


@attrs.define
class _Scheduled:
    kind: str
    route: str | None
    left: int


class Faults:
    """Decides per request. A scheduled fault is used before any probability is drawn."""

    def __init__(self, config: EmulatorConfig, rng: random.Random) -> None:
        self.config = config
        self.rng = rng
        self._schedule: deque[_Scheduled] = deque()

    def schedule(self, kind: str, count: int = 1, route: str | None = None) -> None:
        """Make the next ``count`` eligible requests (of ``route``, if given) meet ``kind``."""
        if kind not in FAULT_KINDS:
            raise ValueError(f"kind: unknown fault {kind!r}; known kinds are {sorted(FAULT_KINDS)}")
        if route is not None and route not in _ROUTES[kind]:
            raise ValueError(
                f"route: fault {kind!r} cannot hit {route!r}; it hits {sorted(_ROUTES[kind])}"
            )
        if count < 1:
            raise ValueError(f"count: {count} must be at least 1")
        self._schedule.append(_Scheduled(kind, route, count))

    def clear(self) -> None:
        self._schedule.clear()

    def draw(self, route: str) -> set[str]:
        """The faults this request meets: at most one replacing fault, plus slow/lost/truncate."""
        hits: set[str] = set()
        for item in list(self._schedule):
            if route in _ROUTES[item.kind] and (item.route in (None, route)):
                if item.kind in REPLACING and hits & set(REPLACING):
                    continue
                hits.add(item.kind)
                item.left -= 1
                if item.left == 0:
                    self._schedule.remove(item)
        for kind, p in self.config.faults.items():
            if p <= 0 or route not in _ROUTES[kind] or kind in hits:
                continue
            if kind in REPLACING and hits & set(REPLACING):
                continue
            if self.rng.random() < p:
                hits.add(kind)
        return hits
