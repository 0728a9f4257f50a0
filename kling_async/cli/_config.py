"""The config file: credentials and option defaults, in a ``[default]`` table and named
``[profiles.NAME]`` tables.

Where: ``$KLING_ASYNC_CONFIG`` if set, else ``$XDG_CONFIG_HOME/kling-async/config.toml``, else
``~/.config/kling-async/config.toml``. Which profile: ``--profile NAME``, else
``$KLING_ASYNC_PROFILE``; a profile's keys overlay ``[default]``'s. Every key is checked when the
file is read, and a bad one is refused naming the file, the table, the key and the rule.
Secrets are never printed: not in a repr, not in an error.
"""

from __future__ import annotations

import math
import os
import stat
import sys
import tomllib
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import attrs

from .._cash import as_budget
from ..errors import ConfigurationError, ValidationError

ENV_CONFIG = "KLING_ASYNC_CONFIG"
ENV_PROFILE = "KLING_ASYNC_PROFILE"
SECRET_KEYS = ("access_key", "secret_key", "api_key")
#: The most of a config file that is read: one is a few lines; ``/dev/zero`` is endless.
MAX_CONFIG_BYTES = 1 << 20


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value.strip() else None


def _choice(*allowed: str) -> Callable[[Any], Any]:
    def check(value: Any) -> Any:
        return value if value in allowed else None

    check.rule = f"must be one of {', '.join(allowed)}"  # type: ignore[attr-defined]
    return check


def _whole(low: int) -> Callable[[Any], Any]:
    def check(value: Any) -> Any:
        ok = isinstance(value, int) and not isinstance(value, bool) and value >= low
        return value if ok else None

    check.rule = f"must be a whole number ≥ {low}"  # type: ignore[attr-defined]
    return check


def _number(low: float, high: float = math.inf) -> Callable[[Any], Any]:
    def check(value: Any) -> Any:
        ok = isinstance(value, int | float) and not isinstance(value, bool)
        return float(value) if ok and low <= value <= high else None

    upper = "" if high == math.inf else f" and ≤ {high:g}"
    check.rule = f"must be a number ≥ {low:g}{upper}"  # type: ignore[attr-defined]
    return check


def _money(value: Any) -> Any:
    if not isinstance(value, str):
        return None
    try:
        as_budget(value)
    except ValidationError:
        return None
    return value


_money.rule = 'must be an amount in USD, e.g. "20USD" or "$20"'  # type: ignore[attr-defined]
_text.rule = "must be a non-empty string"  # type: ignore[attr-defined]

#: Key -> its check (returns the value to use, or None when the value breaks the rule).
#: Option defaults are named as the options are, ``-`` or ``_`` alike (``max-in-flight``).
KEYS: Mapping[str, Callable[[Any], Any]] = {
    "access_key": _text,
    "secret_key": _text,
    "api_key": _text,
    "base_url": _text,
    "api": _choice("auto", "legacy", "new"),
    "model": _text,
    "mode": _choice("std", "pro", "4k"),
    "duration": _whole(1),
    "max_in_flight": _whole(1),
    "downloads": _whole(1),
    "max_units": _number(0),
    "max_cost": _money,
    "poll_interval": _number(0.5, 600),
    "timeout": _number(1),
}
#: Aliases a user may reach for.
_ALIASES = {"concurrency": "max_in_flight"}


@attrs.frozen
class Settings:
    """What the config file says for one profile (``[default]`` overlaid by it)."""

    #: The file read, or None when there is none.
    path: Path | None = None
    #: The profile chosen, or None for ``[default]`` alone.
    profile: str | None = None
    access_key: str | None = attrs.field(default=None, repr=False)
    secret_key: str | None = attrs.field(default=None, repr=False)
    api_key: str | None = attrs.field(default=None, repr=False)
    base_url: str | None = None
    #: Option defaults by parameter name (``model``, ``mode``, ``max_in_flight``...).
    defaults: Mapping[str, Any] = attrs.field(factory=dict)

    @property
    def has_credentials(self) -> bool:
        return bool(self.api_key or self.access_key or self.secret_key)

    def credentials(self) -> dict[str, str]:
        """The credentials the file gives, as ``KlingClient`` keyword arguments."""
        given = {k: getattr(self, k) for k in SECRET_KEYS}
        return {k: v for k, v in given.items() if v}

    def where(self) -> str:
        """Where credentials come from, for messages (never their values)."""
        table = f"[profiles.{self.profile}]" if self.profile else "[default]"
        return f"{table} of {self.path}"

    def option_defaults(self) -> dict[str, Any]:
        """Defaults for options of those names (``base_url`` and ``api`` included)."""
        out = dict(self.defaults)
        if self.base_url:
            out["base_url"] = self.base_url
        return out


def config_path(env: Mapping[str, str] | None = None) -> tuple[Path, bool]:
    """The config file's path, and whether the user named it (``KLING_ASYNC_CONFIG``)."""
    environ = os.environ if env is None else env
    named = environ.get(ENV_CONFIG)
    if named:
        return Path(named).expanduser(), True
    base = environ.get("XDG_CONFIG_HOME") or str(Path("~/.config").expanduser())
    return Path(base) / "kling-async" / "config.toml", False


