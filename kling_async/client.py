"""``KlingClient``: credentials, one session, and the namespaces that use them."""

from __future__ import annotations

import os
from collections.abc import AsyncIterable, Awaitable, Callable, Iterable
from pathlib import Path
from typing import Any, Generic, Self, TypeVar, Unpack, overload

import aiohttp

from ._auth import Credentials, TokenSource
from ._clock import SYSTEM_CLOCK, Clock
from ._http import RequestOptions, Timeouts, Transport, check_base_url
from ._retry import RetryPolicy
from ._waiting import WaitPolicy
from .batch import BatchRun
from .download import DEFAULT_MAX_BYTES, download
from .errors import ConfigurationError, DownloadError, ValidationError
from .governor import Governor, LocalGovernor, Pacing, Window, account_id
from .resources import (
    AccountResource,
    ElementsResource,
    ImagesResource,
    ImageToVideoResource,
    MotionControlResource,
    OmniVideoResource,
    TaskResource,
    TasksResource,
    TextToVideoResource,
    VoicesResource,
)
from .results import Task, Video
from .validation import AnyRequest

DEFAULT_BASE_URL = "https://api-singapore.klingai.com"
ENV_BASE_URL = "KLING_BASE_URL"


_Made = TypeVar("_Made")


class _Namespace(Generic[_Made]):
    """A namespace of the client (``client.images``, ...): made on first use, one a client."""

    def __init__(self, make: Callable[[KlingClient], _Made]) -> None:
        self._make = make
        self._name = ""

    def __set_name__(self, owner: type[KlingClient], name: str) -> None:
        self._name = name

    @overload
    def __get__(self, client: None, owner: type[KlingClient]) -> Self: ...
    @overload
    def __get__(self, client: KlingClient, owner: type[KlingClient]) -> _Made: ...
    def __get__(self, client: KlingClient | None, owner: type[KlingClient]) -> Self | _Made:
        if client is None:
            return self
        # kept in the client's own __dict__, which attribute lookup reads before this
        # (non-data) descriptor: the next access does not come here
        made = client.__dict__[self._name] = self._make(client)
        return made


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

    image_to_video = _Namespace(ImageToVideoResource)
    text_to_video = _Namespace(TextToVideoResource)
    omni_video = _Namespace(OmniVideoResource)
    """Omni video (``kling-3.0-omni``, ``kling-o1``; the new API)."""
    motion_control = _Namespace(MotionControlResource)
    """Motion control (``kling-2.6``, ``kling-3.0``; the new API)."""
    images = _Namespace(ImagesResource)
    """Image generation (``kling-v3``, ``kling-v2-1``) and the download of every image."""
    tasks = _Namespace(TasksResource)
    """The new API's task queries: ``GET /tasks`` (20 ids a call) and the cursor list."""
    account = _Namespace(AccountResource)
    elements = _Namespace(ElementsResource)
    """Custom elements: create (from a folder of images too), get, list, presets, delete."""
    voices = _Namespace(VoicesResource)
    """Custom voices: create (from an audio URL or a video), get, list, presets, delete."""

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
        fresh: bool = False,
    ) -> Path:
        """Stream a task's video (or a ``Video``, or a URL) to ``dest``; return the path.

        Written to ``<dest>.part`` first, length-checked, then renamed: a partial file never
        stands under ``dest``. An interrupted transfer resumes with ``Range``. ``fresh=True``
        says no partial file can be at ``dest`` (the batch engine's claim on a new name), which
        saves a look for one."""
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
        return await download(self._transport, url, Path(dest), max_bytes=max_bytes, fresh=fresh)

    # -- what the namespaces, the money path and the batch engine use (``_api.ClientAPI``) --
    async def request(self, method: str, path: str, **options: Unpack[RequestOptions]) -> Any:
        """Send one logical request to the API and return its answer's ``data``: paced by the
        governor, authenticated, errors mapped to ``kling_async.errors``. The keywords are
        ``Transport.request``'s: ``kind`` (required), ``json_body=None``, ``params=None``,
        ``retry=True`` (queries: retried under ``self.retry``; False for creates: sent once)
        and ``wire="legacy"``."""
        return await self._transport.request(method, path, **options)

    async def sleep(self, seconds: float) -> None:
        """Wait ``seconds`` on the client's clock (virtual in tests)."""
        await self._transport.sleep(seconds)

    @property
    def requests_sent(self) -> int:
        """Requests this client has sent to the API (each retry counted)."""
        return self._transport.requests_sent

    def resource_for(self, kind: str) -> TaskResource[Any]:
        """The namespace that creates and queries tasks of ``kind`` (``image2video``,
        ``text2video``, ``omni_video``, ``motion_control``, ``images``): the one kind ->
        resource mapping."""
        resources: dict[str, TaskResource[Any]] = {
            ImageToVideoResource.kind: self.image_to_video,
            TextToVideoResource.kind: self.text_to_video,
            OmniVideoResource.kind: self.omni_video,
            MotionControlResource.kind: self.motion_control,
            ImagesResource.kind: self.images,
        }
        try:
            return resources[kind]
        except KeyError:
            raise ValidationError("kind", kind, f"must be one of {sorted(resources)}") from None

    def batch(
        self,
        jobs: Iterable[AnyRequest] | AsyncIterable[AnyRequest],
        output_dir: str | os.PathLike[str],
        **options: Any,
    ) -> BatchRun:
        """Run many jobs: ``async for outcome in client.batch(jobs, output_dir="videos")``.

        Jobs are pulled with back-pressure (any iterable or async iterable); a SQLite journal
        in ``output_dir`` makes a rerun skip done work and never create a job twice. Options:
        see ``BatchEngine`` (``journal``, ``max_in_flight``, ``downloads``, ``max_units``...).
        """
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

    async def __aexit__(self, *exc: object) -> None:
        await self.close()
