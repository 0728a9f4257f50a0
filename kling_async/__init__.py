"""kling_async: an asyncio-native SDK for the Kling AI video API, with a batch engine.

The emulator of the API lives in :mod:`kling_async.emulator`.
"""

__version__ = "0.1.0"

__all__ = ["__version__"]
