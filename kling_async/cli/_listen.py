"""``animate --listen HOST:PORT``: the callback receiver a run owns. Its options, the rules
between them and ``--callback-url``, and the aiohttp server that verifies each callback
(``kling_async.webhooks``) and hands the task to the batch engine (``BatchEngine.notify``).

Kling signs every callback, in the legacy shape and the new one alike, once the account has a
webhook secret, and none while it has none. So: with a secret (``--webhook-secret`` or
``KLING_WEBHOOK_SECRET``) an unsigned or forged callback is refused (401) and ends nothing;
without one, ``--listen`` is refused unless ``--allow-unsigned-callbacks`` says that anyone
who reaches HOST:PORT may end jobs."""

from __future__ import annotations

import asyncio
import logging
import socket
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import click
from click.core import ParameterSource

from ..errors import WebhookError
from ..results import Task
from ._exits import EXIT_USAGE, fail
from ._options import Decorator, options

if TYPE_CHECKING:  # aiohttp's server loads only in a run that listens (every command's start)
    from aiohttp import web

log = logging.getLogger("kling_async.cli")

#: Where ``--callback-url`` takes the port ``--listen`` bound (for port 0: chosen at start).
PORT_PLACEHOLDER = "{port}"


class ListenAddress(click.ParamType[tuple[str, int]]):
    """``HOST:PORT`` (``[::1]:8080`` for IPv6; port 0: any free port), as ``(host, port)``."""

    name = "HOST:PORT"

    def convert(
        self, value: Any, param: click.Parameter | None, ctx: click.Context | None
    ) -> tuple[str, int]:
        if isinstance(value, tuple):
            return value
        text = str(value)
        host, sep, port = text.rpartition(":")
        if host.startswith("[") and host.endswith("]"):
            host = host[1:-1]
        if not sep or not host or not port.isdigit() or int(port) > 65535:
            self.fail(
                f"{text!r}: expected HOST:PORT with a port 0..65535 (0: any free port), "
                "e.g. 127.0.0.1:8080, 0.0.0.0:0 or [::1]:8080",
                param,
                ctx,
            )
        return host, int(port)


listen_options: Decorator = options(
    click.option(
        "--listen",
        type=ListenAddress(),
        default=None,
        metavar="HOST:PORT",
        help="Receive Kling's callbacks on an HTTP server this run starts there (and stops): "
        "a task ends when its verified callback comes, and polling is only a fallback (every "
        "15 s). Needs --callback-url, the URL that reaches it; port 0 takes any free port, "
        "printed at start, and {port} in --callback-url becomes it.",
    ),
    click.option(
        "--webhook-secret",
        envvar="KLING_WEBHOOK_SECRET",
        default=None,
        metavar="whsec_...",
        help="The account's webhook secret, to verify callbacks (or KLING_WEBHOOK_SECRET, "
        "which keeps it out of the process list). With it every callback must be signed.",
    ),
    click.option(
        "--allow-unsigned-callbacks",
        is_flag=True,
        help="With --listen and no webhook secret: accept unsigned callbacks (Kling signs "
        "none while the account has no secret). Anyone who reaches HOST:PORT can then end "
        "jobs.",
    ),
)


