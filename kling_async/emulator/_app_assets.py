"""The routes of custom elements and voices (``/v1/general/...``): create (a task), query
by task id or external id, list, presets, delete. Mixed into ``EmulatorState``; the store
and its rules are in ``_assets``."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from aiohttp import web

from ._app_new import TaskHandlers, origin
from ._assets import AssetStore, preset_bodies
from ._config import Account
from ._errors import invalid

Handler = Callable[[web.Request, Account, set[str]], Awaitable[Any]]
Api = Callable[..., Callable[[web.Request], Awaitable[web.StreamResponse]]]
#: kind -> (route segment, presets segment, delete segment, largest page)
ROUTES = {
    "element": (
        "advanced-custom-elements",
        "advanced-presets-elements",
        "delete-advanced-elements",
        500,
    ),
    "voice": ("custom-voices", "presets-voices", "delete-voices", 1000),
}


def _page_param(request: web.Request, name: str, default: int, high: int) -> int:
    raw = request.query.get(name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise invalid(f"{name}: {raw!r:.40} is not an integer") from None
    if not 1 <= value <= high:
        raise invalid(f"{name}: {value} is outside 1..{high}")
    return value


class AssetHandlers(TaskHandlers):
    """The handlers, over ``assets`` (made by ``EmulatorState``)."""

    assets: AssetStore

    def check_references(self, account: Account, body: Mapping[str, Any]) -> None:
        self.assets.check_elements(account.access_key, body, self.clock.time())

    def _asset_kind(self, request: web.Request) -> str:
        segment = request.path.strip("/").split("/")[2]
        return next(k for k, names in ROUTES.items() if segment in names[:3])

    async def asset_create(self, request: web.Request, account: Account, faults: set[str]) -> Any:
        kind = self._asset_kind(request)
        body = await self.read_json(request, self.config.max_body_bytes)
        now = self.clock.time()
        if kind == "element":
            task = self.assets.create_element(
                account.access_key, account.name, body, now, origin(request)
            )
        else:
            task = self.assets.create_voice(account.access_key, account.name, body, now)
        shown = task.body(now)
        return {k: shown[k] for k in ("task_id", "task_info", "task_status", "created_at")} | {
            "updated_at": shown["created_at"]
        }

    async def asset_query(self, request: web.Request, account: Account, faults: set[str]) -> Any:
        kind = self._asset_kind(request)
        task = self.assets.find(account.access_key, kind, request.match_info["ident"])
        if task is None:
            raise invalid("Task not found by id/external id")
        return task.body(self.clock.time())

    async def asset_list(self, request: web.Request, account: Account, faults: set[str]) -> Any:
        kind = self._asset_kind(request)
        number = _page_param(request, "pageNum", 1, 1000)
        size = _page_param(request, "pageSize", 30, ROUTES[kind][3])
        now = self.clock.time()
        return [t.body(now) for t in self.assets.page(account.access_key, kind, number, size)]

    async def asset_presets(self, request: web.Request, account: Account, faults: set[str]) -> Any:
        kind = self._asset_kind(request)
        number = _page_param(request, "pageNum", 1, 1000)
        size = _page_param(request, "pageSize", 30, ROUTES[kind][3])
        return preset_bodies(kind, self.clock.time())[(number - 1) * size : number * size]

    async def asset_delete(self, request: web.Request, account: Account, faults: set[str]) -> Any:
        kind = self._asset_kind(request)
        body = await self.read_json(request)
        field = "element_id" if kind == "element" else "voice_id"
        return self.assets.delete(account.access_key, kind, body.get(field), self.clock.time())


def add_asset_routes(app: web.Application, state: AssetHandlers, api: Api) -> None:
    """Register the element and voice routes on ``app`` (``api`` wraps a handler the way
    every API route is: auth, rate limit, faults, envelope)."""
    for route, presets, delete, _ in ROUTES.values():
        base = f"/v1/general/{route}"
        create = api("create", state.asset_create, lambda r, b=base: f"POST {b}")
        app.router.add_post(base, create)
        app.router.add_post(base + "/", create)  # the vendor's own curl example ends so
        app.router.add_get(base, api("list", state.asset_list, lambda r, b=base: f"GET {b}"))
        app.router.add_get(
            base + "/{ident}",
            api("query", state.asset_query, lambda r, b=base: f"GET {b}/{{id}}"),
        )
        where = f"/v1/general/{presets}"
        app.router.add_get(where, api("list", state.asset_presets, lambda r, w=where: f"GET {w}"))
        gone = f"/v1/general/{delete}"
        app.router.add_post(gone, api("query", state.asset_delete, lambda r, g=gone: f"POST {g}"))
