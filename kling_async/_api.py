"""What the namespaces need of a client: ``ClientAPI``, a protocol ``KlingClient`` keeps.

The resources (``client.image_to_video``, ``client.tasks``...) and the money path see the
client only through this: its settings, its clock, and ``request`` — never the transport
(openai-python's resources keep ``client.get``/``client.post`` the same way). Typing them
against a protocol instead of ``KlingClient`` keeps the import graph one-way:
``client`` imports ``resources``, which import this.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Protocol, Unpack

from ._auth import TokenSource
from ._clock import Clock
from ._http import RequestOptions
from ._retry import RetryPolicy
from ._waiting import WaitPolicy
from .governor import Window
from .results import Task, Video


class ClientAPI(Protocol):
    #: The wire requests go out on by default: ``auto``, ``legacy`` or ``new``.
    api: str
    #: Send models newer than the capability map unchecked.
    allow_unknown_models: bool
    #: The time waits and back-offs run on.
    clock: Clock
    #: How ``wait`` polls by default.
    wait_policy: WaitPolicy
    #: The credentials' token source (``has_api_key`` says whether the new API is open).
    tokens: TokenSource

    @property
    def retry(self) -> RetryPolicy:
        """How queries (and, after reconciling, creates) are retried."""
        ...

    async def request(self, method: str, path: str, **options: Unpack[RequestOptions]) -> Any:
        """Send one logical request; return the answer's ``data`` (``Transport.request``)."""
        ...

    async def sleep(self, seconds: float) -> None:
        """Wait on the client's clock (a ``VirtualClock`` in tests)."""
        ...

    def window(self, family: str) -> Window:
        """The concurrency window of a model family."""
        ...

    async def download(
        self,
        task: Task | Video | str,
        dest: str | os.PathLike[str],
        *,
        index: int = 0,
        max_bytes: int = ...,
        fresh: bool = False,
    ) -> Path:
        """Stream a task's video to ``dest``."""
        ...
