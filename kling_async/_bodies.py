"""The JSON bodies (and paths) of the creates beyond image and text to video: omni video and
motion control on the new API, image generation on ``/v1/images/generations``. Images are
read and encoded in a worker thread (``encoded``); the request's forward-compatible extras
are merged last, as given. Nothing here decides validity: ``validation.plan`` did."""

from __future__ import annotations

import asyncio
from typing import Any
from urllib.parse import quote

from . import _checks, _images
from ._catalog import RESOLUTIONS
from ._checks import Plan
from .image_requests import ImageGeneration
from .models import ImageInput, element_labels, shot_text
from .video_requests import MotionControl, OmniVideo, omni_images, video_label

IMAGES_PATH = "/v1/images/generations"


async def encoded(field: str, value: ImageInput) -> str:
    """The image as it goes on the wire: a URL as it is (no thread hop), anything else
    read and base64-encoded in a worker thread."""
    source = _images.locate(field, value)
    if source.kind == "url":
        return _images.wire(source)
    return await asyncio.to_thread(_images.wire, source)


def _options(request: OmniVideo | MotionControl) -> dict[str, Any]:
    options: dict[str, Any] = {"external_task_id": request.external_task_id}
    if request.callback_url is not None:
        options["callback_url"] = request.callback_url
    if request.watermark is not None:
        options["watermark_info"] = {"enabled": request.watermark}
    return options


def _elements(request: OmniVideo | MotionControl) -> list[dict[str, Any]]:
    return [
        {"type": "element", "element_id": element_id, "id": label}
        for element_id, label in element_labels(request.elements)
    ]


async def omni_body(request: OmniVideo, plan: Plan) -> dict[str, Any]:
    """``{contents, settings, options}``: the prompt (shots rendered into it), the images
    (frames, then reference images), the elements, the video — each with its label."""
    prompt = request.prompt
    if request.multi_prompt:
        shots = shot_text(request.multi_prompt)
        prompt = f"{prompt} {shots}" if prompt else shots
    contents: list[dict[str, Any]] = []
    if prompt is not None:
        contents.append({"type": "prompt", "text": prompt})
    for kind, image, label in omni_images(request):
        contents.append({"type": kind, "url": await encoded(kind, image), "id": label})
    contents.extend(_elements(request))
    if request.video is not None:
        contents.append(
            {
                "type": f"{request.video.role}_video",
                "url": request.video.url,
                "id": video_label(request.video),
            }
        )
    settings: dict[str, Any] = {"resolution": RESOLUTIONS.get(request.mode, request.mode)}
    if request.duration is not None:
        settings["duration"] = int(request.duration)
    if request.aspect_ratio is not None:
        settings["aspect_ratio"] = request.aspect_ratio
    if request.audio is not None:
        settings["audio"] = request.audio
    if plan.family != "o1":  # O1 has no multi-shot setting
        if "multi_shot" in plan.features:
            settings["multi_shot"] = True
        elif request.multi_shot is False or (
            request.multi_shot is None
            and request.video is not None
            and request.video.role == "base"
        ):
            settings["multi_shot"] = False
    body = {"contents": contents, "settings": settings, "options": _options(request)}
    return _checks.merged(body, request)


async def motion_body(request: MotionControl) -> dict[str, Any]:
    """``{contents: [prompt, image, video, element], settings, options}``."""
    contents: list[dict[str, Any]] = []
    if request.prompt is not None:
        contents.append({"type": "prompt", "text": request.prompt})
    assert request.image is not None  # validated
    assert request.video_url is not None
    contents.append({"type": "image", "url": await encoded("image", request.image)})
    contents.append({"type": "video", "url": request.video_url})
    contents.extend(_elements(request))
    settings: dict[str, Any] = {
        "character_orientation": request.character_orientation,
        "resolution": RESOLUTIONS.get(request.mode, request.mode),
    }
    if request.keep_original_sound is not None:
        settings["audio"] = "original" if request.keep_original_sound else "off"
    body = {"contents": contents, "settings": settings, "options": _options(request)}
    return _checks.merged(body, request)


#: The image request's fields the body carries under their own names, when given.
_IMAGE_AS_GIVEN = (
    "negative_prompt",
    "image_reference",
    "image_fidelity",
    "human_fidelity",
    "resolution",
    "aspect_ratio",
    "callback_url",
    "external_task_id",
)


def given(request: object, names: tuple[str, ...]) -> dict[str, Any]:
    """The attributes ``names`` of ``request`` that are set (None ones left out), by name: the
    fields a legacy-style body carries as they are, in the order named."""
    values = {name: getattr(request, name) for name in names}
    return {name: value for name, value in values.items() if value is not None}


async def image_body(request: ImageGeneration, plan: Plan) -> dict[str, Any]:
    """The legacy-style body: ``model_name`` and the fields given (None ones left out)."""
    body: dict[str, Any] = {"model_name": plan.model, "prompt": request.prompt, "n": request.n}
    body.update(given(request, _IMAGE_AS_GIVEN))
    if request.image is not None:
        body["image"] = await encoded("image", request.image)
    if request.elements:
        body["element_list"] = [{"element_id": int(e)} for e, _ in element_labels(request.elements)]
    if request.watermark is not None:
        body["watermark_info"] = {"enabled": request.watermark}
    return _checks.merged(body, request)


async def build(
    request: OmniVideo | MotionControl | ImageGeneration, plan: Plan
) -> tuple[str, dict[str, Any]]:
    """The path and body of a create of one of these endpoints."""
    if isinstance(request, ImageGeneration):
        return IMAGES_PATH, await image_body(request, plan)
    model = quote(plan.model, safe="")
    if isinstance(request, OmniVideo):
        return f"/omni-video/{model}", await omni_body(request, plan)
    return f"/motion-control/{model}", await motion_body(request)
