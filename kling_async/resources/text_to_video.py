"""``client.text_to_video``: a video from a prompt (``POST /v1/videos/text2video``)."""

from __future__ import annotations

from typing import Any

from ..models import TextToVideo
from ._tasks import TaskResource, common_fields
from .image_to_video import takes_no_mode


class TextToVideoResource(TaskResource[TextToVideo]):
    kind = "text2video"
    request_type = TextToVideo

    async def wire_body(self, request: TextToVideo) -> dict[str, Any]:
        body = common_fields(request, no_mode=takes_no_mode(request.model))
        body["aspect_ratio"] = request.aspect_ratio
        return body
