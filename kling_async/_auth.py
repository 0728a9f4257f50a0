"""Credentials and the cached JWT: signed once, reused until it nears expiry."""

from __future__ import annotations

import asyncio
import datetime
import email.utils
import os
import time
import unicodedata
from collections.abc import Callable, Mapping

import attrs
import jwt

from .errors import ConfigurationError

ENV_ACCESS_KEY = "KLING_ACCESS_KEY"
ENV_SECRET_KEY = "KLING_SECRET_KEY"  # noqa: S105  # the variable's name, not a secret
ENV_API_KEY = "KLING_API_KEY"


@attrs.frozen(repr=False)
class Credentials:
    """An access/secret key pair (signed JWTs), a static API key, or both. Never shown in a
    repr. The legacy API takes either (a JWT when there is a key pair); Kling's new API
    (model in the path) takes only the API key."""

    access_key: str | None = None
    secret_key: str | None = None
    api_key: str | None = None

    def __attrs_post_init__(self) -> None:
        for name in ("access_key", "secret_key", "api_key"):
            check_key(name, getattr(self, name))

    def __repr__(self) -> str:
        parts = []
        if self.access_key is not None:
            parts.append(f"access_key={self.access_key!r}, secret_key=<redacted>")
        if self.api_key is not None:
            parts.append("api_key=<redacted>")
        return f"Credentials({', '.join(parts)})"

    @classmethod
    def resolve(
        cls,
        access_key: str | None = None,
        secret_key: str | None = None,
        api_key: str | None = None,
        env: Mapping[str, str] | None = None,
    ) -> Credentials:
        """From the arguments, else from ``KLING_ACCESS_KEY``/``KLING_SECRET_KEY`` or
        ``KLING_API_KEY``. Raises ``ConfigurationError`` naming what to set."""
        environ = os.environ if env is None else env
        names = ("access_key", "secret_key", "api_key")
        if access_key is None and secret_key is None and api_key is None:
            names = (ENV_ACCESS_KEY, ENV_SECRET_KEY, ENV_API_KEY)
            access_key = environ.get(ENV_ACCESS_KEY) or None
            secret_key = environ.get(ENV_SECRET_KEY) or None
            api_key = environ.get(ENV_API_KEY) or None
        for name, value in zip(names, (access_key, secret_key, api_key), strict=True):
            check_key(name, value)  # named as the caller gave it: argument or variable
        if access_key and secret_key:
            return cls(access_key=access_key, secret_key=secret_key, api_key=api_key or None)
        if api_key:
            return cls(api_key=api_key)
        if access_key or secret_key:
            missing = "secret_key" if access_key else "access_key"
            raise ConfigurationError(
                f"credentials: {missing} is missing; give both access_key and secret_key "
                f"(or set {ENV_ACCESS_KEY} and {ENV_SECRET_KEY})"
            )
        raise ConfigurationError(
            "credentials: none given; pass access_key= and secret_key= (or api_key=), or set "
            f"{ENV_ACCESS_KEY} and {ENV_SECRET_KEY} (or {ENV_API_KEY}) in the environment"
        )


_CONTROL_NAMES = {"\r": "a carriage return", "\n": "a line feed", "\t": "a tab"}


def check_key(name: str, value: object) -> None:
    """Refuse a key that is not one line of text: a control character (CR, LF, tab, NUL...)
    or a line separator in it is a copy-paste accident that would otherwise end deep in
    aiohttp as a malformed header. ``ConfigurationError`` names ``name`` and the rule, never
    the value."""
    if value is None:
        return
    if not isinstance(value, str):
        raise ConfigurationError(f"{name}: must be a string, not {type(value).__name__}")
    for char in value:
        if unicodedata.category(char) in ("Cc", "Zl", "Zp", "Cs"):
            what = _CONTROL_NAMES.get(char, f"the control character U+{ord(char):04X}")
            raise ConfigurationError(
                f"{name}: contains {what}; a key is one line of printable characters "
                "(copy it again, without line breaks, tabs or other control characters)"
            )


NEEDS_API_KEY = (
    "credentials: Kling's new API takes only an API key and this client has only an access/"
    f"secret key pair; pass api_key= or set {ENV_API_KEY}"
)


#: A ``Date`` header within this many seconds of the offset already known is its own
#: precision (whole seconds) plus the answer's trip, not a new offset.
SYNC_THRESHOLD = 3.0


