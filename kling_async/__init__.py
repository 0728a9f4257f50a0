"""kling_async: an asyncio-native SDK for the Kling AI video API.

>>> import kling_async as kling
>>> async with kling.KlingClient() as client:
...     task = await client.image_to_video.create(image="cat.png", prompt="the cat blinks")
...     done = await client.image_to_video.wait(task.task_id)
...     await client.download(done, "out/cat.mp4")

The emulator of the API lives in :mod:`kling_async.emulator`.
"""

from ._clock import Clock, SystemClock, VirtualClock
from ._http import Timeouts
from ._prepare import PreparedCache, PreparedImage, prepare_image, prepare_image_async
from ._retry import RetryPolicy
from ._version import __version__
from ._waiting import WaitPolicy
from .batch import (
    BatchEngine,
    BatchRun,
    BatchSummary,
    Outcome,
    PollPolicy,
    estimate_units,
)
from .client import KlingClient
from .errors import (
    AccountError,
    APIConnectionError,
    APIError,
    APITimeoutError,
    AuthenticationError,
    BalanceExhaustedError,
    ConcurrencyLimitError,
    ConfigurationError,
    ContentPolicyError,
    CreateUnconfirmedError,
    DownloadError,
    GovernorUnavailableError,
    InvalidRequestError,
    JournalError,
    JournalLockedError,
    KlingError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitError,
    ResponseFormatError,
    ServerError,
    ServerUnreachableError,
    TaskFailedError,
    TaskTimeoutError,
    ValidationError,
)
from .governor import Governor, LocalGovernor, RedisGovernor
from .image_requests import ImageGeneration
from .models import (
    CAMERA_PRESETS,
    CameraConfig,
    CameraControl,
    DynamicMask,
    Element,
    ImageToVideo,
    Point,
    Shot,
    TextToVideo,
    Voice,
    from_top_left,
)
from .results import AccountCosts, Cost, Image, ResourcePack, Task, Video
from .states import JobState, OutcomeStatus, TaskStatus
from .validation import validate
from .video_requests import MotionControl, OmniVideo, ReferenceImage, ReferenceVideo

__all__ = [
    "CAMERA_PRESETS",
    "APIConnectionError",
    "APIError",
    "APITimeoutError",
    "AccountCosts",
    "AccountError",
    "AuthenticationError",
    "BalanceExhaustedError",
    "BatchEngine",
    "BatchRun",
    "BatchSummary",
    "CameraConfig",
    "CameraControl",
    "Clock",
    "ConcurrencyLimitError",
    "ConfigurationError",
    "ContentPolicyError",
    "Cost",
    "CreateUnconfirmedError",
    "DownloadError",
    "DynamicMask",
    "Element",
    "Governor",
    "GovernorUnavailableError",
    "Image",
    "ImageGeneration",
    "ImageToVideo",
    "InvalidRequestError",
    "JobState",
    "JournalError",
    "JournalLockedError",
    "KlingClient",
    "KlingError",
    "LocalGovernor",
    "MotionControl",
    "NotFoundError",
    "OmniVideo",
    "Outcome",
    "OutcomeStatus",
    "PermissionDeniedError",
    "Point",
    "PollPolicy",
    "PreparedCache",
    "PreparedImage",
    "RateLimitError",
    "RedisGovernor",
    "ReferenceImage",
    "ReferenceVideo",
    "ResourcePack",
    "ResponseFormatError",
    "RetryPolicy",
    "ServerError",
    "ServerUnreachableError",
    "Shot",
    "SystemClock",
    "Task",
    "TaskFailedError",
    "TaskStatus",
    "TaskTimeoutError",
    "TextToVideo",
    "Timeouts",
    "ValidationError",
    "Video",
    "VirtualClock",
    "Voice",
    "WaitPolicy",
    "__version__",
    "estimate_units",
    "from_top_left",
    "prepare_image",
    "prepare_image_async",
    "validate",
]
