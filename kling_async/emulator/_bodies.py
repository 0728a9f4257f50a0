"""Reading request bodies without letting one request, or many at once, exhaust the process.

- A body larger than its route's cap is refused before it is read when ``Content-Length``
  says so, and as soon as the bytes read pass the cap otherwise (chunked uploads): code 1200
  with HTTP 400, as the vendor's error table pairs them. The rest of the upload is read and
  dropped (aiohttp's lingering close, bounded in time), never buffered.
- All requests together hold at most ``body_budget_bytes`` of bodies in memory: a request
  reserves its declared size (or its cap, when undeclared) before reading and waits while the
  budget is spent; the reservation lasts until the handler has finished with the body.
- JSON nested deeper than ``MAX_DEPTH`` (or too deep for the parser at all) is code 1200,
  never an internal error.
"""

from __future__ import annotations

import json
from typing import Any

from aiohttp import web

from ._errors import Rejection

#: Deepest nesting of objects and lists a body may have (the API's own bodies reach 4).
MAX_DEPTH = 32


def _too_large(size: int, cap: int) -> Rejection:
    # the answer goes out at once; aiohttp then reads what is left of the upload and drops it
    # (for at most its lingering time), so nothing more of it is held in memory
    return Rejection(
        400, 1200, f"Request body of {size} bytes exceeds the limit of {cap} bytes for this API"
    )


async def read_capped(request: web.Request, cap: int) -> bytes:
    """The body, or 1200 once it is known to exceed ``cap`` bytes."""
    declared = request.content_length
    if declared is not None and declared > cap:
        raise _too_large(declared, cap)
    parts: list[bytes] = []
    size = 0
    while True:
        chunk = await request.content.readany()
        if not chunk:
            break
        size += len(chunk)
        if size > cap:
            raise _too_large(size, cap)
        parts.append(chunk)
    return b"".join(parts)


def _depth_ok(value: Any) -> bool:
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if depth > MAX_DEPTH:
            return False
        if isinstance(item, dict):
            stack.extend((v, depth + 1) for v in item.values())
        elif isinstance(item, list):
            stack.extend((v, depth + 1) for v in item)
    return True


def parse_object(raw: bytes) -> dict[str, Any]:
    """A request body as a JSON object; 1200 when it is not one (or is nested too deeply)."""
    try:
        body = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        raise Rejection(400, 1200, "Request body is not valid JSON") from None
    except RecursionError:
        raise Rejection(
            400, 1200, f"Request body is nested too deeply (at most {MAX_DEPTH} levels)"
        ) from None
    if not isinstance(body, dict):
        raise Rejection(400, 1200, "Request body must be a JSON object")
    if not _depth_ok(body):
        raise Rejection(
            400, 1200, f"Request body is nested too deeply (at most {MAX_DEPTH} levels)"
        )
    return body
