"""The commands of ``kling-async``, one module per command or close family."""

from .animate import animate_command
from .assets import elements_group, voices_group
from .generate import generate_command
from .tasks import account_command, download_command, list_command, status_command, submit_command
from .wait import wait_command

__all__ = [
    "account_command",
    "animate_command",
    "download_command",
    "elements_group",
    "generate_command",
    "list_command",
    "status_command",
    "submit_command",
    "voices_group",
    "wait_command",
]
