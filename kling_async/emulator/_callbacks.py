"""Callback delivery: POST the bare task object on every status change, signed when configured.

A legacy task is sent in the legacy shape (``task_id``, ``task_status``, ...,
``final_unit_deduction``), a task created on the new wire in the new one (``id``, ``status``,
``message``, ``create_time``, ``update_time``, ``external_id``, ``outputs``, ``billing``).

Callbacks go only where the config allows (``callback_hosts``: by default this machine, on any
port; ``allow_remote_callbacks``: anywhere). A callback URL elsewhere is accepted at create, as
the service would, and never called: counted in ``callbacks_refused`` and ``callbacks_failed``.

Signatures follow the Standard Webhooks scheme, written here by hand (HMAC-SHA256 over
``{id}.{timestamp}.{body}``) so that the SDK's verifier, which uses the standardwebhooks
library, checks an independent implementation.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import ipaddress
import json
import logging
import time
import uuid
from collections.abc import Callable, Collection
from typing import Any
from urllib.parse import urlsplit

import aiohttp

from .._clock import SYSTEM_CLOCK, Clock
from ._config import EmulatorConfig
from ._stats import Stats
from ._store import EmuTask

log = logging.getLogger("kling_async.emulator")


def sign(secret: str, msg_id: str, timestamp: int, body: bytes) -> str:
    """The ``webhook-signature`` value for one delivery (``v1,<base64>``)."""
    key = base64.b64decode(secret.removeprefix("whsec_"))
    mac = hmac.new(key, f"{msg_id}.{timestamp}.".encode() + body, hashlib.sha256).digest()
    return "v1," + base64.b64encode(mac).decode()


def allowed_target(url: str, hosts: Collection[str]) -> bool:
    """Whether ``url``'s host, or host and port, is one of ``hosts`` ("host" or "host:port";
    IPv6 as "::1" or "[::1]:8080"). Names compare case-insensitively, addresses by value."""
    parts = urlsplit(url)
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        return False
    host = _canonical(parts.hostname or "")
    for entry in hosts:
        if entry.startswith("[") or entry.count(":") == 1:
            name, _, wanted = entry.rpartition(":")
            if _canonical(name.strip("[]")) == host and wanted == str(port):
                return True
        elif _canonical(entry) == host:
            return True
    return False


def _canonical(host: str) -> str:
    try:
        return str(ipaddress.ip_address(host))
    except ValueError:
        return host.lower().rstrip(".")


class Callbacks:
    """One delivery loop per task that has a ``callback_url``; all of them kept and cancelled."""

    def __init__(self, config: EmulatorConfig, stats: Stats, clock: Clock = SYSTEM_CLOCK) -> None:
        self.config = config
        self.stats = stats
        self.clock = clock
        self._loops: set[asyncio.Task[None]] = set()
        self._session: aiohttp.ClientSession | None = None
        self._warned: set[str] = set()  # refused hosts already logged (once each)

    def watch(self, task: EmuTask, body_at: Callable[[float], dict[str, Any]]) -> None:
        loop = asyncio.create_task(self._follow(task, body_at), name=f"callbacks-{task.task_id}")
        self._loops.add(loop)
        loop.add_done_callback(self._loops.discard)

    async def _follow(self, task: EmuTask, body_at: Callable[[float], dict[str, Any]]) -> None:
        url = task.spec.callback_url
        assert url is not None
        if not (
            self.config.allow_remote_callbacks or allowed_target(url, self.config.callback_hosts)
        ):
            where = urlsplit(url).netloc
            if where not in self._warned:
                self._warned.add(where)
                log.warning(
                    "callbacks to %s refused: not among the allowed callback hosts %s",
                    where,
                    ", ".join(self.config.callback_hosts) or "(none)",
                )
            self.stats.callbacks_refused += 1
            self.stats.callbacks_failed += 1
            return
        moments = sorted({task.created, task.processing_at, task.ends_at})
        for moment in moments:
            delay = moment - self.clock.time()
            if delay > 0:
                await self.clock.sleep(delay)
            # the task as it was at that moment: one delivery per status, even when the loop
            # is late (a busy machine) and the task has moved on since
            await self._deliver(url, body_at(moment))

    async def _deliver(self, url: str, body: dict[str, Any]) -> None:
        raw = json.dumps(body, separators=(",", ":")).encode()
        msg_id = f"msg_{uuid.uuid4().hex}"
        headers = {"Content-Type": "application/json"}
        if self.config.webhook_secret:
            ts = int(time.time())  # real time: receivers check it against their clock
            headers |= {
                "webhook-id": msg_id,
                "webhook-timestamp": str(ts),
                "webhook-signature": sign(self.config.webhook_secret, msg_id, ts, raw),
            }
        if self._session is None:
            self._session = aiohttp.ClientSession()
        timeout = aiohttp.ClientTimeout(total=self.config.callback_timeout)
        for attempt in range(max(1, self.config.callback_attempts)):
            if attempt:
                await self.clock.sleep(self.config.callback_retry_delay)
            try:
                async with self._session.post(url, data=raw, headers=headers, timeout=timeout) as r:
                    if r.status < 300:
                        self.stats.callbacks_sent += 1
                        return
            except (aiohttp.ClientError, TimeoutError):
                pass
        self.stats.callbacks_failed += 1

    async def close(self) -> None:
        for loop in list(self._loops):
            loop.cancel()
        await asyncio.gather(*self._loops, return_exceptions=True)
        if self._session is not None:
            await self._session.close()
            self._session = None
