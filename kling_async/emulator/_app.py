"""The HTTP face of the emulator: routes, envelopes, auth, rate limit, faults, result files.

Two wires: the legacy one (``/v1/videos/<kind>``, ``/v1/images/generations``, JWT or API key)
and the new one (``POST /image-to-video/{model}``, ``/text-to-video/{model}``,
``/omni-video/{model}``, ``/motion-control/{model}``, ``GET /tasks``, ``POST /tasks``; API key
only: a JWT gets HTTP 401 code 1002). Creates and the new queries are in ``_app_new``.
"""

from __future__ import annotations

import email.utils
import logging
import os
import random
import re
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from .._clock import SYSTEM_CLOCK, Clock
from ._app_assets import AssetHandlers, add_asset_routes
from ._app_new import origin
from ._assets import AssetStore
from ._auth import authenticate
from ._bodies import BodyBudget
from ._callbacks import Callbacks
from ._config import Account, EmulatorConfig
from ._errors import Rejection, invalid
from ._faults import Faults
from ._models import NEW_MODELS
from ._ratelimit import RateLimiter, retry_after_seconds
from ._rules import CHECKERS
from ._rules_images import check_image_generation
from ._rules_motion import MOTION_MODELS
from ._rules_new import PATHS
from ._rules_omni import OMNI_MODELS
from ._shared import TaskSpec
from ._stats import Stats
from ._store import EmuTask, Store
from ._videos import ResultContent, VideoFiles

log = logging.getLogger("kling_async.emulator")

KINDS = ("image2video", "text2video")
#: Legacy route segment -> task kind (``/v1/images/generations`` is image generation).
_LEGACY_KIND = {"generations": "image_generation"}
_LEGACY_CHECKS: dict[str, Callable[[Any, str], TaskSpec]] = {
    **CHECKERS,
    "generations": lambda body, default: check_image_generation(body),
}
#: Model names each new-wire path knows (for the per-route counters' labels).
_PATH_MODELS = {
    "image-to-video": set(NEW_MODELS),
    "text-to-video": set(NEW_MODELS),
    "omni-video": set(OMNI_MODELS),
    "motion-control": set(MOTION_MODELS),
}
_CODE_FAULTS = {
    "5000": (500, "Internal error"),
    "5001": (503, "Service unavailable for maintenance"),
    "5002": (504, "Internal timeout, the service is busy"),
    "1302": (429, "Too many requests, please slow down (injected)"),
    "1303": (429, "parallel task over resource pack limit (injected)"),
}
_RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")
Handler = Callable[[web.Request, Account, set[str]], Awaitable[Any]]
Label = Callable[[web.Request], str]
_UNLIMITED_PACK = 1_000_000.0


def _request_id() -> str:
    return str(uuid.uuid4())


def _envelope(data: Any) -> web.Response:
    body = {"code": 0, "message": "SUCCEED", "request_id": _request_id(), "data": data}
    return web.json_response(body)


