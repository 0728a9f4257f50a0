"""The one cattrs converter: wire bodies <-> attrs models.

Lenient where the API is loose (unknown fields kept, unknown statuses tolerated, numbers that
arrive as strings), strict where a wrong type would mislead: a structuring failure becomes a
``ResponseFormatError`` naming the path (``$.task_result.videos[0].url``).
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

import attrs
import cattrs
from cattrs.gen import make_dict_structure_fn, override

from .errors import ResponseFormatError
from .models import CameraControl
from .results import AccountCosts, Cost, Image, ResourcePack, Task, Video
from .states import TaskStatus

converter = cattrs.Converter(forbid_extra_keys=False)

_TASK_FIELDS = frozenset(
    {"task_id", "task_status", "task_status_msg", "task_info", "created_at", "updated_at",
     "final_unit_deduction", "final_balance_deduction", "task_result"}
)  # fmt: skip
_NEW_TASK_FIELDS = frozenset(
    {"id", "status", "message", "create_time", "update_time", "external_id", "outputs", "billing"}
)
_MAX_MS = 253_402_300_799_999  # 9999-12-31


def _number(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise TypeError(f"expected a number or a numeric string, got {type(value).__name__}")
    number = float(value)
    if not math.isfinite(number):
        raise ValueError(f"{value!r} is not a finite number")
    return number


def _decimal(value: Any) -> Decimal:
    """An amount of money, exactly: a number or a numeric string."""
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise TypeError(f"expected an amount, got {type(value).__name__}")
    try:
        amount = Decimal(str(value).strip())
    except InvalidOperation:
        raise ValueError(f"{value!r} is not an amount") from None
    if not amount.is_finite():
        raise ValueError(f"{value!r} is not a finite amount")
    return amount


def _index(value: Any, _: Any) -> int:
    if isinstance(value, bool):
        raise TypeError("expected an image number, got a bool")
    number = _number(value)
    if number != int(number) or number < 0:
        raise ValueError(f"{value!r} is not an image number")
    return int(number)


def _optional_number(value: Any, _: Any) -> float | None:
    return None if value in (None, "") else _number(value)


def _timestamp(value: Any, _: Any) -> datetime | None:
    """Unix milliseconds (int or numeric string) -> an aware UTC datetime."""
    if value in (None, "", 0):
        return None
    ms = _number(value)
    if not 0 <= ms <= _MAX_MS:
        raise ValueError(f"timestamp {value!r} ms is out of range")
    return datetime.fromtimestamp(ms / 1000, tz=UTC)


def _string(value: Any, _: Any) -> str:
    if not isinstance(value, str | int) or isinstance(value, bool):
        raise TypeError(f"expected a string, got {type(value).__name__}")
    return str(value)


def _optional_string(value: Any, _: Any) -> str | None:
    return None if value is None or value == "" else _string(value, None)


#: Longest task id the SDK accepts from a server (Kling's are about 20 characters).
MAX_TASK_ID_LENGTH = 128
_TASK_ID = re.compile(rf"[A-Za-z0-9._~-]{{1,{MAX_TASK_ID_LENGTH}}}")
TASK_ID_RULE = (
    f"non-empty, at most {MAX_TASK_ID_LENGTH} characters of A-Z a-z 0-9 - _ . ~, "
    "and not '.' or '..'"
)


def _shown(value: str, limit: int = 60) -> str:
    text = repr(value)
    if len(text) <= limit:
        return text
    return f"{text[: limit - 4]}...' ({len(value)} characters)"


def usable_task_id(value: Any) -> bool:
    """Whether ``value`` is a task id the SDK can put in a URL path as one segment: URL-safe
    characters only (RFC 3986 unreserved), 1..128 of them, not a dot segment."""
    return (
        isinstance(value, str)
        and _TASK_ID.fullmatch(value) is not None
        and value not in (".", "..")
    )


def _task_id(value: Any, field: str, body: Any) -> str:
    """The server's id of a task (``task_id`` legacy, ``id`` new). It goes back into query
    paths and journals, so one that cannot is refused here, naming the field and the value."""
    ident = _string(value, None)
    if not usable_task_id(ident):
        raise ResponseFormatError(
            f"{field}: {_shown(ident)} is not a usable task id ({TASK_ID_RULE})", body=body
        )
    return ident


converter.register_structure_hook(datetime, _timestamp)
converter.register_structure_hook(TaskStatus, lambda v, _: TaskStatus.parse(v))


def _structure_fields(cls: type[Any], **fields: Any) -> None:
    """``cls`` structured from a dict, the fields named in ``fields`` as they say (their own
    hook, a wire name of their own)."""
    converter.register_structure_hook(cls, make_dict_structure_fn(cls, converter, **fields))


_structure_fields(
    Video,
    id=override(struct_hook=_string),
    url=override(struct_hook=_string),
    watermark_url=override(struct_hook=_optional_string),
    duration=override(struct_hook=_optional_number),
)
_structure_fields(
    Image,
    index=override(struct_hook=_index),
    url=override(struct_hook=_string),
    watermark_url=override(struct_hook=_optional_string),
)
_structure_fields(
    ResourcePack,
    name=override(rename="resource_pack_name", struct_hook=_string),
    pack_id=override(rename="resource_pack_id", struct_hook=_string),
    pack_type=override(rename="resource_pack_type", struct_hook=_string),
    total=override(rename="total_quantity", struct_hook=_optional_number),
    remaining=override(rename="remaining_quantity", struct_hook=_optional_number),
    status=override(struct_hook=_string),
    purchased_at=override(rename="purchase_time"),
    effective_at=override(rename="effective_time"),
    expires_at=override(rename="invalid_time"),
)


def _mapping(value: Any, where: str) -> Mapping[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise TypeError(f"{where}: expected an object, got {type(value).__name__}")
    return value


def _balance_deduction(value: Any) -> Cost | None:
    """The legacy ``final_balance_deduction``: ``quota`` (the price paid) and ``list_price``;
    the legacy API names no currency."""
    deduction = _mapping(value, "final_balance_deduction")
    if deduction.get("quota") in (None, ""):
        return None
    price = deduction.get("list_price")
    return Cost(
        amount=_decimal(deduction["quota"]),
        list_price=None if price in (None, "") else _decimal(price),
    )


def _billed_cash(charges: list[Mapping[str, Any]]) -> Cost | None:
    """The new API's ``billing[]`` items of ``charge_type: cash``, added up (one currency)."""
    cash = [c for c in charges if c.get("charge_type") == "cash"]
    if not cash:
        return None
    currencies = {str(c["currency"]) for c in cash if c.get("currency") not in (None, "")}
    if len(currencies) > 1:
        raise ValueError(f"billing: cash charged in several currencies {sorted(currencies)}")
    prices = [c.get("list_price") for c in cash if c.get("list_price") not in (None, "")]
    return Cost(
        amount=sum((_decimal(c.get("amount")) for c in cash), Decimal(0)),
        currency=_string(currencies.pop(), None) if currencies else None,
        list_price=sum((_decimal(p) for p in prices), Decimal(0)) if prices else None,
    )


