"""The client's namespaces: ``image_to_video``, ``text_to_video``, ``omni_video``,
``motion_control``, ``images``, ``tasks``, ``account``, ``elements``, ``voices`` (one module
each)."""

from .._waiting import WaitPolicy
from ._tasks import TaskPager, TaskResource
from .account import AccountResource
from .elements import ElementsResource
from .image_to_video import ImageToVideoResource
from .images import ImagesResource
from .motion_control import MotionControlResource
from .omni_video import OmniVideoResource
from .task_queries import TaskCursor, TasksResource
from .text_to_video import TextToVideoResource
from .voices import VoicesResource

__all__ = [
    "AccountResource",
    "ElementsResource",
    "ImageToVideoResource",
    "ImagesResource",
    "MotionControlResource",
    "OmniVideoResource",
    "TaskCursor",
    "TaskPager",
    "TaskResource",
    "TasksResource",
    "TextToVideoResource",
    "VoicesResource",
    "WaitPolicy",
]
