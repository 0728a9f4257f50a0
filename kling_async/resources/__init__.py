"""The client's namespaces: ``image_to_video``, ``text_to_video``, ``omni_video``,
``motion_control``, ``images``, ``tasks``, ``account`` (one module each)."""

from .._waiting import WaitPolicy
from ._tasks import TaskPager, TaskResource
from .account import AccountResource
from .image_to_video import ImageToVideoResource
from .images import ImagesResource
from .motion_control import MotionControlResource
from .omni_video import OmniVideoResource
from .task_queries import TaskCursor, TasksResource
from .text_to_video import TextToVideoResource

__all__ = [
    "AccountResource",
    "ImageToVideoResource",
    "ImagesResource",
    "MotionControlResource",
    "OmniVideoResource",
    "TaskCursor",
    "TaskPager",
    "TaskResource",
    "TasksResource",
    "TextToVideoResource",
    "WaitPolicy",
]
