"""Fixtures of the emulator's tests in this folder (the emulators come from tests/conftest.py)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from ._receiver import Receiver, serving_receiver


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    async with serving_receiver() as rec:
        yield rec
