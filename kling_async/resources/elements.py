"""``client.elements``: custom elements (a subject made once from 2..4 images, or from a
video of a character, then reused across videos by its ``element_id``):
``POST /v1/general/advanced-custom-elements`` (a task), its query and list, Kling's presets
(``/v1/general/advanced-presets-elements``) and ``POST /v1/general/delete-advanced-elements``."""

from __future__ import annotations

import asyncio
import functools
import os
from typing import Any

from ..asset_requests import ElementRequest, tag_ids
from ..assets import AssetTask, ElementInfo
from ..results import Task
from ._assets import AssetResource, encoded


class ElementsResource(AssetResource):
    kind = "elements"

    async def create(self, request: ElementRequest | None = None, /, **fields: Any) -> AssetTask:
        """Check the request and its images (read off the loop), then create the element's
        task; returns it ``submitted`` (``wait`` for the element). Never billed twice: the
        create carries an ``external_task_id`` and an ambiguous failure is reconciled by it."""
        request = self._request(ElementRequest, request, fields)
        return await self._send(await _body(request), request.external_task_id)

    async def create_from_folder(
        self, folder: str | os.PathLike[str], /, **fields: Any
    ) -> AssetTask:
        """``create`` of ``ElementRequest.from_folder(folder, name=..., description=...,
        frontal=None, ...)`` (the folder listed off the loop): its first jpg/png by name, or
        ``frontal``, is the frontal image, the others (1..3) the reference images."""
        make = functools.partial(ElementRequest.from_folder, folder, **fields)
        return await self.create(await asyncio.to_thread(make))

    async def find(self, element_id: int | str, *, presets: bool = False) -> ElementInfo | None:
        """The element with ``element_id`` among yours (or Kling's presets), None if none."""
        return await self._lookup(element_id, presets, lambda task: task.elements)

    async def delete(self, element_id: int | str) -> Task:
        """Delete one of your elements (presets cannot be): later videos naming it are
        refused. Returns the deletion's task as the server answers it."""
        return await self._delete(str(element_id))


async def _body(request: ElementRequest) -> dict[str, Any]:
    body: dict[str, Any] = {
        "element_name": request.name,
        "element_description": request.description,
        "reference_type": request.kind,
    }
    if request.kind == "image_refer":
        images = await asyncio.gather(
            encoded(request.frontal_image, "frontal_image"),
            *(encoded(img, f"refer_images[{i}]") for i, img in enumerate(request.refer_images)),
        )
        body["element_image_list"] = {
            "frontal_image": images[0],
            "refer_images": [{"image_url": image} for image in images[1:]],
        }
    else:
        body["element_video_list"] = {"refer_videos": [{"video_url": request.video_url}]}
    if request.voice_id is not None:
        body["element_voice_id"] = str(request.voice_id)
    if request.tags:
        body["tag_list"] = tag_ids(request.tags)
    if request.callback_url is not None:
        body["callback_url"] = request.callback_url
    return body
