"""Running the emulator: in the caller's event loop, in a thread of its own, or until a signal."""

from __future__ import annotations

import asyncio
import contextlib
import signal
import ssl
import threading
from collections.abc import Callable, Coroutine
from types import TracebackType
from typing import Any, Self, TypeVar

import attrs
from aiohttp import web

from .._clock import SYSTEM_CLOCK, Clock
from ._app import EmulatorState, build_app
from ._config import EmulatorConfig

T = TypeVar("T")


def _ssl_context(config: EmulatorConfig) -> ssl.SSLContext | None:
    if config.tls_cert is None or config.tls_key is None:
        return None
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(str(config.tls_cert), str(config.tls_key))
    return context


#: Seconds a stopping emulator gives the requests in flight before it cancels them (aiohttp's
#: default, 60 s, kept a stop waiting for an upload it had already refused to drain).
_SHUTDOWN_GRACE = 1.0


class Emulator:
    """The emulated Kling API on a real socket. ``async with Emulator() as emu: emu.url``.

    Binds ``config.host`` (127.0.0.1) on ``config.port`` (0: a free port), serves HTTPS when the
    config names a certificate and key. Keyword arguments change single config fields.
    ``clock`` (default: the system's) is the time tasks and limits run on: give it and the
    client the same ``kling_async.VirtualClock`` and tests advance time instead of sleeping.
    """

    def __init__(
        self, config: EmulatorConfig | None = None, *, clock: Clock | None = None, **changes: Any
    ) -> None:
        self.config = attrs.evolve(config or EmulatorConfig(), **changes)
        #: Its time (``VirtualClock`` in tests: tasks "take" seconds that pass in milliseconds).
        self.clock: Clock = clock or SYSTEM_CLOCK
        self.state = EmulatorState(self.config, self.clock)
        self._runner: web.AppRunner | None = None
        self._url: str | None = None

    @property
    def url(self) -> str:
        """The base URL to give a client (``KLING_BASE_URL``), e.g. ``http://127.0.0.1:38211``."""
        if self._url is None:
            raise RuntimeError("Emulator.url: the emulator is not started (use 'async with')")
        return self._url

    @property
    def credentials(self) -> dict[str, str]:
        """The environment a client needs to reach this emulator as its first account."""
        account = self.config.accounts[0]
        env = {
            "KLING_BASE_URL": self.url,
            "KLING_ACCESS_KEY": account.access_key,
            "KLING_SECRET_KEY": account.secret_key,
        }
        if account.api_keys:
            env["KLING_API_KEY"] = account.api_keys[0]
        return env

    async def start(self) -> Self:
        """Bind and serve; ``url`` is known afterwards (``async with`` does it for you)."""
        if self._runner is not None:
            return self
        runner = web.AppRunner(
            build_app(self.state),
            access_log=None,
            handle_signals=False,
            shutdown_timeout=_SHUTDOWN_GRACE,
        )
        await runner.setup()
        context = _ssl_context(self.config)
        site = web.TCPSite(runner, self.config.host, self.config.port, ssl_context=context)
        try:
            await site.start()
        except BaseException:
            await runner.cleanup()
            raise
        self._runner = runner
        addresses = runner.addresses  # the bound sockets' names: port 0 is resolved here
        assert addresses, "the emulator's site started without a socket"
        port = addresses[0][1]
        host = self.config.host
        host = f"[{host}]" if ":" in host else host
        self._url = f"{'https' if context else 'http'}://{host}:{port}"
        return self

    async def close(self) -> None:
        """Stop serving and cancel pending callback deliveries."""
        await self.state.callbacks.close()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> Self:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    # -- what tests and benchmarks ask of it ---------------------------------------------
    def stats(self) -> dict[str, Any]:
        """The counters, as ``GET /__emulator__/stats`` serves them."""
        return self.state.snapshot()

    def reset(self, *, everything: bool = False) -> None:
        """Zero the counters (``everything``: also forget tasks, balances and scheduled faults)."""
        self.state.reset(everything=everything)

    def inject(self, kind: str, count: int = 1, route: str | None = None) -> None:
        """Make the next ``count`` requests of ``route`` (create, query, list, account,
        download; any if None) meet fault ``kind``. Both wires' creates are "create";
        ``GET /tasks`` is a "query" and ``POST /tasks`` a "list"."""
        self.state.faults.schedule(kind, count, route)

    def clear_faults(self) -> None:
        """Drop every scheduled fault not yet met (probabilities in the config stay)."""
        self.state.faults.clear()

    async def file_bytes(self, video_id: str) -> bytes:
        """The exact bytes the result URL of ``video_id`` serves (to verify downloads)."""
        task = self.state.store.videos[video_id]
        return (await self.state.videos.content(task)).read_all()


