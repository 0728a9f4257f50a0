"""kling_async: an asyncio-native SDK for the Kling AI video API.

>>> import kling_async as kling
>>> async with kling.KlingClient() as client:
...     task = await client.image_to_video.create(image="cat.png", prompt="the cat blinks")
...     done = await client.image_to_video.wait(task.task_id)
...     await client.download(done, "out/cat.mp4")

The emulator of the API lives in :mod:`kling_async.emulator`.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from ._version import __version__

if TYPE_CHECKING:
    from ._cash import Money
    from ._clock import Clock, SystemClock, VirtualClock
    from ._http import Timeouts
    from ._prepare import PreparedCache, PreparedImage, prepare_image, prepare_image_async
    from ._retry import RetryPolicy
    from ._waiting import WaitPolicy
    from .asset_requests import ElementRequest, VoiceRequest
    from .assets import AssetTask, ElementInfo, VoiceInfo
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
    from .states import AssetStatus, JobState, OutcomeStatus, TaskStatus
    from .validation import validate
    from .video_requests import MotionControl, OmniVideo, ReferenceImage, ReferenceVideo

#: Every public name and the module that defines it. Loaded on first use (PEP 562), so that
#: ``import kling_async`` (and the command line's start) costs next to nothing: a Ctrl-C in
#: the first moments of ``kling-async`` finds it in a place that can say so in one line.
_WHERE: dict[str, str] = {
    "Money": "._cash",
    "Clock": "._clock",
    "SystemClock": "._clock",
    "VirtualClock": "._clock",
    "Timeouts": "._http",
    "PreparedCache": "._prepare",
    "PreparedImage": "._prepare",
    "prepare_image": "._prepare",
    "prepare_image_async": "._prepare",
    "RetryPolicy": "._retry",
    "WaitPolicy": "._waiting",
    "BatchEngine": ".batch",
    "BatchRun": ".batch",
    "BatchSummary": ".batch",
    "Outcome": ".batch",
    "PollPolicy": ".batch",
    "estimate_units": ".batch",
    "KlingClient": ".client",
    "AccountError": ".errors",
    "APIConnectionError": ".errors",
    "APIError": ".errors",
    "APITimeoutError": ".errors",
    "AuthenticationError": ".errors",
    "BalanceExhaustedError": ".errors",
    "ConcurrencyLimitError": ".errors",
    "ConfigurationError": ".errors",
    "ContentPolicyError": ".errors",
    "CreateUnconfirmedError": ".errors",
    "DownloadError": ".errors",
    "GovernorUnavailableError": ".errors",
    "InvalidRequestError": ".errors",
    "JournalError": ".errors",
    "JournalLockedError": ".errors",
    "KlingError": ".errors",
    "NotFoundError": ".errors",
    "PermissionDeniedError": ".errors",
    "RateLimitError": ".errors",
    "ResponseFormatError": ".errors",
    "ServerError": ".errors",
    "ServerUnreachableError": ".errors",
    "TaskFailedError": ".errors",
    "TaskTimeoutError": ".errors",
    "ValidationError": ".errors",
    "ElementRequest": ".asset_requests",
    "VoiceRequest": ".asset_requests",
    "AssetTask": ".assets",
    "ElementInfo": ".assets",
    "VoiceInfo": ".assets",
    "Governor": ".governor",
    "LocalGovernor": ".governor",
    "RedisGovernor": ".governor",
    "ImageGeneration": ".image_requests",
    "CAMERA_PRESETS": ".models",
    "CameraConfig": ".models",
    "CameraControl": ".models",
    "DynamicMask": ".models",
    "Element": ".models",
    "ImageToVideo": ".models",
    "Point": ".models",
    "Shot": ".models",
    "TextToVideo": ".models",
    "Voice": ".models",
    "from_top_left": ".models",
    "AccountCosts": ".results",
    "Cost": ".results",
    "Image": ".results",
    "ResourcePack": ".results",
    "Task": ".results",
    "Video": ".results",
    "AssetStatus": ".states",
    "JobState": ".states",
    "OutcomeStatus": ".states",
    "TaskStatus": ".states",
    "validate": ".validation",
    "MotionControl": ".video_requests",
    "OmniVideo": ".video_requests",
    "ReferenceImage": ".video_requests",
    "ReferenceVideo": ".video_requests",
}

__all__ = ["__version__", *_WHERE]


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(module, __name__), name)
    globals()[name] = value  # once loaded, a plain attribute
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
