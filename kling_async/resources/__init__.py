"""The client's namespaces: ``image_to_video``, ``text_to_video``, ``tasks``, ``account``."""

from .._waiting import WaitPolicy
from ._tasks import TaskPager, TaskResource
from .account import AccountResource
from .image_to_video import ImageToVideoResource
from .task_queries import TaskCursor, TasksResource
from .text_to_video import TextToVideoResource

__all__ = [
    "AccountResource",
    "ImageToVideoResource",
    "TaskCursor",
    "TaskPager",
    "TaskResource",
    "TasksResource",
    "TextToVideoResource",
    "WaitPolicy",
]
