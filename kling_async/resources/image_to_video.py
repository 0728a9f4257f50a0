"""``client.image_to_video``: animate an image (``POST /v1/videos/image2video``)."""

from __future__ import annotations

from typing import Any

from ..models import ImageToVideo
from ..validation import CAPABILITIES
from ._tasks import TaskResource, common_fields, image_fields


def takes_no_mode(model: str) -> bool:
    caps = CAPABILITIES.get(model)
    return caps is not None and all(mode is None for mode, _ in caps["plain"])


class ImageToVideoResource(TaskResource[ImageToVideo]):
    kind = "image2video"
    request_type = ImageToVideo

    async def wire_body(self, request: ImageToVideo) -> dict[str, Any]:
        body = common_fields(request, no_mode=takes_no_mode(request.model))
        body.update(await image_fields(request))
        return body
