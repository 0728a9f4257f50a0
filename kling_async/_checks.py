"""The checks every request type shares (prompts, labels, ids, callbacks, the forward-compatible
extras) and ``Plan``, what a valid request's check says about how it goes out.

``validation`` (image and text to video) and the rules of the other endpoints
(``_rules_video``, ``_rules_images``) use these, so one field is checked one way everywhere.
"""

from __future__ import annotations

import json
import re
import unicodedata
from collections.abc import Iterable, Mapping
from typing import Any

import attrs

from . import _catalog
from .errors import ValidationError
from .models import Element, element_labels

MAX_PROMPT_CHARS = 2500
#: The longest external id sent. The API notes give no cap; 256 is the one the SDK and the
#: emulator have always kept (the ids the SDK makes itself are 44 characters).
MAX_EXTERNAL_ID_CHARS = 256
_LABEL = re.compile(r"[A-Za-z0-9_-]{1,64}")


@attrs.frozen
class Plan:
    """How a valid request goes out: the wire, the model's name there, its family (the
    concurrency window it counts against), the features it uses, and the image/text-to-video
    capabilities that were checked (None for an unchecked model and for the other endpoints,
    whose rules live in ``_surfaces``)."""

    endpoint: _catalog.Endpoint
    wire: _catalog.Wire
    model: str
    family: str
    features: frozenset[str]
    caps: _catalog.Caps | None

    @property
    def sound(self) -> bool:
        return "sound" in self.features or (self.caps is not None and self.caps.always_sound)


def text(
    field: str, value: object, *, required: bool = False, limit: int | None = MAX_PROMPT_CHARS
) -> None:
    """A text field: a string, not blank when required, at most ``limit`` characters (no
    limit for a model the SDK does not know)."""
    if value is None:
        if required:
            raise ValidationError(field, value, "is required")
        return
    if not isinstance(value, str):
        raise ValidationError(field, value, "must be a string")
    if required and not value.strip():
        raise ValidationError(field, value, "must not be blank")
    if limit is not None and len(value) > limit:
        raise ValidationError(field, f"<{len(value)} characters>", f"at most {limit} characters")


def labels(field: str, names: list[str]) -> None:
    """The labels a prompt names inputs by (``@label``): distinct, one word each."""
    for i, label in enumerate(names):
        if not isinstance(label, str) or not _LABEL.fullmatch(label):
            raise ValidationError(
                f"{field}[{i}].id", label, "must be a label of letters, digits, '_' or '-'"
            )
    if len(set(names)) != len(names):
        raise ValidationError(f"{field}.id", names, "labels must differ from each other")


def element_ids(field: str, elements: Iterable[int | str | Element]) -> None:
    """Each element is an element id (a number, or its digits) or an ``Element``."""
    for i, element in enumerate(elements):
        ident = element.element_id if isinstance(element, Element) else element
        ok = (isinstance(ident, int) and not isinstance(ident, bool) and ident > 0) or (
            isinstance(ident, str) and ident.strip().isdigit()
        )
        if not ok:
            raise ValidationError(f"{field}[{i}]", element, "must be an element id (a number)")
        kind = element.kind if isinstance(element, Element) else "image"
        if kind not in ("image", "video"):
            raise ValidationError(f"{field}[{i}].kind", kind, "must be 'image' or 'video'")
    labels(field, [label for _, label in element_labels(elements)])


def options(request: Any, *, empty_callback: bool = False) -> None:
    """``callback_url`` (an http(s) URL; ``""`` too where the API's own example sends one),
    ``external_task_id`` and ``watermark``."""
    url = request.callback_url
    if url is not None and not (
        isinstance(url, str)
        and (url.startswith(("http://", "https://")) or (empty_callback and url == ""))
    ):
        raise ValidationError("callback_url", url, "must be an http(s) URL")
    if request.external_task_id is not None:
        check_external_id(request.external_task_id)
    if request.watermark not in (None, True, False):
        raise ValidationError("watermark", request.watermark, "must be True, False or None")


def check_external_id(value: object, field: str = "external_task_id") -> None:
    """An external id must be one the API can be asked about again: it is how a create whose
    answer was lost is found (``GET /tasks?external_task_ids=a,b`` on the new API, the id in
    the path on the legacy one). Refused: a blank id, one over ``MAX_EXTERNAL_ID_CHARS``, a
    comma (the new API splits the list on it), whitespace at either end (it trims each id),
    control characters and line breaks. The ids the SDK makes (``kling-async-`` + 32 hex
    digits) pass."""
    if not isinstance(value, str) or not value.strip():
        raise ValidationError(field, value, "must be a non-blank string")
    if len(value) > MAX_EXTERNAL_ID_CHARS:
        raise ValidationError(
            field, f"<{len(value)} characters>", f"at most {MAX_EXTERNAL_ID_CHARS} characters"
        )
    lost = "so the task could never be looked up by it (a lost create never reconciled)"
    if "," in value:
        rule = f"must not contain ',': the new API splits external_task_ids on it, {lost}"
        raise ValidationError(field, value, rule)
    for char in value:
        if unicodedata.category(char) in ("Cc", "Cs", "Zl", "Zp"):
            raise ValidationError(
                field,
                value,
                f"must not contain control characters or line breaks (U+{ord(char):04X}), {lost}",
            )
    if value != value.strip():
        raise ValidationError(
            field, value, f"must not begin or end with whitespace: the API trims each id, {lost}"
        )


def _json(field: str, value: object) -> None:
    try:
        json.dumps(value, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise ValidationError(field, value, f"must be JSON (sent as given): {exc}") from None


def _mapping(field: str, value: object) -> None:
    if value is None:
        return
    if not isinstance(value, Mapping) or not all(isinstance(k, str) for k in value):
        raise ValidationError(field, value, "must be a mapping of field names to values")
    _json(field, dict(value))


def extras(request: Any, wire: str, fields: tuple[str, ...]) -> None:
    """The forward-compatible extras a request type has (``fields``): JSON, and on the wire
    that has a place for them (``contents``/``settings``/``options`` exist on the new API
    only; ``extra_body`` goes anywhere)."""
    for name in fields:
        value = getattr(request, name)
        if name == "extra_contents":
            for i, item in enumerate(value):
                if not isinstance(item, Mapping) or not isinstance(item.get("type"), str):
                    raise ValidationError(
                        f"extra_contents[{i}]", item, "must be a mapping with a 'type'"
                    )
                _mapping(f"extra_contents[{i}]", item)
        else:
            _mapping(name, value)
        given = bool(value) if name == "extra_contents" else value is not None
        if given and wire != "new" and name != "extra_body":
            raise ValidationError(
                name, "given", "the legacy API has no contents/settings/options: use extra_body"
            )


def merged(body: dict[str, Any], request: Any) -> dict[str, Any]:
    """``body`` with the request's extras merged last, as given."""
    contents = getattr(request, "extra_contents", ())
    if contents:
        body["contents"] = [*body.get("contents", []), *(dict(c) for c in contents)]
    for name, key in (("extra_settings", "settings"), ("extra_options", "options")):
        extra = getattr(request, name, None)
        if extra:
            body[key] = {**body.get(key, {}), **extra}
    top = getattr(request, "extra_body", None)
    if top:
        body.update(top)
    return body
