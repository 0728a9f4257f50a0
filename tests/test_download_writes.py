"""The download's batched writes survive short writes from the kernel."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from kling_async import _download


def test_writev_all_finishes_after_short_writes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = os.writev
    calls = []

    def stingy(fd: int, buffers: list[memoryview]) -> int:
        calls.append(len(buffers))
        first = bytes(buffers[0])[:3]  # the kernel takes at most 3 bytes each time
        return real(fd, [first])

    monkeypatch.setattr(_download.os, "writev", stingy)
    path = tmp_path / "f"
    pieces = [b"hello ", b"", b"world", b"!" * 10]
    with path.open("wb") as f:
        _download._writev_all(f.fileno(), pieces)
    assert path.read_bytes() == b"".join(pieces)
    assert len(calls) == 8  # 6 + 5 + 10 bytes, at most 3 at a time from one piece