class EmulatorState(AssetHandlers):
    """Everything one running emulator holds, and the handlers that act on it."""

    def __init__(self, config: EmulatorConfig, clock: Clock | None = None) -> None:
        self.config = config
        #: Task durations, rate windows, URL lifetimes and delays run on it (auth on real time).
        self.clock: Clock = clock or SYSTEM_CLOCK
        seed = config.seed if config.seed is not None else random.SystemRandom().getrandbits(64)
        self.rng = random.Random(seed)
        self.stats = Stats()
        self.store = Store(config, self.rng, self.stats)
        self.faults = Faults(config, self.rng)
        self.limiter = RateLimiter()
        self.videos = VideoFiles(config, seed)
        self.callbacks = Callbacks(config, self.stats, self.clock)
        self.budget = BodyBudget(config.body_budget_bytes)
        self.assets = AssetStore(self.rng, config.asset_seconds, config.strict_elements)

    # -- introspection -------------------------------------------------------------------
    def snapshot(self) -> dict[str, Any]:
        now = self.clock.time()
        self.store.settle(now)
        out = self.stats.as_dict()
        out["in_flight"] = {k: len(s.running) for k, s in self.store.accounts.items()}
        out["in_flight_by_family"] = {
            k: dict(sorted(s.in_flight.items())) for k, s in self.store.accounts.items()
        }
        out["units_left"] = {k: s.units_left for k, s in self.store.accounts.items()}
        out["balance_left"] = {k: s.balance_left for k, s in self.store.accounts.items()}
        out["body_bytes_held"] = self.budget.held  # request bodies in memory right now
        out["pid"] = os.getpid()  # whose memory a benchmark or test may read
        return out

    def reset(self, *, everything: bool = False) -> None:
        """Zero the counters; with ``everything`` also forget tasks, balances and schedules."""
        self.store.settle(self.clock.time())
        self.stats.clear()
        if everything:
            self.store.tasks.clear()
            self.store.videos.clear()
            self.assets.clear()
            self.store.reset_accounts()
            self.faults.clear()
            self.limiter.reset()

    # -- the request pipeline ------------------------------------------------------------
    def _error(self, rejection: Rejection, headers: dict[str, str] | None = None) -> web.Response:
        self.stats.errors_by_code[rejection.code] += 1
        body = {"code": rejection.code, "message": rejection.message, "request_id": _request_id()}
        return web.json_response(body, status=rejection.http_status, headers=headers)

    def _retry_after(self, wait: float) -> dict[str, str]:
        mode = self.config.retry_after
        if mode == "mixed":
            mode = self.rng.choice(("seconds", "date", "none"))
        if mode == "seconds":
            return {"Retry-After": str(retry_after_seconds(wait))}
        if mode == "date":
            return {"Retry-After": email.utils.formatdate(time.time() + wait + 1, usegmt=True)}
        return {}

    async def serve_api(
        self,
        request: web.Request,
        route: str,
        handler: Handler,
        label: str,
        *,
        api_key_only: bool = False,
    ) -> web.StreamResponse:
        self.stats.requests += 1
        self.stats.requests_by_route[label] += 1
        faults = self.faults.draw(route)
        for kind in faults:
            self.stats.faults_injected[kind] += 1
        if "slow" in faults:
            await self.clock.sleep(self.config.slow_seconds)
        if "drop" in faults:
            return _drop(request)
        for kind, (status, message) in _CODE_FAULTS.items():
            if kind in faults:
                headers = {"Retry-After": "1"} if kind == "1302" else None
                return self._error(Rejection(status, int(kind), message), headers)
        now = self.clock.time()
        try:
            account = authenticate(
                request.headers.get("Authorization"),
                self.config.accounts,
                time.time(),  # tokens are signed on the real clock
                self.config.token_max_age,
                api_key_only=api_key_only,
            )
            wait = self.limiter.check(
                account.access_key, self.config.rate_limit, self.config.rate_burst, now
            )
            if wait > 0:
                rejection = Rejection(429, 1302, "Too many requests, please slow down")
                return self._error(rejection, self._retry_after(wait))
            data = await handler(request, account, faults)
        except Rejection as rejection:
            return self._error(rejection)
        if "lost_create" in faults:
            return _drop(request)
        return _envelope(data)

    # -- handlers ------------------------------------------------------------------------
    async def create(self, request: web.Request, account: Account, faults: set[str]) -> Any:
        check = _LEGACY_CHECKS[request.match_info["kind"]]
        default = self.config.default_model
        task = await self.admit(request, account, lambda body: check(body, default))
        return {
            "task_id": task.task_id,
            "task_status": "submitted",
            "task_info": {"external_task_id": task.spec.external_task_id or ""},
            "created_at": int(task.created * 1000),
            "updated_at": int(task.created * 1000),
        }

    async def query(self, request: web.Request, account: Account, faults: set[str]) -> Any:
        self.stats.single_queries += 1
        now = self.clock.time()
        self.store.settle(now)
        task = self.store.find(account, _legacy_kind(request), request.match_info["ident"])
        if task is None:
            raise invalid("Task not found by id/external id")
        return task.body(now, origin(request))

    async def list_tasks(self, request: web.Request, account: Account, faults: set[str]) -> Any:
        self.stats.list_queries += 1
        page_num = _int_param(request, "pageNum", 1, 1, 1000)
        page_size = _int_param(request, "pageSize", 30, 1, 500)
        now = self.clock.time()
        self.store.settle(now)
        tasks = self.store.page(account, _legacy_kind(request), page_num, page_size)
        base = origin(request)
        return [t.body(now, base) for t in tasks]

    async def costs(self, request: web.Request, account: Account, faults: set[str]) -> Any:
        self.stats.account_queries += 1
        start = _int_param(request, "start_time", None, 0, None)
        end = _int_param(request, "end_time", None, 0, None)
        if end < start:
            raise invalid(f"end_time: {end} is before start_time {start}")
        self.store.settle(self.clock.time())
        state = self.store.state_of(account)
        left = state.units_left
        if left is None:  # an unlimited pack shows a large one, falling as tasks are charged
            left = max(0.0, _UNLIMITED_PACK - state.units_spent)
        total = account.units if account.units is not None else _UNLIMITED_PACK
        now_ms = int(self.clock.time() * 1000)
        pack = {
            "resource_pack_name": "Emulator video pack",
            "resource_pack_id": f"pack-{account.name}",
            "resource_pack_type": "decreasing_total",
            "total_quantity": total,
            "remaining_quantity": round(left, 6),
            "purchase_time": now_ms - 86_400_000,
            "effective_time": now_ms - 86_400_000,
            "invalid_time": now_ms + 365 * 86_400_000,
            "status": "online",
        }
        return {"code": 0, "msg": "success", "resource_pack_subscribe_infos": [pack]}

    async def file(self, request: web.Request) -> web.StreamResponse:
        self.stats.requests += 1
        self.stats.requests_by_route[f"{request.method} /__files__/{{name}}"] += 1
        name = request.match_info["name"]
        stem, _, suffix = name.rpartition(".")
        file_id, _sep, index = stem.removesuffix("-wm").partition("-")
        task = self.store.file_task(file_id)
        now = self.clock.time()
        if task is None or task.status(now) != "succeed" or not _names_a_file(task, suffix, index):
            raise web.HTTPNotFound(text="no such file")
        if now > task.ends_at + self.config.url_lifetime:
            raise web.HTTPNotFound(text="this result URL has expired")
        faults = self.faults.draw("download")
        for kind in faults:
            self.stats.faults_injected[kind] += 1
        if "slow" in faults:
            await self.clock.sleep(self.config.slow_seconds)
        if suffix == "png":
            content = await self.videos.image(task, int(index))
        else:
            content = await self.videos.content(task)
        return await self._send_file(request, task, content, truncate="truncate" in faults)

    async def _send_file(
        self, request: web.Request, task: EmuTask, content: ResultContent, *, truncate: bool
    ) -> web.StreamResponse:
        kind = "image/png" if content.media == "png" else "video/mp4"
        headers = {"ETag": content.etag, "Accept-Ranges": "bytes", "Content-Type": kind}
        start, end, status = 0, content.size, 200
        header = request.headers.get("Range")
        if_range = request.headers.get("If-Range")
        if header and if_range is not None and if_range != content.etag:
            header = None  # the client's partial copy is of another file: send it whole
        if header:
            parsed = _parse_range(header, content.size)
            if parsed is None:
                raise web.HTTPRequestRangeNotSatisfiable(
                    headers={"Content-Range": f"bytes */{content.size}"}
                )
            start, end, status = parsed[0], parsed[1], 206
            headers["Content-Range"] = f"bytes {start}-{end - 1}/{content.size}"
        response = web.StreamResponse(status=status, headers=headers)
        response.content_length = end - start
        await response.prepare(request)
        if request.method == "HEAD":
            return response
        self.stats.downloads += 1
        stop = start + (end - start) // 2 if truncate else end
        try:
            for chunk in content.chunks(start, stop):
                await response.write(chunk)
                self.stats.bytes_served += len(chunk)
            if truncate:
                return _drop(request)
            await response.write_eof()
        except ConnectionError:  # the client left mid-download: theirs to retry, no traceback
            log.debug("download of %s: the client disconnected", task.video_id)
        return response

    async def stats_view(self, request: web.Request) -> web.Response:
        return web.json_response(self.snapshot())

    async def reset_view(self, request: web.Request) -> web.Response:
        self.reset(everything=request.query.get("all") in ("1", "true"))
        return web.json_response({"reset": True})

    async def unknown(self, request: web.Request) -> web.Response:
        message = f"Invalid method or path: {request.method} {request.path} is not emulated"
        return self._error(Rejection(404, 1202, message))


