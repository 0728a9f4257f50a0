"""``client.text_to_video``: a video from a prompt (``POST /v1/videos/text2video`` on the legacy
API, ``POST /text-to-video/{model}`` on the new one)."""

from __future__ import annotations

from ..models import TextToVideo
from ._tasks import TaskResource


class TextToVideoResource(TaskResource[TextToVideo]):
    kind = "text2video"
    request_type = TextToVideo
