"""What the creates being sent hold in memory: a budget of image bytes.

A create reads its images, base64-encodes them and writes them into a JSON body: a 1 MiB image
is about 5 MiB on its way out. The batch keeps up to ``max_in_flight`` tasks running, and while
the account's limit is unknown up to half of them may be creates with no answer yet; so without
a bound, memory grows with concurrency times image size (5,000 jobs of 1 MiB at
``max_in_flight=200`` peaked at 2.2 GB). A create waits here until the images of the creates
already on their way, and its own, fit in the budget; one create larger than the whole budget
goes when it is alone. Tasks that are running hold nothing: their bodies are gone.
"""

from __future__ import annotations

import os
from typing import Any

#: Image bytes (as read from disk or given) the creates on their way may hold together.
DEFAULT_BODY_BUDGET = 48 << 20


def image_bytes(images: list[tuple[str, Any]]) -> int:
    """Bytes of the images a create will read and send: in-memory bytes and base64 text by
    their length, files by their size (a stat; URLs cost nothing)."""
    total = 0
    for _, value in images:
        if isinstance(value, bytes | bytearray):
            total += len(value)
        elif isinstance(value, str):
            if not value.startswith(("http://", "https://")):
                total += len(value) if len(value) > 4096 else _size(value)
        elif isinstance(value, os.PathLike):
            total += _size(value)
    return total


def _size(path: str | os.PathLike[str]) -> int:
    try:
        return os.stat(path).st_size
    except (OSError, ValueError):
        return 0  # the create's own read says what is wrong with it