def _legacy_kind(request: web.Request) -> str:
    name = request.match_info["kind"]
    return _LEGACY_KIND.get(name, name)


def _names_a_file(task: EmuTask, suffix: str, index: str) -> bool:
    """Whether ``<id>[-<index>][-wm].<suffix>`` is one of the task's result files."""
    if task.spec.product == "image":
        return suffix == "png" and index.isdigit() and int(index) < task.spec.count
    return suffix == "mp4" and index == ""


def _drop(request: web.Request) -> web.StreamResponse:
    """Cut the connection: the client sees it closed without (the rest of) a response."""
    transport = request.transport
    if transport is not None:
        transport.abort()
    return web.Response(status=599)  # never reaches the client


def _int_param(
    request: web.Request, name: str, default: int | None, low: int, high: int | None
) -> int:
    raw = request.query.get(name)
    if raw is None:
        if default is None:
            raise invalid(f"{name}: required query parameter is missing")
        return default
    try:
        value = int(raw)
    except ValueError:
        raise invalid(f"{name}: {raw!r} is not an integer") from None
    if value < low or (high is not None and value > high):
        raise invalid(f"{name}: {value} is outside {low}..{high if high is not None else 'any'}")
    return value


def _parse_range(header: str, size: int) -> tuple[int, int] | None:
    """(start, end exclusive) of a single-range ``bytes=`` header, None if unsatisfiable."""
    match = _RANGE.match(header.strip())
    if match is None:
        return None
    first, last = match.groups()
    if first == "" and last == "":
        return None
    if first == "":
        length = int(last)
        return (max(0, size - length), size) if length > 0 and size > 0 else None
    start = int(first)
    end = min(size, int(last) + 1) if last else size
    return (start, end) if start < size and start < end else None