def _table(path: Path, name: str, table: Any) -> dict[str, Any]:
    if not isinstance(table, dict):
        raise ConfigurationError(f"config {path}: [{name}] must be a table of keys")
    out: dict[str, Any] = {}
    for raw_key, value in table.items():
        key = _ALIASES.get(raw_key.replace("-", "_"), raw_key.replace("-", "_"))
        check = KEYS.get(key)
        if check is None:
            known = ", ".join(KEYS)
            raise ConfigurationError(
                f"config {path}: [{name}] {raw_key}: unknown key; known: {known}"
            )
        checked = check(value)
        if checked is None:
            shown = "<hidden>" if key in SECRET_KEYS else repr(value)
            rule = check.rule  # type: ignore[attr-defined]
            raise ConfigurationError(f"config {path}: [{name}] {raw_key}: {shown} — {rule}")
        out[key] = checked
    return out


def _warn_if_readable(path: Path, mode: int) -> None:
    if mode & 0o077:
        print(
            f"warning: {path} holds secrets and other users can read it "
            f"(mode {stat.S_IMODE(mode):03o}); run: chmod 600 {path}",
            file=sys.stderr,
        )


def _read(path: Path) -> tuple[bytes, int]:
    """The file's bytes (at most ``MAX_CONFIG_BYTES``) and its mode. A pipe or a socket is
    refused (reading one could wait forever); a device is read as a file (``/dev/null`` is
    an empty config)."""
    mode = path.stat().st_mode
    if stat.S_ISFIFO(mode) or stat.S_ISSOCK(mode):
        raise ConfigurationError(f"config {path}: a pipe or a socket, not a file")
    with path.open("rb") as f:
        raw = f.read(MAX_CONFIG_BYTES + 1)
    if len(raw) > MAX_CONFIG_BYTES:
        raise ConfigurationError(
            f"config {path}: larger than {MAX_CONFIG_BYTES // 1024} KiB; a config file is a few "
            "lines of TOML"
        )
    return raw, mode


def load_settings(profile: str | None = None, env: Mapping[str, str] | None = None) -> Settings:
    """The settings for ``profile`` (else ``$KLING_ASYNC_PROFILE``, else ``[default]`` alone).

    No file is no settings, unless a profile was asked for or ``KLING_ASYNC_CONFIG`` names
    the file. Raises ``ConfigurationError`` for a file that cannot be read or parsed, a bad key or
    value, or a missing profile. Warns on stderr when a file holding secrets can be read by
    other users."""
    environ = os.environ if env is None else env
    profile = profile or environ.get(ENV_PROFILE) or None
    path, named = config_path(environ)
    try:
        raw, mode = _read(path)
    except FileNotFoundError:
        if named:
            raise ConfigurationError(
                f"config {path}: no such file ({ENV_CONFIG} names it)"
            ) from None
        if profile:
            raise ConfigurationError(
                f"profile {profile!r}: there is no config file ({path}); create it with a "
                f"[profiles.{profile}] table"
            ) from None
        return Settings()
    except OSError as exc:
        raise ConfigurationError(f"config {path}: cannot be read ({exc.strerror})") from None
    try:
        data = tomllib.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ConfigurationError(f"config {path}: not valid TOML ({exc})") from None
    except RecursionError:
        raise ConfigurationError(f"config {path}: not valid TOML (nested too deeply)") from None
    unknown = sorted(set(data) - {"default", "profiles"})
    if unknown:
        raise ConfigurationError(
            f"config {path}: unknown table(s) {', '.join(unknown)}; "
            "use [default] and [profiles.NAME]"
        )
    merged = _table(path, "default", data.get("default", {}))
    profiles = data.get("profiles", {})
    if not isinstance(profiles, dict):
        raise ConfigurationError(f"config {path}: profiles must be tables, like [profiles.work]")
    for name, table in profiles.items():
        checked = _table(path, f"profiles.{name}", table)
        if name == profile:
            merged.update(checked)
    if profile and profile not in profiles:
        have = ", ".join(sorted(profiles)) or "none"
        raise ConfigurationError(
            f"profile {profile!r}: not in config {path} (profiles there: {have}); "
            f"add a [profiles.{profile}] table"
        )
    if bool(merged.get("access_key")) != bool(merged.get("secret_key")):
        table = f"[profiles.{profile}]" if profile else "[default]"
        given, missing = (
            ("access_key", "secret_key")
            if merged.get("access_key")
            else ("secret_key", "access_key")
        )
        raise ConfigurationError(
            f"config {path}: {table} has {given} but no {missing}; give both (or api_key alone)"
        )
    settings = Settings(
        path=path,
        profile=profile,
        access_key=merged.pop("access_key", None),
        secret_key=merged.pop("secret_key", None),
        api_key=merged.pop("api_key", None),
        base_url=merged.pop("base_url", None),
        defaults=merged,
    )
    holds_secrets = any(
        isinstance(t, dict) and set(t) & set(SECRET_KEYS)
        for t in (data.get("default", {}), *profiles.values())
    )
    if holds_secrets:
        _warn_if_readable(path, mode)
    return settings
