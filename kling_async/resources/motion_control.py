"""``client.motion_control``: a character image moved as a reference video moves
(``POST /motion-control/{model}``: ``kling-2.6``, ``kling-3.0``; new API only, tasks queried
through ``GET /tasks``)."""

from __future__ import annotations

from ..video_requests import MotionControl
from ._tasks import TaskResource


class MotionControlResource(TaskResource[MotionControl]):
    kind = "motion_control"
    request_type = MotionControl
    wires = ("new",)
