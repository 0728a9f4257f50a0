"""``client.images``: images from a prompt (``POST /v1/images/generations``, the legacy-style
API: ``model_name`` in the body, tasks at ``GET /v1/images/generations/{id}``), and the
download of every image a task made."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path, PurePosixPath
from urllib.parse import urlsplit

from ..errors import DownloadError
from ..image_requests import ImageGeneration
from ..results import Task
from ._tasks import TaskResource

_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp")


def image_name(task: Task, index: int, url: str) -> str:
    """``<task id>-<index><suffix>``; the suffix from the URL's path (``.png`` if it has
    none the SDK knows)."""
    suffix = PurePosixPath(urlsplit(url).path).suffix.lower()
    return f"{task.task_id}-{index}{suffix if suffix in _SUFFIXES else '.png'}"


class ImagesResource(TaskResource[ImageGeneration]):
    kind = "images"
    request_type = ImageGeneration
    wires = ("legacy",)
    legacy_path = "/v1/images/generations"

    async def download(self, task: Task, folder: str | os.PathLike[str]) -> list[Path]:
        """Every image of a succeeded task into ``folder`` (made if missing), each through
        ``client.download`` (partial files never stand under the final name), named
        ``<task id>-<index>.<suffix>``; returns the paths in the task's order. One failed
        download cancels the others and raises its error."""
        if not task.succeeded:
            raise DownloadError(f"task {task.task_id} is {task.status.value}, not succeeded")
        if not task.images:
            raise DownloadError(f"task {task.task_id} has no images")
        where = Path(folder)
        await asyncio.to_thread(where.mkdir, parents=True, exist_ok=True)
        paths = [where / image_name(task, image.index, image.url) for image in task.images]
        if len(set(paths)) != len(paths):
            raise DownloadError(f"task {task.task_id} numbers two images alike")
        try:
            async with asyncio.TaskGroup() as group:
                jobs = [
                    group.create_task(self._client.download(image.url, path))
                    for image, path in zip(task.images, paths, strict=True)
                ]
        except ExceptionGroup as failed:  # the first failure, as one download would raise it
            raise failed.exceptions[0] from None
        return [job.result() for job in jobs]

    async def _save(self, task: Task, output: str | Path) -> Path:
        """``generate`` keeps every image: ``output`` is the folder they go to."""
        await self.download(task, output)
        return Path(output)
