"""``KlingClient``: credentials, one session, and the namespaces that use them."""

from __future__ import annotations

import os
from collections.abc import AsyncIterable, Awaitable, Callable, Iterable
from functools import cached_property
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any, Self

import aiohttp

from ._auth import Credentials, TokenSource
from ._clock import SYSTEM_CLOCK, Clock
from ._http import Timeouts, Transport, check_base_url
from ._retry import RetryPolicy
from .download import DEFAULT_MAX_BYTES, download
from .errors import ConfigurationError, DownloadError
from .governor import Governor, LocalGovernor, Pacing, Window, account_id
from .models import ImageToVideo, TextToVideo
from .resources import (
    AccountResource,
    ImageToVideoResource,
    TasksResource,
    TextToVideoResource,
    WaitPolicy,
)
from .results import Task, Video

if TYPE_CHECKING:
    from .batch import BatchRun

DEFAULT_BASE_URL = "https://api-singapore.klingai.com"
ENV_BASE_URL = "KLING_BASE_URL"


class KlingClient:
    """The Kling API, awaited. ``async with KlingClient() as client: ...``

    Credentials come from the arguments, else from ``KLING_ACCESS_KEY`` + ``KLING_SECRET_KEY``
    or ``KLING_API_KEY``; the host from ``base_url`` or ``KLING_BASE_URL`` (default
    ``https://api-singapore.klingai.com``). Plain ``http://`` is accepted for loopback hosts
    only, unless ``allow_http=True``. A ``session`` you pass is used and left open; otherwise
    the client creates one inside the running loop and closes it on ``close()``.

    ``api`` picks the wire: ``"auto"`` (default) sends each model by its name — legacy names
    (``kling-v3``, ``kling-v2-6``) to the legacy ``/v1/videos/...`` API, new names
    (``kling-3.0-turbo``, ``kling-3.0``) to the new model-in-path API; ``"legacy"`` or
    ``"new"`` send every model there (names translated). A request's own ``api`` field wins.
    The new API takes only an API key: give ``api_key`` (with or without a key pair).

    ``max_answer_bytes`` caps the size of an API answer read into memory (default 16 MiB; a
    larger one is a ``ResponseFormatError``). Downloads are bounded by ``timeouts``
    (``download_total``, ``download_min_rate`` over ``download_rate_window``).

    ``clock`` (default: the system's) is the time polling, back-off, pacing and batches run
    on; tests give it and the emulator one ``VirtualClock`` so that waiting costs no real time
    (network timeouts stay on the real clock).
    """

    def __init__(
        self,
        *,
        access_key: str | None = None,
        secret_key: str | None = None,
        api_key: str | None = None,
        base_url: str | None = None,
        session: aiohttp.ClientSession | None = None,
        allow_http: bool = False,
        timeouts: Timeouts | None = None,
        retry: RetryPolicy | None = None,
        wait: WaitPolicy | None = None,
        token_ttl: float = 1800.0,
        token_refresh_margin: float = 300.0,
        allow_unknown_models: bool = False,
        api: str = "auto",
        max_rate: float | None = None,
        max_answer_bytes: int | None = None,
        sleep: Callable[[float], Awaitable[None]] | None = None,
        governor: Governor | None = None,
        clock: Clock | None = None,
    ) -> None:
        if api not in ("auto", "legacy", "new"):
            raise ConfigurationError(f"api: {api!r} must be 'auto', 'legacy' or 'new'")
        #: Which wire requests go out on by default (see the class docstring).
        self.api = api
        self.credentials = Credentials.resolve(access_key, secret_key, api_key)
        self.base_url = check_base_url(
            base_url or os.environ.get(ENV_BASE_URL) or DEFAULT_BASE_URL, allow_http
        )
        self.tokens = TokenSource(
            self.credentials, ttl=token_ttl, refresh_margin=token_refresh_margin
        )
        self.wait_policy = wait or WaitPolicy()
        #: Skip the capability map for models newer than it (they are sent unchecked).
        self.allow_unknown_models = allow_unknown_models
        #: The time waits, back-offs, the pacer and batches run on (``VirtualClock`` in tests).
        self.clock: Clock = clock or SYSTEM_CLOCK
        sleep = sleep or self.clock.sleep
        #: Where the account's limits are kept (this process, or Redis for many processes).
        self.governor: Governor = governor if governor is not None else LocalGovernor()
        #: The account as named in shared state: a hash of its key, never the key.
        self.account_id = account_id(self.credentials)
        #: The account governor's pacer, shared by every request this client makes. It
        #: learns the request-rate limit from 1302 answers; ``max_rate`` caps it from the start.
        self.pacer: Pacing = self.governor.pacer(
            self.account_id, max_rate=max_rate, sleep=sleep, clock=self.clock
        )
        #: The windows ``generate()`` takes slots from, one per model family.
        self._windows: dict[str, Window] = {}
        self.governor.attach()
        self._attached = True
        self._transport = Transport(
            self.base_url,
            self.tokens,
            session=session,
            timeouts=timeouts,
            retry=retry,
            pacer=self.pacer,
            sleep=sleep,
            max_body=max_answer_bytes,
            hold=getattr(self.clock, "hold", None),
        )

    def __repr__(self) -> str:
        return f"KlingClient(base_url={self.base_url!r}, credentials={self.credentials!r})"

    @cached_property
    def image_to_video(self) -> ImageToVideoResource:
        return ImageToVideoResource(self)

    @cached_property
    def text_to_video(self) -> TextToVideoResource:
        return TextToVideoResource(self)

    @cached_property
    def tasks(self) -> TasksResource:
        """The new API's task queries: ``GET /tasks`` (20 ids a call) and the cursor list."""
        return TasksResource(self)

    @cached_property
    def account(self) -> AccountResource:
        return AccountResource(self)

    def window(self, family: str) -> Window:
        """The concurrency window ``generate()`` calls of ``family`` share (made on first use)."""
        window = self._windows.get(family)
        if window is None:
            window = self._windows[family] = self.governor.window(self.account_id, family)
        return window

    @property
    def retry(self) -> RetryPolicy:
        return self._transport.retry

    async def download(
        self,
        task: Task | Video | str,
        dest: str | os.PathLike[str],
        *,
        index: int = 0,
        max_bytes: int = DEFAULT_MAX_BYTES,
    ) -> Path:
        """Stream a task's video (or a ``Video``, or a URL) to ``dest``; return the path.

        Written to ``<dest>.part`` first, length-checked, then renamed: a partial file never
        stands under ``dest``. An interrupted transfer resumes with ``Range``.
        """
        return await self._download(task, Path(dest), index=index, max_bytes=max_bytes)

    async def _download(
        self,
        task: Task | Video | str,
        dest: Path,
        *,
        index: int = 0,
        max_bytes: int = DEFAULT_MAX_BYTES,
        fresh: bool = False,
    ) -> Path:
        """``download``, and for the batch engine ``fresh``: no partial file can be at
        ``dest`` (see ``_download.download``), which saves a worker call."""
        if isinstance(task, Task):
            if not task.succeeded:
                raise DownloadError(f"task {task.task_id} is {task.status.value}, not succeeded")
            if not 0 <= index < len(task.videos):
                raise DownloadError(
                    f"task {task.task_id} has {len(task.videos)} video(s); no index {index}"
                )
            url = task.videos[index].url
        elif isinstance(task, Video):
            url = task.url
        else:
            url = task
        return await download(self._transport, url, dest, max_bytes=max_bytes, fresh=fresh)

    def batch(
        self,
        jobs: Iterable[ImageToVideo | TextToVideo] | AsyncIterable[ImageToVideo | TextToVideo],
        output_dir: str | os.PathLike[str],
        **options: Any,
    ) -> BatchRun:
        """Run many jobs: ``async for outcome in client.batch(jobs, output_dir="videos")``.

        Jobs are pulled with back-pressure (any iterable or async iterable); a SQLite journal
        in ``output_dir`` makes a rerun skip done work and never create a job twice. Options:
        see ``BatchEngine`` (``journal``, ``max_in_flight``, ``downloads``, ``max_units``...).
        """
        from .batch import BatchRun  # the engine imports the client: import it when used

        return BatchRun(self, jobs, Path(output_dir), options)

    async def close(self) -> None:
        """Close the session if the client created it; give back the governor's slots."""
        try:
            windows, self._windows = list(self._windows.values()), {}
            for window in windows:
                await window.close()
            if self._attached:
                self._attached = False
                await self.governor.detach()
        finally:
            await self._transport.close()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()