@attrs.frozen
class _TaskKeys:
    """Where one wire's task body keeps what every task has."""

    task_id: str
    status: str
    message: str
    created_at: str
    updated_at: str
    wire: str
    #: The keys read into the task's fields; the others are kept in ``extra``.
    known: frozenset[str]


_LEGACY_KEYS = _TaskKeys(
    "task_id", "task_status", "task_status_msg", "created_at", "updated_at", "legacy", _TASK_FIELDS
)
_NEW_KEYS = _TaskKeys(
    "id", "status", "message", "create_time", "update_time", "new", _NEW_TASK_FIELDS
)


def _task(
    body: Mapping[str, Any],
    kind: str,
    keys: _TaskKeys,
    *,
    external_task_id: str | None,
    videos: tuple[Video, ...],
    images: tuple[Image, ...],
    units: float | None,
    cost: Cost | None,
) -> Task:
    """A task of either wire: what every task has read from where ``keys`` says, the rest
    as the wire's own reader found it."""
    raw_status = body.get(keys.status)
    message = body.get(keys.message)
    return Task(
        task_id=_task_id(body[keys.task_id], keys.task_id, body),
        status=TaskStatus.parse(raw_status),
        external_task_id=external_task_id,
        status_message=message if isinstance(message, str) else "",
        created_at=_timestamp(body.get(keys.created_at), None),
        updated_at=_timestamp(body.get(keys.updated_at), None),
        videos=videos,
        images=images,
        units=units,
        cost=cost,
        raw_status=str(raw_status) if raw_status is not None else "",
        kind=kind,
        wire=keys.wire,
        extra={k: v for k, v in body.items() if k not in keys.known},
        raw=dict(body),
    )


def _structure_task(body: Mapping[str, Any], kind: str) -> Task:
    info = _mapping(body.get("task_info"), "task_info")
    result = _mapping(body.get("task_result"), "task_result")
    videos = result.get("videos") or []
    if not isinstance(videos, list):
        raise TypeError("task_result.videos: expected a list")
    images = result.get("images") or []
    if not isinstance(images, list):
        raise TypeError("task_result.images: expected a list")
    if "task_id" not in body:
        raise KeyError("task_id")
    return _task(
        body,
        kind,
        _LEGACY_KEYS,
        external_task_id=_optional_string(info.get("external_task_id"), None),
        videos=tuple(converter.structure(v, Video) for v in videos),
        images=tuple(converter.structure(i, Image) for i in images),
        units=_optional_number(body.get("final_unit_deduction"), None),
        cost=_balance_deduction(body.get("final_balance_deduction")),
    )