def _new_create_label(request: web.Request) -> str:
    model, path = request.match_info["model"], request.match_info["path"]
    return f"POST /{path}/{model if model in _PATH_MODELS[path] else '{model}'}"


def build_app(state: EmulatorState) -> web.Application:
    """The aiohttp application serving the emulated API over ``state``."""
    # bodies are read by ``_bodies.read_capped`` under the config's caps and budget
    app = web.Application(client_max_size=state.config.max_body_bytes)

    def api(
        route: str, handler: Handler, label: Label, *, api_key_only: bool = False
    ) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
        async def view(request: web.Request) -> web.StreamResponse:
            return await state.serve_api(
                request, route, handler, label(request), api_key_only=api_key_only
            )

        return view

    def legacy(template: str) -> Label:
        return lambda request: template.format(kind=request.match_info["kind"])

    kinds = "{kind:" + "|".join(KINDS) + "}"
    add_get, add_post = app.router.add_get, app.router.add_post
    add_post(f"/v1/videos/{kinds}", api("create", state.create, legacy("POST /v1/videos/{kind}")))
    add_get(f"/v1/videos/{kinds}", api("list", state.list_tasks, legacy("GET /v1/videos/{kind}")))
    add_get(
        f"/v1/videos/{kinds}/{{ident}}",
        api("query", state.query, legacy("GET /v1/videos/{kind}/{{id}}")),
    )
    images = "/v1/images/{kind:generations}"
    add_post(images, api("create", state.create, lambda r: "POST /v1/images/generations"))
    add_get(images, api("list", state.list_tasks, lambda r: "GET /v1/images/generations"))
    add_get(
        images + "/{ident}",
        api("query", state.query, lambda r: "GET /v1/images/generations/{id}"),
    )
    add_get("/account/costs", api("account", state.costs, lambda r: "GET /account/costs"))
    paths = "{path:" + "|".join(PATHS.values()) + "}"
    add_post(
        f"/{paths}/{{model}}",
        api("create", state.create_new, _new_create_label, api_key_only=True),
    )
    add_get("/tasks", api("query", state.batch_query, lambda r: "GET /tasks", api_key_only=True))
    add_post("/tasks", api("list", state.cursor_list, lambda r: "POST /tasks", api_key_only=True))
    add_asset_routes(app, state, api)
    add_get("/__files__/{name}", state.file)  # GET also answers HEAD
    add_get("/__emulator__/stats", state.stats_view)
    add_post("/__emulator__/reset", state.reset_view)
    app.router.add_route("*", "/{tail:.*}", state.unknown)
    return app