class EmulatorThread:
    """An emulator on its own event loop in a background thread, for sync code and fixtures.

    ``with EmulatorThread() as emu: ...`` — the same accessors as ``Emulator``, safe to call
    from the caller's thread.
    """

    def __init__(self, config: EmulatorConfig | None = None, **changes: Any) -> None:
        self.emulator = Emulator(config, **changes)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._stop: asyncio.Event | None = None
        self._ready = threading.Event()
        self._error: BaseException | None = None

    @property
    def config(self) -> EmulatorConfig:
        return self.emulator.config

    @property
    def url(self) -> str:
        return self.emulator.url

    @property
    def credentials(self) -> dict[str, str]:
        return self.emulator.credentials

    def start(self, timeout: float = 10.0) -> Self:
        """Start the thread and wait until the emulator listens."""
        self._thread = threading.Thread(target=self._main, name="kling-emulator", daemon=True)
        self._thread.start()
        if not self._ready.wait(timeout):
            raise TimeoutError(f"the emulator did not start within {timeout} s")
        if self._error is not None:
            raise self._error
        return self

    def _main(self) -> None:
        async def run() -> None:
            self._loop = asyncio.get_running_loop()
            self._stop = asyncio.Event()
            try:
                await self.emulator.start()
            except BaseException as exc:
                self._error = exc
                self._ready.set()
                return
            self._ready.set()
            try:
                await self._stop.wait()
            finally:
                await self.emulator.close()

        asyncio.run(run())

    def _call(self, fn: Callable[[], Coroutine[Any, Any, T]], timeout: float = 30.0) -> T:
        assert self._loop is not None, "EmulatorThread: not started"
        return asyncio.run_coroutine_threadsafe(fn(), self._loop).result(timeout)

    def stats(self) -> dict[str, Any]:
        """The counters (see ``Emulator.stats``)."""

        async def read() -> dict[str, Any]:
            return self.emulator.stats()

        return self._call(read)

    def reset(self, *, everything: bool = False) -> None:
        """Zero the counters (see ``Emulator.reset``)."""

        async def clear() -> None:
            self.emulator.reset(everything=everything)

        self._call(clear)

    def inject(self, kind: str, count: int = 1, route: str | None = None) -> None:
        """Schedule faults (see ``Emulator.inject``)."""

        async def schedule() -> None:
            self.emulator.inject(kind, count, route)

        self._call(schedule)

    def file_bytes(self, video_id: str) -> bytes:
        """The bytes a result URL serves (see ``Emulator.file_bytes``)."""
        return self._call(lambda: self.emulator.file_bytes(video_id))

    def stop(self, timeout: float = 10.0) -> None:
        """Stop the emulator and join its thread."""
        if self._loop is not None and self._stop is not None and self._thread is not None:
            with contextlib.suppress(RuntimeError):  # the loop already ended
                self._loop.call_soon_threadsafe(self._stop.set)
            self._thread.join(timeout)
        self._thread = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


async def serve(config: EmulatorConfig, announce: Callable[[Emulator], None]) -> None:
    """Run until SIGINT or SIGTERM; ``announce`` is told once the emulator listens."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)
    async with Emulator(config) as emu:
        announce(emu)
        await stop.wait()
