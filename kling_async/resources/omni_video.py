"""``client.omni_video``: a video from a prompt, frames, reference images, elements and a
reference video (``POST /omni-video/{model}``: ``kling-3.0-omni``, ``kling-o1``; new API only,
tasks queried through ``GET /tasks``)."""

from __future__ import annotations

from ..video_requests import OmniVideo
from ._tasks import TaskResource


class OmniVideoResource(TaskResource[OmniVideo]):
    kind = "omni_video"
    request_type = OmniVideo
    wires = ("new",)
