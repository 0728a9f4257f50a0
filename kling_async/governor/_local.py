"""``LocalGovernor``: this process alone keeps the account's limits (the default)."""

from __future__ import annotations

from typing import Unpack

from .._clock import SYSTEM_CLOCK, Clock
from ._pacer import Pacer
from ._protocol import PacerOptions, WindowOptions
from ._window import ConcurrencyWindow


class LocalGovernor:
    """This process alone: a ``Pacer`` per client and a fresh ``ConcurrencyWindow`` per
    family (per batch, and one per client for ``generate()``). The default."""

    def pacer(
        self, account: str, *, clock: Clock | None = None, **options: Unpack[PacerOptions]
    ) -> Pacer:
        return Pacer(clock=(clock or SYSTEM_CLOCK).monotonic, **options)

    def window(
        self, account: str, family: str, **options: Unpack[WindowOptions]
    ) -> ConcurrencyWindow:
        return ConcurrencyWindow(**options)

    def attach(self) -> None:
        pass

    async def detach(self) -> None:
        pass

    def __repr__(self) -> str:
        return "LocalGovernor()"