def _structure_new_task(body: Mapping[str, Any], kind: str) -> Task:
    """A task of the new API: ``{id, status, message, create_time, update_time, external_id,
    outputs[], billing[]}``. ``video`` outputs become videos, ``image`` outputs images
    (numbered in order; audio, voice and element outputs stay in ``raw``); units are the
    resource-pack amounts of ``billing``, ``cost`` its cash amounts (None when it says
    nothing)."""
    if "id" not in body:
        raise KeyError("id")
    outputs = body.get("outputs") or []
    if not isinstance(outputs, list):
        raise TypeError("outputs: expected a list")
    videos: list[Video] = []
    images: list[Image] = []
    for i, item in enumerate(outputs):
        item = _mapping(item, f"outputs[{i}]")
        kind_of = item.get("type", "video")
        if kind_of == "video":
            videos.append(converter.structure(item, Video))
        elif kind_of == "image":
            numbered = {"index": len(images), **item}
            images.append(converter.structure(numbered, Image))
    billing = body.get("billing") or []
    if not isinstance(billing, list):
        raise TypeError("billing: expected a list")
    charges = [_mapping(b, f"billing[{i}]") for i, b in enumerate(billing)]
    amounts = [_number(b.get("amount")) for b in charges if b.get("charge_type") == "unit"]
    return _task(
        body,
        kind,
        _NEW_KEYS,
        external_task_id=_optional_string(body.get("external_id"), None),
        videos=tuple(videos),
        images=tuple(images),
        units=sum(amounts) if amounts else None,
        cost=_billed_cash(charges),
    )


def _fail(what: str, exc: Exception, body: Any) -> ResponseFormatError:
    if isinstance(exc, cattrs.BaseValidationError):
        detail = "; ".join(cattrs.transform_error(exc, path="$"))
    else:
        detail = f"{type(exc).__name__}: {exc}"
    return ResponseFormatError(f"{what}: unexpected shape: {detail}", body=body)


def task_from_wire(body: Any, kind: str, wire: str = "legacy") -> Task:
    """A task object from the API (query, list item, create answer or callback body) of the
    legacy (``task_id``/``task_status``) or the new (``id``/``status``) shape."""
    try:
        if not isinstance(body, Mapping):
            raise TypeError(f"expected a task object, got {type(body).__name__}")
        if wire == "new":
            return _structure_new_task(body, kind)
        return _structure_task(body, kind)
    except (cattrs.BaseValidationError, TypeError, ValueError, KeyError, OverflowError) as exc:
        raise _fail("task", exc, body) from None


def tasks_from_wire(data: Any, kind: str, wire: str = "legacy") -> list[Task]:
    if not isinstance(data, list):
        raise ResponseFormatError(
            f"task list: expected an array, got {type(data).__name__}", body=data
        )
    return [task_from_wire(item, kind, wire) for item in data]


def split_tasks_from_wire(
    data: Any, kind: str, wire: str = "legacy"
) -> tuple[list[Task], list[tuple[str | None, ResponseFormatError]]]:
    """A task list parsed item by item: ``(tasks, failures)``. One unreadable item does not
    hide the others: it goes to ``failures`` with the id it carries (``task_id`` legacy,
    ``id`` new) when that can be read as a usable id, else None. ``data`` that is not a list
    at all still raises ``ResponseFormatError``; ``tasks_from_wire`` is the all-or-nothing
    form."""
    if not isinstance(data, list):
        raise ResponseFormatError(
            f"task list: expected an array, got {type(data).__name__}", body=data
        )
    tasks: list[Task] = []
    failures: list[tuple[str | None, ResponseFormatError]] = []
    key = "id" if wire == "new" else "task_id"
    for item in data:
        try:
            tasks.append(task_from_wire(item, kind, wire))
        except ResponseFormatError as exc:
            ident: Any = item.get(key) if isinstance(item, Mapping) else None
            if isinstance(ident, int) and not isinstance(ident, bool):
                ident = str(ident)  # the parser reads a numeric id as its digits too
            failures.append((ident if usable_task_id(ident) else None, exc))
    return tasks, failures


def callback_wire(body: Any) -> str:
    """Which shape a callback body has: ``new`` (``id``/``status``) or ``legacy``."""
    if isinstance(body, Mapping) and "task_id" not in body and "id" in body:
        return "new"
    return "legacy"


def costs_from_wire(data: Any) -> AccountCosts:
    try:
        body = _mapping(data, "data")
        packs = body.get("resource_pack_subscribe_infos") or []
        if not isinstance(packs, list):
            raise TypeError("resource_pack_subscribe_infos: expected a list")
        return AccountCosts(
            packs=tuple(converter.structure(p, ResourcePack) for p in packs), raw=dict(body)
        )
    except (cattrs.BaseValidationError, TypeError, ValueError, KeyError, OverflowError) as exc:
        raise _fail("account costs", exc, data) from None


def camera_to_wire(camera: CameraControl) -> dict[str, Any]:
    out: dict[str, Any] = {"type": camera.type}
    if camera.config is not None:
        out["config"] = converter.unstructure(camera.config)
    return out
