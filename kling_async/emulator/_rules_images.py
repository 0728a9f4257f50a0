"""Image generation: ``POST /v1/images/generations`` (the legacy wire: JWT or API key).

The emulator's reading of the vendor pages kling-image-2.1-generation and
kling-image-omni-3.0-generation (the same body): ``model_name`` kling-v2-1 | kling-v3 (default)
— and kling-v3-omni, the Image 3.0 Omni model the omni page is about; ``prompt`` required, at
most 2,500 characters; ``negative_prompt`` at most 2,500 and not with an ``image``
(image-to-image); ``image`` a URL or bare base64 (.jpg/.jpeg/.png, up to 10 MB, sides >= 300
px, 1:2.5 to 2.5:1), required with ``image_reference`` subject|face; ``image_fidelity`` and
``human_fidelity`` 0..1, kling-v2-1 only; ``element_list`` [{element_id}], elements plus
reference images at most 10; ``resolution`` 1k|2k; ``n`` 1-9; ``aspect_ratio`` one of eight;
``watermark_info``, ``callback_url``, ``external_task_id`` ("" stands for none, as the example
sends). The old ``model`` field is taken and ignored, as the page says. Anything else: 1201.

An image task makes ``n`` images and holds ``n`` parallel-task slots of its model (the
concurrency page: "image task = n slots"), in the image pack, not the video one.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ._contents import unknown_fields
from ._errors import Rejection, invalid
from ._images import read_image
from ._models import MAX_PROMPT
from ._shared import (
    TaskSpec,
    choice_field,
    common_fields,
    integer_value,
    string_field,
)

IMAGE_MODELS = ("kling-v2-1", "kling-v3", "kling-v3-omni")
DEFAULT_IMAGE_MODEL = "kling-v3"
FIELDS = (
    "model_name",
    "model",
    "prompt",
    "negative_prompt",
    "image",
    "image_reference",
    "image_fidelity",
    "human_fidelity",
    "element_list",
    "resolution",
    "n",
    "aspect_ratio",
    "watermark_info",
    "callback_url",
    "external_task_id",
)
IMAGE_RATIOS = ("16:9", "9:16", "1:1", "4:3", "3:4", "3:2", "2:3", "21:9")
IMAGE_RESOLUTIONS = ("1k", "2k")
MAX_IMAGES = 9
MAX_REFERENCES = 10


def _fidelity(body: Mapping[str, Any], field: str, model: str) -> None:
    value = body.get(field)
    if value is None:
        return
    if model != "kling-v2-1":
        raise invalid(f"{field}: only kling-v2-1 takes it, not {model}")
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 1:
        raise invalid(f"{field}: {value!r:.40} must be a number from 0 to 1")


def _elements(body: Mapping[str, Any], references: int) -> int:
    items = body.get("element_list")
    if items is None:
        return 0
    if not isinstance(items, list):
        raise invalid(f"element_list: expected a list of {{element_id}}, got {items!r:.40}")
    for i, item in enumerate(items):
        ident = item.get("element_id") if isinstance(item, dict) else None
        if integer_value(ident) is None:
            raise invalid(f"element_list[{i}].element_id: {ident!r:.40} must be an integer id")
    if len(items) + references > MAX_REFERENCES:
        raise invalid(
            f"element_list: {len(items)} elements + {references} reference images = "
            f"{len(items) + references}; at most {MAX_REFERENCES}"
        )
    return len(items)


def _count(body: Mapping[str, Any]) -> int:
    n = body.get("n", 1)
    if isinstance(n, bool) or not isinstance(n, int) or not 1 <= n <= MAX_IMAGES:
        raise invalid(f"n: {n!r:.40} must be an integer from 1 to {MAX_IMAGES}")
    return n


def check_image_generation(body: Mapping[str, Any]) -> TaskSpec:
    """Validate an image-generation create; raise ``Rejection`` naming the field and rule."""
    unknown_fields(body, FIELDS, "POST /v1/images/generations", "")
    model = string_field(body, "model_name") or DEFAULT_IMAGE_MODEL
    if model not in IMAGE_MODELS:
        raise Rejection(
            404,
            1203,
            f"model_name: model {model!r} not found: /v1/images/generations serves "
            f"{', '.join(IMAGE_MODELS)}",
        )
    prompt = string_field(body, "prompt", limit=MAX_PROMPT)
    if not prompt or not prompt.strip():
        raise invalid("prompt: required and must not be blank")
    negative = string_field(body, "negative_prompt", limit=MAX_PROMPT)
    raw_image = body.get("image")
    image = read_image("image", raw_image) if raw_image not in (None, "") else None
    if negative and image is not None:
        raise invalid("negative_prompt: not supported in image-to-image (an image is given)")
    reference = choice_field(body, "image_reference", ("subject", "face"))
    if reference is not None and image is None:
        raise invalid(f"image: required with image_reference {reference!r}")
    _fidelity(body, "image_fidelity", model)
    _fidelity(body, "human_fidelity", model)
    elements = _elements(body, 1 if image is not None else 0)
    resolution = choice_field(body, "resolution", IMAGE_RESOLUTIONS) or "1k"
    n = _count(body)
    aspect = choice_field(body, "aspect_ratio", IMAGE_RATIOS) or "16:9"
    common = common_fields(body, empty_is_absent=True)
    features = {"image_to_image"} if image is not None else set()
    if elements:
        features.add("elements")
    return TaskSpec(
        kind="image_generation",
        model=model,
        mode=resolution,
        duration="0",
        prompt=prompt,
        features=frozenset(features),
        image=image,
        aspect_ratio=aspect,
        wire="legacy",
        family=f"image:{model}",
        product="image",
        count=n,
        **common,
    )
