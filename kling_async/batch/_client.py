"""What the batch engine needs of a client: ``BatchClient``, a protocol ``KlingClient`` keeps.

The engine and its stages see the client only through this (``ClientAPI`` and the few things
a batch adds), so ``client`` may import the batch package and the batch never imports
``client``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol

from .._api import ClientAPI

if TYPE_CHECKING:
    from ..governor import Governor, Pacing
    from ..resources import TaskResource


class BatchClient(ClientAPI, Protocol):
    #: Where the account's limits are kept (the windows the dispatcher takes slots from).
    governor: Governor
    #: The account as named in shared state.
    account_id: str
    #: The pacer every request of the client goes through (its learned rate, its 1302s).
    pacer: Pacing

    @property
    def requests_sent(self) -> int:
        """Requests the client has sent to the API."""
        ...

    def resource_for(self, kind: str) -> TaskResource[Any]:
        """The namespace that creates and queries tasks of ``kind``."""
        ...
