"""One session, one request path: every aiohttp exception and every Kling envelope becomes
the SDK's own exception here, and queries are retried here under the ``RetryPolicy``."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import ipaddress
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AbstractContextManager, asynccontextmanager
from typing import Any, Literal, Required, TypedDict
from urllib.parse import urlsplit

import aiohttp
import attrs

from ._auth import TokenSource
from ._retry import RetryPolicy, parse_retry_after
from ._version import __version__
from .errors import (
    APIConnectionError,
    APIError,
    APITimeoutError,
    AuthenticationError,
    ConfigurationError,
    RateLimitError,
    ResponseFormatError,
    ServerError,
    ServerUnreachableError,
    error_for,
)
from .governor import Pacer, Pacing

RequestKind = Literal["create", "query", "list", "account"]


class RequestOptions(TypedDict, total=False):
    """The keywords of a ``request`` after its method and path, for those that pass them on
    to ``Transport.request`` (which says their defaults): ``kind`` (which timeouts, and
    whether the pacer counts a create), ``json_body``, ``params``, ``retry`` (queries) and
    ``wire`` (whose credentials)."""

    kind: Required[RequestKind]
    json_body: Any
    params: dict[str, Any] | None
    retry: bool
    wire: str


USER_AGENT = f"kling-async/{__version__}"


#: The default cap on one API answer's body (``Transport.max_body``): Kling's envelopes are
#: a few kilobytes; anything near this is hostile or broken.
MAX_ANSWER_BYTES = 16 * 1024 * 1024
_READ_PIECE = 256 * 1024


@attrs.frozen
class Timeouts:
    """Seconds per request kind, and the limits of a download.

    A download has no aiohttp total timeout (a large file may take long); instead it has
    ``download_read`` (the longest silence), ``download_total`` (the whole download, every
    resumed attempt included; None: no limit) and a floor on throughput: fewer than
    ``download_min_rate`` bytes per second over any ``download_rate_window`` seconds ends the
    attempt with a resumable ``DownloadError`` (None: no floor). A server that trickles one
    byte every few seconds never trips ``download_read``; the floor catches it.
    """

    connect: float = 10.0
    query: float = 30.0
    create: float = 120.0  # a create may carry a 10 MB image as base64
    download_read: float = 60.0
    download_total: float | None = 3600.0
    download_min_rate: float | None = 1024.0
    download_rate_window: float = 30.0

    def __attrs_post_init__(self) -> None:
        if self.download_total is not None and self.download_total <= 0:
            raise ConfigurationError(
                f"timeouts.download_total: {self.download_total} must be positive or None"
            )
        if self.download_min_rate is not None and self.download_min_rate < 0:
            raise ConfigurationError(
                f"timeouts.download_min_rate: {self.download_min_rate} must be >= 0 or None"
            )
        if self.download_rate_window <= 0:
            raise ConfigurationError(
                f"timeouts.download_rate_window: {self.download_rate_window} must be positive"
            )

    def for_kind(self, kind: RequestKind) -> aiohttp.ClientTimeout:
        """The aiohttp timeout of an API request of this kind."""
        total = self.create if kind == "create" else self.query
        return _client_timeout(total, self.connect, None)

    def for_download(self) -> aiohttp.ClientTimeout:
        """The aiohttp timeout of a download: connect and read, no total (the download
        enforces ``download_total`` and ``download_min_rate`` itself)."""
        return _client_timeout(None, self.connect, self.download_read)


@functools.lru_cache(maxsize=32)
def _client_timeout(
    total: float | None, connect: float, sock_read: float | None
) -> aiohttp.ClientTimeout:
    """One (frozen, shared) aiohttp timeout per set of figures: a request does not build
    its own."""
    return aiohttp.ClientTimeout(total=total, connect=connect, sock_read=sock_read)


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def check_base_url(base_url: str, allow_http: bool) -> str:
    """The base URL without a trailing slash; plain http only for loopback or when allowed;
    never with a user name or password in it (messages show it with the password masked)."""
    try:
        parts = urlsplit(base_url)
        parts.port  # noqa: B018  # a port that is not a number raises here, not in aiohttp
    except (ValueError, TypeError):
        raise ConfigurationError("base_url: not a URL that can be parsed") from None
    shown = _masked(base_url, parts.netloc, parts.username, parts.password)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigurationError(f"base_url: {shown!r} is not an http(s) URL")
    if parts.username is not None or parts.password is not None:
        raise ConfigurationError(
            f"base_url: {shown!r} carries a user name or password (user:password@); Kling "
            "takes credentials only as access_key/secret_key or api_key: remove them from the URL"
        )
    if parts.scheme == "http" and not allow_http and not is_loopback(parts.hostname):
        raise ConfigurationError(
            f"base_url: {shown!r} is plain http to a non-loopback host; use https, "
            "or pass allow_http=True if you really mean it"
        )
    return base_url.rstrip("/")


def _masked(url: str, netloc: str, username: str | None, password: str | None) -> str:
    """``url`` with the password of its ``user:password@`` part shown as ``***``; a URL with
    an ``@`` that did not parse as one (no scheme...) shows nothing before its last ``@``."""
    if password is not None:
        userinfo, _, host = netloc.rpartition("@")
        return url.replace(netloc, f"{userinfo.partition(':')[0]}:***@{host}", 1)
    if username is None and "@" in url:
        return "***@" + url.rpartition("@")[2]
    return url


def _connection_error(exc: BaseException, what: str, base_url: str) -> APIConnectionError:
    """The one table from aiohttp's exceptions to the SDK's (by type, never by message)."""
    error: APIConnectionError
    if isinstance(exc, aiohttp.ClientConnectorError | aiohttp.ConnectionTimeoutError):
        # the connection was never made: not a byte of the request went out
        error = ServerUnreachableError(
            f"{what}: {base_url} could not be reached ({type(exc).__name__}: {exc}); "
            "nothing was sent",
            base_url=base_url,
        )
    elif isinstance(exc, TimeoutError):  # aiohttp's ServerTimeoutError is one too
        return APITimeoutError(f"{what}: no answer in time ({type(exc).__name__})")
    else:
        error = APIConnectionError(f"{what}: {type(exc).__name__}: {exc}")
    if isinstance(exc, aiohttp.ClientConnectorCertificateError | aiohttp.ClientSSLError):
        error.retryable = False  # a bad certificate stays bad
    return error


_CONNECTION_ERRORS = (aiohttp.ClientError, TimeoutError, OSError)


@attrs.frozen
class _Call:
    """One logical request, as every try (and the resend with a fresh token) sends it."""

    method: str
    path: str
    kind: RequestKind
    json_body: Any
    params: dict[str, Any] | None

    @property
    def what(self) -> str:
        """How errors name it: ``GET /v1/videos/...``."""
        return f"{self.method} {self.path}"


class Transport:
    """Owns (or borrows) the ``aiohttp.ClientSession`` and sends every API request.

    ``max_body`` caps the size of one API answer (default ``MAX_ANSWER_BYTES``, 16 MiB): a
    larger one is refused with ``ResponseFormatError`` before it is read whole.
    """

    #: The default cap on an API answer's body, in bytes.
    max_body: int = MAX_ANSWER_BYTES

    def __init__(
        self,
        base_url: str,
        tokens: TokenSource,
        *,
        session: aiohttp.ClientSession | None = None,
        timeouts: Timeouts | None = None,
        retry: RetryPolicy | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        pacer: Pacing | None = None,
        max_body: int | None = None,
        hold: Callable[[], AbstractContextManager[object]] | None = None,
    ) -> None:
        if max_body is not None:
            if max_body < 1:
                raise ConfigurationError(f"max_body: {max_body} must be at least 1 byte")
            self.max_body = max_body
        self.base_url = base_url
        #: Spaces every request this transport sends; learns the rate limit from 1302.
        self.pacer: Pacing = pacer or Pacer()
        self.tokens = tokens
        self.timeouts = timeouts or Timeouts()
        self.retry = retry or RetryPolicy()
        self.sleep = sleep
        #: Held while a request is on the wire (a ``VirtualClock`` does not jump meanwhile).
        self._hold = hold or contextlib.nullcontext
        self._session = session
        self._owns_session = session is None
        #: Requests that went out (every try counts), for diagnostics and tests.
        self.requests_sent = 0

    async def session(self) -> aiohttp.ClientSession:
        """The session, created on first use inside the running loop when none was given."""
        if self._session is None or (self._owns_session and self._session.closed):
            self._session = aiohttp.ClientSession(headers={"User-Agent": USER_AGENT})
            self._owns_session = True
        return self._session

    async def close(self) -> None:
        """Close the session if this transport created it; a borrowed one is left open."""
        if self._owns_session and self._session is not None and not self._session.closed:
            await self._session.close()
        if self._owns_session:
            self._session = None

    async def request(
        self,
        method: str,
        path: str,
        *,
        kind: RequestKind,
        json_body: Any = None,
        params: dict[str, Any] | None = None,
        retry: bool = True,
        wire: str = "legacy",
    ) -> Any:
        """Send one logical request and return the envelope's ``data``.

        With ``retry`` (queries) it is retried under the policy; without (creates) it is sent
        once — plus one resend after a 1003/1004, which proves nothing was created.
        """
        call = _Call(method, path, kind, json_body, params)
        if not retry:
            return await self._send_authenticated(call, wire)
        return await self.retry.call(
            lambda _: self._send_authenticated(call, wire), sleep=self.sleep, what=call.what
        )

    async def _send_authenticated(self, call: _Call, wire: str) -> Any:
        header = await self.tokens.header(wire)
        try:
            return await self._send(call, header)
        except AuthenticationError as exc:
            if exc.code not in (1003, 1004):
                raise
            self.tokens.invalidate(header)  # a stale token: refresh it and try once more
            header = await self.tokens.header(wire)
            return await self._send(call, header)

    async def _send(self, call: _Call, auth: str) -> Any:
        session = await self.session()
        what = call.what
        await self.pacer.turn(1 if call.kind == "create" else 0)
        self.requests_sent += 1
        try:
            with self._hold():
                async with session.request(
                    call.method,
                    self.base_url + call.path,
                    json=call.json_body,
                    params=call.params,
                    headers={"Authorization": auth},
                    timeout=self.timeouts.for_kind(call.kind),
                ) as response:
                    status = response.status
                    self.tokens.server_date(response.headers.get("Date"))  # its clock, for JWTs
                    retry_after = parse_retry_after(response.headers)
                    raw = await _read_capped(response, self.max_body, what)
        except asyncio.CancelledError:
            raise
        except _CONNECTION_ERRORS as exc:
            raise _connection_error(exc, what, self.base_url) from exc
        except ResponseFormatError:
            self.pacer.answered()  # an answer, if an unreadable one: not a 1302
            raise
        try:
            data = _unwrap(raw, status, retry_after, what)
        except RateLimitError as exc:
            wait = exc.retry_after
            self.pacer.rate_limited(None if wait is None else min(wait, self.retry.max_retry_after))
            raise
        except APIError:
            self.pacer.answered()
            raise
        self.pacer.answered()
        return data

    @asynccontextmanager
    async def stream(
        self, url: str, headers: dict[str, str] | None = None
    ) -> AsyncIterator[aiohttp.ClientResponse]:
        """A GET of a result file (no auth header: result URLs are pre-signed)."""
        session = await self.session()
        async with session.get(
            url, headers=headers or {}, timeout=self.timeouts.for_download()
        ) as response:
            yield response


async def _read_capped(response: aiohttp.ClientResponse, cap: int, what: str) -> bytes:
    """The body, read in pieces and never more than ``cap`` bytes of it: a larger answer is
    refused (from its Content-Length when it announces one, else once it passes the cap)."""
    announced = response.content_length
    if announced is not None and announced > cap:
        raise ResponseFormatError(
            f"{what}: answer larger than {cap} bytes (Content-Length {announced})"
        )
    if announced is not None and "Content-Encoding" not in response.headers:
        return await response.read()  # within the cap, and no more is read than announced
    pieces: list[bytes] = []
    size = 0
    while piece := await response.content.read(min(_READ_PIECE, cap + 1 - size)):
        pieces.append(piece)
        size += len(piece)
        if size > cap:
            raise ResponseFormatError(f"{what}: answer larger than {cap} bytes")
    return b"".join(pieces)


def _unwrap(raw: bytes, status: int, retry_after: float | None, what: str) -> Any:
    """The ``data`` of a success envelope, or the exception for an error answer."""
    try:
        body = json.loads(raw)
    except RecursionError:  # "[[[[..." deeper than the decoder's stack: hostile, not JSON
        raise ResponseFormatError(
            f"{what}: HTTP {status}, the body is JSON nested too deeply to read",
            body=raw[:120].decode("utf-8", "replace"),
        ) from None
    except (ValueError, UnicodeDecodeError):
        snippet = raw[:120].decode("utf-8", "replace")
        if status >= 500:
            raise ServerError(
                f"{what}: HTTP {status} without a Kling envelope: {snippet!r}",
                code=0,
                http_status=status,
                retry_after=retry_after,
            ) from None
        raise ResponseFormatError(
            f"{what}: HTTP {status}, the body is not JSON: {snippet!r}", body=snippet
        ) from None
    code = body.get("code") if isinstance(body, dict) else None
    if not isinstance(code, int) or isinstance(code, bool):
        if status >= 500:
            raise ServerError(
                f"{what}: HTTP {status} without a Kling code", code=0, http_status=status
            )
        raise ResponseFormatError(
            f"{what}: HTTP {status}, no integer 'code' in the answer", body=body
        )
    if code != 0:
        message = body.get("message")
        request_id = body.get("request_id")
        raise error_for(
            code,
            message if isinstance(message, str) else repr(message),
            http_status=status,
            request_id=request_id if isinstance(request_id, str) else None,
            body=body,
            retry_after=retry_after,
        )
    return body.get("data")


__all__ = [
    "MAX_ANSWER_BYTES",
    "APIError",
    "RequestKind",
    "RequestOptions",
    "Timeouts",
    "Transport",
    "check_base_url",
]
