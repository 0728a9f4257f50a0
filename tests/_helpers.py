"""Test helpers: credentials, images and a tiny raw HTTP client for the emulator."""

from __future__ import annotations

import asyncio
import base64
import io
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp
import jwt
from PIL import Image

# private to the package, shared here once for the tests that need them: the demo's bundled
# sample images, and the SDK's list of retired models (what docs and examples must not name)
from kling_async._catalog import RETIRED as RETIRED  # (see above)
from kling_async._samples import SAMPLES_DIR as SAMPLES_DIR  # (see above)
from kling_async._samples import sample_paths as sample_paths  # (the same reason)
from kling_async.emulator import Account, Emulator

ACCESS_KEY = "test-access-key"
SECRET_KEY = "test-secret-key-0123456789abcdef0123456789"
API_KEY = "test-api-key-abcdef"

#: ``kling-async`` as the tests run it: a process of its own, forked ready-imported by this
#: test process's fork server (tests/_forkserver.py), or ``python -m kling_async`` when the
#: server is not there. Use it as ``[*CLI, "animate", ...]`` with ``subprocess``.
TESTS = Path(__file__).resolve().parent
FORK_SERVER_SOCKET = str(Path(tempfile.gettempdir()) / f"kling-async-forkcli-{os.getpid()}.sock")
CLI = [sys.executable, "-I", "-S", str(TESTS / "_forkcli.py"), FORK_SERVER_SOCKET]
#: ``python SCRIPT ...`` the same way: ``[*SCRIPT, path, *args]``.
SCRIPT = [*CLI, "--script"]
#: ``kling-async`` started from scratch (a fresh interpreter), for what the fork server
#: cannot show: what a process imports, how it starts.
FRESH_CLI = [sys.executable, "-m", "kling_async"]


def start_fork_server() -> subprocess.Popen[bytes]:
    """This test process's fork server (it stops when this process is gone)."""
    return subprocess.Popen(
        [sys.executable, "-m", "tests._forkserver", FORK_SERVER_SOCKET, str(os.getpid())],
        cwd=TESTS.parent,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def token(
    access_key: str = ACCESS_KEY,
    secret_key: str = SECRET_KEY,
    *,
    exp: float | None = None,
    nbf: float | None = None,
    **claims: Any,
) -> str:
    now = time.time()
    payload = {
        "iss": access_key,
        "exp": int(now + 1800 if exp is None else exp),
        "nbf": int(now - 5 if nbf is None else nbf),
        **claims,
    }
    return jwt.encode(payload, secret_key, algorithm="HS256", headers={"typ": "JWT"})


def png(
    width: int = 640,
    height: int = 360,
    color: tuple[int, int, int] = (200, 80, 40),
    fmt: str = "PNG",
) -> bytes:
    buf = io.BytesIO()
    img = Image.new("RGB", (width, height), color)
    img.paste((20, 160, 220), (width // 4, height // 4, width // 2, height // 2))
    img.save(buf, format=fmt)
    return buf.getvalue()


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


IMAGE = b64(png())


class Api:
    """Raw requests against an emulator, as a client written from Kling's docs would send them."""

    def __init__(self, session: aiohttp.ClientSession, base: str, auth: str | None = None) -> None:
        self.session = session
        self.base = base
        self.auth = auth if auth is not None else f"Bearer {token()}"

    def headers(self, auth: str | None = None) -> dict[str, str]:
        value = self.auth if auth is None else auth
        return {"Authorization": value} if value else {}

    async def call(
        self, method: str, path: str, *, auth: str | None = None, **kwargs: Any
    ) -> tuple[int, dict[str, Any], Any]:
        async with self.session.request(
            method, self.base + path, headers=self.headers(auth), **kwargs
        ) as r:
            return r.status, await r.json(), r.headers

    async def create(self, kind: str = "image2video", **body: Any) -> tuple[int, dict[str, Any]]:
        if kind == "image2video":
            body.setdefault("image", IMAGE)
        body.setdefault("model_name", "kling-v2-6")
        status, data, _ = await self.call("POST", f"/v1/videos/{kind}", json=body)
        return status, data

    async def get(self, ident: str, kind: str = "image2video") -> tuple[int, dict[str, Any]]:
        status, data, _ = await self.call("GET", f"/v1/videos/{kind}/{ident}")
        return status, data

    async def wait(
        self, ident: str, kind: str = "image2video", limit: float = 10.0
    ) -> dict[str, Any]:
        deadline = time.monotonic() + limit
        while time.monotonic() < deadline:
            _, body = await self.get(ident, kind)
            if body["data"]["task_status"] in ("succeed", "failed"):
                return body["data"]  # type: ignore[no-any-return]
            await asyncio.sleep(0.05)
        raise AssertionError(f"task {ident} did not finish within {limit} s")


def test_account(**changes: Any) -> Account:
    fields: dict[str, Any] = {
        "access_key": ACCESS_KEY,
        "secret_key": SECRET_KEY,
        "api_keys": (API_KEY,),
        "concurrency_limit": None,
        "name": "test",
    }
    fields.update(changes)
    return Account(**fields)


test_account.__test__ = False  # type: ignore[attr-defined]  # a helper, not a test


#: The ``start_emulator`` fixture: ``emu, api = await start_emulator(account=None, **config)``.
StartEmulator = Callable[..., Awaitable[tuple[Emulator, Api]]]


def fast_client(emu: Emulator, **changes: Any) -> Any:
    """A KlingClient for ``emu`` with quick polling and short backoffs."""
    import kling_async as kling

    options: dict[str, Any] = {
        "access_key": ACCESS_KEY,
        "secret_key": SECRET_KEY,
        "api_key": API_KEY,  # the new API takes only an API key; the legacy one gets JWTs
        "base_url": emu.url,
        "clock": emu.clock,  # the emulator's: a VirtualClock given to it serves both sides
        "wait": kling.WaitPolicy(first_poll=0.05, min_interval=0.05, max_interval=0.2, timeout=20),
        "retry": kling.RetryPolicy(
            attempts=4, total_timeout=10, initial_backoff=0.01, max_backoff=0.05, jitter=0.01
        ),
    }
    options.update(changes)
    return kling.KlingClient(**options)


def python_output(code: str, timeout: float = 60) -> str:
    """What ``python -c code`` prints, in a fresh interpreter (what a module import loads
    shows only there); fails the test when it fails."""
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=timeout, check=True
    )
    return done.stdout


def run_pytest(target: str | Path, cwd: Path, timeout: float = 120) -> str:
    """Run pytest on ``target`` in a process of its own, without this run's KLING_*/PYTEST_*
    environment; assert it passed one test; its output."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("KLING_", "PYTEST_"))}
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(target)],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
        cwd=cwd,
    )
    assert done.returncode == 0, done.stdout[-3000:]
    assert "1 passed" in done.stdout
    return done.stdout
