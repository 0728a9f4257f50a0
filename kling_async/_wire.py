"""One request model, two wires: the JSON body (and path) of a create on the legacy API and on
the new one. Images are read and encoded in a worker thread; nothing here decides validity —
``validation.plan`` did that and says which wire and model name to use."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import attrs

from . import _bodies, _checks
from ._bodies import encoded as _encoded
from ._catalog import RESOLUTIONS
from ._convert import camera_to_wire
from .image_requests import ImageGeneration
from .models import (
    ImageToVideo,
    Request,
    TextToVideo,
    element_labels,
    new_prompt,
    voice_labels,
)
from .validation import AnyRequest, Plan
from .video_requests import MotionControl, OmniVideo

#: The new API's path segment for each endpoint.
NEW_PATHS = {"image2video": "image-to-video", "text2video": "text-to-video"}


@attrs.frozen
class CreateCall:
    """A create ready to send: where, what, and the external id it carries."""

    plan: Plan
    path: str
    body: dict[str, Any] = attrs.field(repr=False)
    external_task_id: str

    @property
    def wire(self) -> str:
        return self.plan.wire


async def build(request: AnyRequest, plan: Plan) -> CreateCall:
    """The create call for ``request`` (which must carry an ``external_task_id``). The
    request's forward-compatible extras (``extra_settings``...) are merged last, as given."""
    external_id = request.external_task_id
    assert external_id is not None, "give the request an external_task_id first"
    if isinstance(request, OmniVideo | MotionControl | ImageGeneration):
        path, body = await _bodies.build(request, plan)
        return CreateCall(plan, path, body, external_id)
    if plan.wire == "new":
        path = f"/{NEW_PATHS[plan.endpoint]}/{quote(plan.model, safe='')}"
        body = await _new_body(request, plan)
    else:
        path = f"/v1/videos/{plan.endpoint}"
        body = await _legacy_body(request, plan)
    return CreateCall(plan, path, _checks.merged(body, request), external_id)


# -- legacy ------------------------------------------------------------------------------


#: The video request's fields the legacy body carries under their own names, when given.
_LEGACY_AS_GIVEN = ("prompt", "negative_prompt", "cfg_scale", "callback_url", "external_task_id")


async def _legacy_body(request: Request, plan: Plan) -> dict[str, Any]:
    body: dict[str, Any] = {
        "model_name": plan.model,
        "mode": request.mode,
        "duration": str(request.duration),
    }
    body.update(_bodies.given(request, _LEGACY_AS_GIVEN))
    if request.camera_control is not None:
        body["camera_control"] = camera_to_wire(request.camera_control)
    if request.sound is not None:
        body["sound"] = "on" if request.sound else "off"
    if request.voices:
        body["voice_list"] = [{"voice_id": v} for v, _ in voice_labels(request.voices)]
    if request.watermark is not None:
        body["watermark_info"] = {"enabled": request.watermark}
    if "multi_shot" in plan.features:
        body["multi_shot"] = True
        if request.multi_prompt:
            body["shot_type"] = "customize"
            body["multi_prompt"] = [
                {"index": i, "prompt": shot.prompt, "duration": str(shot.duration)}
                for i, shot in enumerate(request.multi_prompt, start=1)
            ]
        else:
            body["shot_type"] = request.shot_type or "intelligence"
    elif request.multi_shot is False:
        body["multi_shot"] = False
    if isinstance(request, TextToVideo):
        body["aspect_ratio"] = request.aspect_ratio
        return body
    if request.elements:
        body["element_list"] = [{"element_id": int(e)} for e, _ in element_labels(request.elements)]
    for name, value in (
        ("image", request.image),
        ("image_tail", request.image_tail),
        ("static_mask", request.static_mask),
    ):
        if value is not None:
            body[name] = await _encoded(name, value)
    if request.dynamic_masks:
        body["dynamic_masks"] = [
            {
                "mask": await _encoded(f"dynamic_masks[{i}].mask", stroke.mask),
                "trajectories": [{"x": p.x, "y": p.y} for p in stroke.trajectories],
            }
            for i, stroke in enumerate(request.dynamic_masks)
        ]
    return body


# -- new ---------------------------------------------------------------------------------


async def _new_body(request: Request, plan: Plan) -> dict[str, Any]:
    settings: dict[str, Any] = {
        "resolution": RESOLUTIONS.get(request.mode, request.mode),
        "duration": int(request.duration),
    }
    always_sound = plan.caps is not None and plan.caps.always_sound
    if request.voices:
        settings["audio"] = "native"
    elif request.sound is False or (request.sound is True and not always_sound):
        settings["audio"] = "native" if request.sound else "off"
    if plan.caps is None or plan.caps.multi_shot_setting:
        if "multi_shot" in plan.features:
            settings["multi_shot"] = True
        elif request.multi_shot is False:
            settings["multi_shot"] = False
    options: dict[str, Any] = {"external_task_id": request.external_task_id}
    if request.callback_url is not None:
        options["callback_url"] = request.callback_url
    if request.watermark is not None:
        options["watermark_info"] = {"enabled": request.watermark}
    prompt = new_prompt(request)
    if isinstance(request, TextToVideo):
        settings["aspect_ratio"] = request.aspect_ratio
        return {"prompt": prompt, "settings": settings, "options": options}
    return {"contents": await _contents(request, prompt), "settings": settings, "options": options}


async def _contents(request: ImageToVideo, prompt: str | None) -> list[dict[str, Any]]:
    contents: list[dict[str, Any]] = []
    if prompt is not None:
        contents.append({"type": "prompt", "text": prompt})
    if request.image is not None:
        contents.append({"type": "first_frame", "url": await _encoded("image", request.image)})
    if request.image_tail is not None:
        url = await _encoded("image_tail", request.image_tail)
        contents.append({"type": "last_frame", "url": url})
    contents.extend(
        {"type": "element", "element_id": element_id, "id": label}
        for element_id, label in element_labels(request.elements)
    )
    contents.extend(
        {"type": "voice", "voice_id": voice_id, "id": label}
        for voice_id, label in voice_labels(request.voices)
    )
    return contents