def check_listen(
    listen: tuple[str, int] | None,
    callback_url: str | None,
    secret: str | None,
    allow_unsigned: bool,
    *,
    queued: bool,
) -> None:
    """The usage rules of ``--listen`` and the options that go with it (a usage error naming
    the option, its value and the rule); never shows the secret. A secret in the environment
    without ``--listen`` is left alone (it may be there for other runs)."""
    if listen is None:
        source = click.get_current_context().get_parameter_source("webhook_secret")
        if source == ParameterSource.COMMANDLINE:
            raise click.UsageError(
                "--webhook-secret: only with --listen (it verifies the callbacks --listen "
                "receives); value not shown"
            )
        if allow_unsigned:
            raise click.UsageError("--allow-unsigned-callbacks: only with --listen")
        if callback_url is not None and PORT_PLACEHOLDER in callback_url:
            raise click.UsageError(
                f"--callback-url {callback_url}: {PORT_PLACEHOLDER} is the port --listen "
                "binds, and --listen is not given"
            )
        return
    where = shown(listen)
    if queued:
        raise click.UsageError(
            f"--listen {where}: not with --redis (the workers follow the tasks, on their machines)"
        )
    if callback_url is None:
        raise click.UsageError(
            f"--listen {where}: needs --callback-url, the URL Kling posts callbacks to that "
            f"reaches {where} (e.g. http://my-host.example:8080/kling; {PORT_PLACEHOLDER} in "
            "it becomes the port bound)"
        )
    parts = urlsplit(callback_url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise click.UsageError(
            f"--callback-url {callback_url}: must be an http:// or https:// URL (Kling "
            "requires https://)"
        )
    if listen[1] == 0 and PORT_PLACEHOLDER not in callback_url:
        raise click.UsageError(
            f"--callback-url {callback_url}: with --listen {where} the port is chosen at "
            f"start; put {PORT_PLACEHOLDER} where it goes (e.g. http://{listen[0]}:"
            f"{PORT_PLACEHOLDER}/kling), or listen on a fixed port"
        )
    if secret is None and not allow_unsigned:
        raise click.UsageError(
            f"--listen {where}: no webhook secret to verify callbacks with; give the "
            "account's (whsec_...) with --webhook-secret or KLING_WEBHOOK_SECRET. If the "
            "account has none, Kling signs nothing: --allow-unsigned-callbacks accepts "
            f"unsigned callbacks, from anyone who reaches {where}"
        )
    if secret is not None and allow_unsigned:
        raise click.UsageError(
            "--allow-unsigned-callbacks: not with a webhook secret (with one, every callback "
            "must be signed; an unsigned one is refused)"
        )
    if secret is not None:
        from ..webhooks import WebhookVerifier

        try:
            WebhookVerifier(secret)
        except WebhookError:
            raise click.UsageError(
                "--webhook-secret (or KLING_WEBHOOK_SECRET): not a usable webhook secret; "
                "expected the account's whsec_<base64> (value not shown)"
            ) from None


def shown(address: tuple[str, int]) -> str:
    host, port = address
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


TaskSink = Callable[[Task], Awaitable[Any]]


class CallbackReceiver:
    """An aiohttp server on exactly one address (the first ``HOST`` resolves to): verified
    callbacks go to the sink set by ``feed`` (the engine's ``notify``); refused ones end
    nothing and are counted. ``async with`` starts and stops it."""

    def __init__(
        self, address: tuple[str, int], secret: str | None, *, allow_unsigned: bool = False
    ) -> None:
        self.address = address
        self._sink: TaskSink | None = None
        self._secret = secret
        self._allow_unsigned = allow_unsigned
        self._runner: web.AppRunner | None = None
        self.received = 0  # verified
        self.ended = 0  # verified, and ended a task of this run
        self.refused = 0

    async def __aenter__(self) -> CallbackReceiver:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def start(self) -> None:
        """Bind and serve; a bind that fails is a usage error (exit 2), before anything is
        sent."""
        host, port = self.address
        loop = asyncio.get_running_loop()
        try:
            found = await loop.getaddrinfo(
                host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
            )
            family, kind, proto, _, where = found[0]
            sock = socket.socket(family, kind, proto)
            try:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                sock.bind(where)
            except BaseException:
                sock.close()
                raise
        except OSError as exc:
            fail(
                f"--listen {shown(self.address)}: cannot listen there ({exc.strerror or exc})",
                "choose another port (0: any free one) or a host of this machine",
                EXIT_USAGE,
            )
        self.address = (host, sock.getsockname()[1])
        from aiohttp import web

        from ..webhooks import webhook_handler

        handle = webhook_handler(self._on_task, self._secret, allow_unsigned=self._allow_unsigned)

        async def counted(request: web.Request) -> web.Response:
            response = await handle(request)
            if response.status >= 400:
                self.refused += 1
                log.warning("callback refused (%d): %s", response.status, response.text)
            return response

        app = web.Application()
        app.router.add_post("/{tail:.*}", counted)  # whatever path a proxy forwards to
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        await web.SockSite(self._runner, sock).start()

    def feed(self, sink: TaskSink) -> None:
        """Where verified tasks go from now on (the engine's ``notify``)."""
        self._sink = sink

    def callback_url(self, template: str) -> str:
        """``--callback-url`` with ``{port}`` made the port bound."""
        return template.replace(PORT_PLACEHOLDER, str(self.address[1]))

    async def _on_task(self, task: Task) -> None:
        self.received += 1
        if self._sink is not None and await self._sink(task):
            self.ended += 1

    async def close(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    def summary(self) -> str:
        return (
            f"callbacks: {self.received} verified ({self.ended} ended a task), "
            f"{self.refused} refused"
        )
