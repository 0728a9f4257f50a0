"""The rules of an image-generation create (``ImageGeneration``, ``POST /v1/images/generations``)
as the vendor's page states them (``_surfaces``)."""

from __future__ import annotations

from . import _checks, _images
from ._checks import Plan
from ._surfaces import (
    IMAGE_MAX_INPUTS,
    IMAGE_N,
    IMAGE_RATIOS,
    IMAGE_REFERENCES,
    IMAGE_RESOLUTIONS,
    IMAGES,
)
from .errors import ValidationError
from .image_requests import ImageGeneration

#: An image task counts against the image resource pack, per model.
FAMILY_PREFIX = "image:"


def _fidelity(field: str, value: object, model: str, offered: bool | None) -> None:
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 1:
        raise ValidationError(field, value, "must be a number from 0 to 1")
    if offered is False:
        raise ValidationError(field, value, f"{model} has none (kling-v2-1 only)")


def _choice(field: str, value: object, allowed: tuple[str, ...], known: bool) -> None:
    if value is None:
        return
    if known and value not in allowed:
        raise ValidationError(field, value, f"one of {', '.join(allowed)}")
    if not isinstance(value, str) or not value:
        raise ValidationError(field, value, "must be a non-empty string")


def plan(request: ImageGeneration, *, allow_unknown_models: bool) -> Plan:
    model = request.model
    if not isinstance(model, str) or not model:
        raise ValidationError("model", model, "must be a model name like 'kling-v3'")
    caps = IMAGES.get(model)
    if caps is None and not allow_unknown_models:
        raise ValidationError(
            "model",
            model,
            f"is not an image model this SDK knows ({', '.join(IMAGES)}); pass "
            "allow_unknown_models=True to send it unchecked",
        )
    known = caps is not None
    limit = caps.prompt_chars if caps is not None else None
    _checks.text("prompt", request.prompt, required=True, limit=limit)
    _checks.text("negative_prompt", request.negative_prompt, limit=limit)
    if request.negative_prompt and request.image is not None:
        raise ValidationError(
            "negative_prompt", request.negative_prompt, "not taken with image (image to image)"
        )
    if request.image_reference is not None:
        if request.image_reference not in IMAGE_REFERENCES:
            raise ValidationError(
                "image_reference", request.image_reference, "must be 'subject' or 'face'"
            )
        if request.image is None:
            raise ValidationError("image", None, "is required with image_reference")
    offered = caps.fidelity if caps is not None else None
    _fidelity("image_fidelity", request.image_fidelity, model, offered)
    _fidelity("human_fidelity", request.human_fidelity, model, offered)
    _choice("resolution", request.resolution, IMAGE_RESOLUTIONS, known)
    _choice("aspect_ratio", request.aspect_ratio, IMAGE_RATIOS, known)
    n, (low, high) = request.n, IMAGE_N
    if isinstance(n, bool) or not isinstance(n, int) or n < 1 or (known and n > high):
        raise ValidationError("n", n, f"must be a whole number from {low} to {high}")
    _checks.element_ids("elements", request.elements)
    inputs = len(request.elements) + (request.image is not None)
    if inputs > IMAGE_MAX_INPUTS:
        raise ValidationError(
            "elements + image", f"<{inputs} inputs>", f"at most {IMAGE_MAX_INPUTS} together"
        )
    _checks.options(request, empty_callback=True)
    _checks.extras(request, "legacy", ("extra_body",))
    return Plan("images", "legacy", model, FAMILY_PREFIX + model, frozenset(), None)


async def check_images(request: ImageGeneration) -> None:
    """Read the reference image's header (in a worker thread): jpg/png, ≤ 10 MB, ≥ 300 px."""
    if request.image is not None:
        source = _images.locate("image", request.image)
        await _images.inspect_async(source, max_bytes=_images.WIRE_MAX_BYTES["legacy"])
