"""Creating tasks on either wire, and the new wire's queries (``GET /tasks``, ``POST /tasks``).

Decisions where the vendor's pages are silent:

- ``GET /tasks`` and ``POST /tasks`` are account-wide, as the vendor's batch query is: they
  answer tasks of BOTH wires, each in the new shape. The legacy ``GET /v1/videos/<kind>/<id>``
  and the legacy list find only legacy tasks of their kind.
- ``GET /tasks`` takes exactly one of ``task_ids`` / ``external_task_ids`` (comma-separated,
  empty pieces ignored, at most 20): none, both, none non-empty or 21+ -> HTTP 400 code 1201.
  Ids the account does not have are absent from the answer; each task appears once, in the
  order asked.
- ``POST /tasks``: ``limit`` 1..500 (default 100), ``start_time``/``end_time`` in ms (ints or
  numeric strings; default the last 30 days; start must be before end), ``filters`` by
  ``status`` (new spelling) and ``product_type`` (``video`` or ``image``). The cursor
  is opaque: it carries the time window and the position after the last task answered, so a
  later page never repeats a task nor shows one created after the first page. A cursor this API
  did not issue -> 1201.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import json
from collections.abc import Callable, Collection, Mapping
from typing import Any

import attrs
from aiohttp import web

from .._clock import Clock
from ._bodies import BodyBudget, parse_object, read_capped
from ._callbacks import Callbacks
from ._config import MAX_QUERY_BODY, Account, EmulatorConfig
from ._errors import invalid
from ._rules_motion import check_motion
from ._rules_new import PATHS, check_new
from ._rules_omni import check_omni
from ._shared import TaskSpec
from ._stats import Stats
from ._store import NEW_STATUS, EmuTask, Store, content_key

KIND_OF_PATH = {path: kind for kind, path in PATHS.items()}
MAX_BATCH_IDS = 20
MAX_LIST_LIMIT = 500
DEFAULT_LIST_LIMIT = 100
_WINDOW_MS = 30 * 86_400_000
_LARGE_BODY = 256 * 1024
_FILTER_VALUES = {
    "status": ("submitted", "processing", "succeeded", "failed"),
    "product_type": ("video", "image", "try_on"),
}


def origin(request: web.Request) -> str:
    return f"{request.scheme}://{request.host}"


def check_path(
    kind: str, model: str, body: Mapping[str, Any], allowed: Collection[str]
) -> TaskSpec:
    """The rules of ``POST /<path of kind>/<model>``."""
    if kind == "omni_video":
        return check_omni(model, body, allowed)
    if kind == "motion_control":
        return check_motion(model, body, allowed)
    return check_new(kind, model, body, allowed)


def encode_cursor(start_ms: int, end_ms: int, before_seq: int) -> str:
    raw = json.dumps({"v": 1, "s": start_ms, "e": end_ms, "b": before_seq}).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[int, int, int]:
    """(start ms, end ms, position) of a cursor this API issued; 1201 for anything else."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        data = json.loads(raw)
        values = (data["s"], data["e"], data["b"])
        if data.get("v") != 1 or not all(type(v) is int for v in values):
            raise ValueError(cursor)
    except (binascii.Error, ValueError, TypeError, KeyError, UnicodeDecodeError):
        raise invalid(f"cursor: {cursor!r:.60} is not a cursor this API issued") from None
    return values


def _millis(body: Mapping[str, Any], field: str) -> int | None:
    value = body.get(field)
    if value is None or value == "":
        return None
    if isinstance(value, str) and value.isdigit():
        return int(value)
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise invalid(f"{field}: {value!r:.40} must be a Unix time in milliseconds")
    return value


def _filters(value: object, now: float) -> Callable[[EmuTask], bool]:
    if value is None:
        return lambda task: True
    if not isinstance(value, list):
        raise invalid(f"filters: expected a list of {{key, values}}, got {value!r:.40}")
    wanted: dict[str, set[str]] = {}
    for i, item in enumerate(value):
        key = item.get("key") if isinstance(item, dict) else None
        if key not in _FILTER_VALUES:
            raise invalid(f"filters[{i}].key: {key!r:.40} is not one of 'status', 'product_type'")
        values = item.get("values")
        allowed = _FILTER_VALUES[key]
        if not isinstance(values, list) or any(v not in allowed for v in values):
            raise invalid(
                f"filters[{i}].values: {values!r:.60} must be a list of "
                f"{', '.join(map(repr, allowed))}"
            )
        wanted.setdefault(key, set()).update(values)

    def keep(task: EmuTask) -> bool:
        statuses, products = wanted.get("status"), wanted.get("product_type")
        if statuses is not None and NEW_STATUS[task.status(now)] not in statuses:
            return False
        return products is None or task.spec.product in products

    return keep


def _reserve(request: web.Request, cap: int) -> int:
    """Bytes of the body budget a request holds while its body is read: what it declares, or
    the cap when it declares nothing (chunked)."""
    declared = request.content_length
    return cap if declared is None else min(declared, cap)


