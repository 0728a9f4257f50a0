"""The one exception the emulator's handlers raise to answer with a Kling error envelope."""

from __future__ import annotations


class Rejection(Exception):
    """An error answer: HTTP status, Kling code and a message that names the field and rule."""

    def __init__(self, http_status: int, code: int, message: str) -> None:
        super().__init__(message)
        self.http_status = http_status
        self.code = code
        self.message = message


def invalid(message: str) -> Rejection:
    """1201: a parameter's value breaks a documented rule (HTTP 400)."""
    return Rejection(400, 1201, message)
