"""``client.images``: images from a prompt (``POST /v1/images/generations``, the legacy-style
API: ``model_name`` in the body, tasks at ``GET /v1/images/generations/{id}``), and the
download of every image a task made."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable
from pathlib import Path, PurePosixPath
from urllib.parse import urlsplit

from .._api import ClientAPI
from ..errors import DownloadError
from ..image_requests import ImageGeneration
from ..results import Task
from ._tasks import TaskResource

_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp")

#: How an image is named in its folder: (task, index, url) -> file name.
ImageNamer = Callable[[Task, int, str], str]


def image_suffix(url: str) -> str:
    """The image's suffix from the URL's path (``.png`` if it has none the SDK knows)."""
    suffix = PurePosixPath(urlsplit(url).path).suffix.lower()
    return suffix if suffix in _SUFFIXES else ".png"


def image_name(task: Task, index: int, url: str) -> str:
    """``<task id>-<index><suffix>`` (see ``image_suffix``)."""
    return f"{task.task_id}-{index}{image_suffix(url)}"


def index_name(task: Task, index: int, url: str) -> str:
    """``<index><suffix>``: the name in a folder of the task's own (a batch job's)."""
    return f"{index}{image_suffix(url)}"


async def download_images(
    client: ClientAPI,
    task: Task,
    folder: str | os.PathLike[str],
    *,
    name: ImageNamer = image_name,
    missing_only: bool = False,
    fresh: bool = False,
) -> list[Path]:
    """Every image of a succeeded task into ``folder`` (made if missing), each through
    ``client.download`` (partial files never stand under the final name: a ``.part`` is
    resumed), named by ``name``; returns the paths in the task's order. ``missing_only``:
    an image already at its name is kept (a complete file, as only a finished download is
    renamed there), so a rerun fetches only what a crash left out; ``fresh``: no partial
    file can be in the folder (a name just claimed). One failed download cancels the
    others and raises its error."""
    if not task.succeeded:
        raise DownloadError(f"task {task.task_id} is {task.status.value}, not succeeded")
    if not task.images:
        raise DownloadError(f"task {task.task_id} has no images")
    where = Path(folder)
    await asyncio.to_thread(where.mkdir, parents=True, exist_ok=True)
    paths = [where / name(task, image.index, image.url) for image in task.images]
    if len(set(paths)) != len(paths):
        raise DownloadError(f"task {task.task_id} numbers two images alike")
    have: set[Path] = set()
    if missing_only and not fresh:
        have = set(await asyncio.to_thread(lambda: [p for p in paths if p.is_file()]))
    try:
        async with asyncio.TaskGroup() as group:
            for image, path in zip(task.images, paths, strict=True):
                if path not in have:
                    group.create_task(client.download(image.url, path, fresh=fresh))
    except ExceptionGroup as failed:  # the first failure, as one download would raise it
        raise failed.exceptions[0] from None
    return paths


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
        return await download_images(self._client, task, folder)

    async def _save(self, task: Task, output: str | Path) -> Path:
        """``generate`` keeps every image: ``output`` is the folder they go to."""
        await self.download(task, output)
        return Path(output)