class TaskHandlers:
    """Creates of both wires and the new wire's queries; mixed into ``EmulatorState``."""

    config: EmulatorConfig
    stats: Stats
    store: Store
    callbacks: Callbacks
    clock: Clock
    budget: BodyBudget

    def check_references(self, account: Account, body: Mapping[str, Any]) -> None:
        """A hook after a create's rules passed: refuse what it names that the account does
        not hold (``_app_assets``: deleted elements)."""

    async def read_json(
        self, request: web.Request, cap: int = MAX_QUERY_BODY, *, empty_ok: bool = False
    ) -> dict[str, Any]:
        """A small JSON object body (a query's): capped, within the body budget."""
        async with self.budget.hold(_reserve(request, cap)):
            raw = await read_capped(request, cap)
            if empty_ok and not raw.strip():
                return {}
            return parse_object(raw)

    async def admit(
        self,
        request: web.Request,
        account: Account,
        check: Callable[[Mapping[str, Any]], TaskSpec],
    ) -> EmuTask:
        """Read, check and store one create; start its callbacks."""
        self.stats.create_requests += 1
        cap = self.config.max_body_bytes
        async with self.budget.hold(_reserve(request, cap)):
            raw = await read_capped(request, cap)
            key = None
            if len(raw) > _LARGE_BODY:  # parsing, decoding, hashing would stall the loop
                body = await asyncio.to_thread(parse_object, raw)
                del raw
                spec = await asyncio.to_thread(check, body)
                key = await asyncio.to_thread(content_key, body, spec)
            else:
                body = parse_object(raw)
                spec = check(body)
            self.check_references(account, body)
            if not self.config.render and spec.image is not None:
                spec.image = attrs.evolve(spec.image, data=None)  # keep no bytes nobody uses
            task = self.store.create(account, spec, body, self.clock.time(), key)
        if spec.callback_url:
            base = origin(request)
            self.callbacks.watch(task, lambda now: task.shaped(now, base))
        return task

    async def create_new(self, request: web.Request, account: Account, faults: set[str]) -> Any:
        kind = KIND_OF_PATH[request.match_info["path"]]
        model = request.match_info["model"]
        allowed = self.config.allow_models
        task = await self.admit(
            request, account, lambda body: check_path(kind, model, body, allowed)
        )
        created = int(task.created * 1000)
        return {
            "id": task.task_id,
            "status": "submitted",
            "create_time": created,
            "update_time": created,
            "external_id": task.spec.external_task_id or "",
        }

    async def batch_query(self, request: web.Request, account: Account, faults: set[str]) -> Any:
        """``GET /tasks?task_ids=a,b`` or ``?external_task_ids=a,b``."""
        self.stats.batch_queries += 1
        given = {
            name: request.query[name]
            for name in ("task_ids", "external_task_ids")
            if name in request.query
        }
        if len(given) != 1:
            problem = "not both" if given else "one is required"
            raise invalid(f"task_ids / external_task_ids: give exactly one of them ({problem})")
        ((field, raw),) = given.items()
        idents = [piece.strip() for piece in raw.split(",") if piece.strip()]
        if not idents:
            raise invalid(f"{field}: no id given")
        if len(idents) > MAX_BATCH_IDS:
            raise invalid(
                f"{field}: {len(idents)} ids exceeds the limit of {MAX_BATCH_IDS} per query"
            )
        self.stats.batch_query_ids += len(idents)
        now = self.clock.time()
        self.store.settle(now)
        tasks = self.store.batch(account, idents, external=field == "external_task_ids")
        base = origin(request)
        return [t.new_body(now, base) for t in tasks]

    async def cursor_list(self, request: web.Request, account: Account, faults: set[str]) -> Any:
        """``POST /tasks`` {start_time, end_time, cursor, limit, filters}: newest first."""
        self.stats.list_queries += 1
        body = await self.read_json(request, empty_ok=True)
        now = self.clock.time()
        limit = body.get("limit", DEFAULT_LIST_LIMIT)
        if (
            isinstance(limit, bool)
            or not isinstance(limit, int)
            or not 1 <= limit <= MAX_LIST_LIMIT
        ):
            raise invalid(f"limit: {limit!r:.40} must be an integer from 1 to {MAX_LIST_LIMIT}")
        cursor = body.get("cursor") or ""
        if not isinstance(cursor, str):
            raise invalid(f"cursor: expected a string, got {cursor!r:.40}")
        keep = _filters(body.get("filters"), now)
        before: int | None = None
        if cursor:  # a cursor carries its window: start_time and end_time are ignored
            start, end, before = decode_cursor(cursor)
        else:
            given_end = _millis(body, "end_time")
            end = given_end if given_end is not None else int(now * 1000)
            given_start = _millis(body, "start_time")
            start = given_start if given_start is not None else end - _WINDOW_MS
            if start >= end:
                raise invalid(f"start_time: {start} must be earlier than end_time {end}")
        self.store.settle(now)
        page, more = self.store.window(account, start, end, before, keep, limit)
        base = origin(request)
        return {
            "result": [t.new_body(now, base) for t in page],
            "count": len(page),
            "next_cursor": encode_cursor(start, end, page[-1].seq) if more else "",
            "has_more": more,
        }
