"""``client.voices``: custom voices (made once from 5..30 s of one clean voice, then given to
videos by ``voice_id``): ``POST /v1/general/custom-voices`` (a task), its query and list,
Kling's presets (``/v1/general/presets-voices``) and ``POST /v1/general/delete-voices``."""

from __future__ import annotations

from typing import Any

from ..asset_requests import VoiceRequest
from ..assets import AssetTask, VoiceInfo
from ..results import Task
from ._assets import AssetResource


class VoicesResource(AssetResource):
    kind = "voices"

    async def create(self, request: VoiceRequest | None = None, /, **fields: Any) -> AssetTask:
        """Create the voice's task from ``voice_url`` or ``video_id``; returns it
        ``submitted`` (``wait`` for the voice). Never billed twice (see ``elements.create``)."""
        request = self._request(VoiceRequest, request, fields)
        body: dict[str, Any] = {"voice_name": request.name}
        if request.voice_url is not None:
            body["voice_url"] = request.voice_url
        if request.video_id is not None:
            body["video_id"] = request.video_id
        if request.callback_url is not None:
            body["callback_url"] = request.callback_url
        return await self._send(body, request.external_task_id)

    async def find(self, voice_id: str, *, presets: bool = False) -> VoiceInfo | None:
        """The voice with ``voice_id`` among yours (or Kling's presets), None if none."""
        return await self._lookup(voice_id, presets, lambda task: task.voices)

    async def delete(self, voice_id: str) -> Task:
        """Delete one of your voices (presets cannot be). Returns the deletion's task."""
        return await self._delete(str(voice_id))
