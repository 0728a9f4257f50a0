"""``client.image_to_video``: animate an image (``POST /v1/videos/image2video`` on the legacy
API, ``POST /image-to-video/{model}`` on the new one)."""

from __future__ import annotations

from ..models import ImageToVideo
from ._tasks import TaskResource


class ImageToVideoResource(TaskResource[ImageToVideo]):
    kind = "image2video"
    request_type = ImageToVideo
