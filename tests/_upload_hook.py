"""An ``--on-output`` hook for the worker tests: "uploads" each video to a folder (a stand-in
for object storage) under a key made of its job id, so a second call is harmless."""

from __future__ import annotations

import asyncio
import os
import shutil
from pathlib import Path
from typing import Any


async def store(path: Path, result: dict[str, Any]) -> str:
    bucket = Path(os.environ["KLING_TEST_BUCKET"])
    key = f"{result['job_id']}.mp4"
    await asyncio.to_thread(bucket.mkdir, parents=True, exist_ok=True)
    await asyncio.to_thread(shutil.copyfile, path, bucket / key)
    return f"bucket/{key}"