class TokenSource:
    """The ``Authorization`` header value. A JWT is signed once and reused until
    ``refresh_margin`` seconds before its ``exp``; concurrent callers share one signing.

    Its ``nbf`` and ``exp`` are on the server's time: every answer's ``Date`` header (fed to
    ``server_date``) tells how far the server's clock is from this host's; a host clock a
    minute fast would otherwise have every token refused "not yet valid" (1003). The first
    answer from such a host may still be a 1003 or 1004: it re-syncs, and the transport's one
    resend after those codes goes out with a token signed on the server's time.
    """

    def __init__(
        self,
        credentials: Credentials,
        *,
        ttl: float = 1800.0,
        refresh_margin: float = 300.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if ttl <= 0:
            raise ConfigurationError(f"token_ttl: {ttl} must be positive")
        self._credentials = credentials
        self._ttl = ttl
        self._margin = min(refresh_margin, ttl / 2)
        self._clock = clock
        self._offset = 0.0
        #: The last ``Date`` header read and its time stamp: answers within one second carry
        #: the same text, so it is parsed once a second, not once an answer.
        self._date: tuple[str, float] | None = None
        self._token: str | None = None
        self._expires = 0.0
        self._lock = asyncio.Lock()
        #: How many tokens were signed (tests and diagnostics).
        self.signed = 0

    def __repr__(self) -> str:
        return f"TokenSource({self._credentials!r}, ttl={self._ttl:g})"

    @property
    def has_api_key(self) -> bool:
        return self._credentials.api_key is not None

    @property
    def clock(self) -> Callable[[], float]:
        """This host's time (seconds since the epoch; default ``time.time``). Tokens are
        signed on it plus ``offset``. Replace it to play a host whose clock is wrong."""
        return self._clock

    @clock.setter
    def clock(self, clock: Callable[[], float]) -> None:
        self._clock = clock

    @property
    def offset(self) -> float:
        """Seconds the server's clock is ahead of ``clock`` (negative: behind), as its last
        ``Date`` header that moved it said; 0 until one did."""
        return self._offset

    def server_date(self, value: str | None) -> None:
        """Learn the server's time from an answer's ``Date`` header (an HTTP date; anything
        unreadable is ignored). An offset that moves by more than ``SYNC_THRESHOLD`` seconds
        also drops the cached token: it was signed on the wrong time."""
        if not value:
            return
        if self._date is not None and self._date[0] == value:
            stamp = self._date[1]
        else:
            try:
                date = email.utils.parsedate_to_datetime(value)
                stamp = date.replace(tzinfo=date.tzinfo or datetime.UTC).timestamp()
            except (TypeError, ValueError, IndexError, OverflowError):
                return
            self._date = (value, stamp)
        measured = stamp + 0.5 - self._clock()  # the header has whole seconds: take the middle
        if abs(measured - self._offset) <= SYNC_THRESHOLD:
            return
        self._offset = measured
        self._token = None

    async def header(self, wire: str = "legacy") -> str:
        """The header for a request on ``wire``: the API key on the new API; on the legacy
        one a JWT when there is a key pair, else the API key."""
        if wire == "new":
            if self._credentials.api_key is None:
                raise ConfigurationError(NEEDS_API_KEY)
            return f"Bearer {self._credentials.api_key}"
        if self._credentials.secret_key is None:
            return f"Bearer {self._credentials.api_key}"
        token = self._token
        if token is None or self._server_now() >= self._expires - self._margin:
            async with self._lock:
                if self._token is None or self._server_now() >= self._expires - self._margin:
                    self._sign()
            token = self._token
        assert token is not None
        return f"Bearer {token}"

    def _server_now(self) -> float:
        return self._clock() + self._offset

    def _sign(self) -> None:
        now = int(self._server_now())
        exp = now + int(self._ttl)
        claims = {"iss": self._credentials.access_key, "exp": exp, "nbf": now - 5}
        assert self._credentials.secret_key is not None
        self._token = jwt.encode(
            claims, self._credentials.secret_key, algorithm="HS256", headers={"typ": "JWT"}
        )
        self._expires = exp
        self.signed += 1

    def invalidate(self, header: str) -> None:
        """Forget the token that ``header`` carried (after a 1003/1004), unless already replaced."""
        if self._token is not None and header == f"Bearer {self._token}":
            self._token = None
