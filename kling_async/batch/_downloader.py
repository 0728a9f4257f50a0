"""Stage 4, download: a bounded pool fetches the videos of tasks that ended well, then
records the job done and reports it."""

from __future__ import annotations

import asyncio
from pathlib import Path

import attrs

from ..image_requests import ImageGeneration
from ..resources.images import download_images, index_name
from ..states import JobState, OutcomeStatus
from ..store import JobStore
from ._client import BatchClient
from ._reporter import Reporter
from ._work import Work, output_path


@attrs.define(eq=False)
class Downloader:
    _client: BatchClient
    _store: JobStore
    _reporter: Reporter
    _output_dir: Path
    _queue: asyncio.Queue[Work] = attrs.field(init=False, factory=asyncio.Queue)

    def put(self, work: Work) -> None:
        """A job whose task succeeded (its slot already free): its video (or, for an image
        job, every image into its folder) is to be fetched."""
        self._queue.put_nowait(work)

    async def run(self) -> None:
        """One download at a time, until cancelled (the engine runs ``downloads`` of these)."""
        while True:
            work = await self._queue.get()
            try:
                await self._download(work)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # this job's outcome, not the batch's
                self._reporter.fail(work, exc)

    async def _download(self, work: Work) -> None:
        assert work.task is not None
        # no 'downloading' write: 'finished' already says "fetch its video" to a rerun (which
        # resumes a .part it finds either way), and each write is a thread hop, ~0.1 ms of CPU
        fresh, work.fresh_output = work.fresh_output, False
        path = output_path(self._output_dir, work)
        if isinstance(work.job, ImageGeneration):  # its output is a folder of its images
            await download_images(
                self._client, work.task, path, name=index_name, missing_only=True, fresh=fresh
            )
        else:
            path = await self._client.download(work.task, path, fresh=fresh)
        await self._store.update(work.job_id, JobState.DONE)
        self._reporter.report(work, OutcomeStatus.SUCCEEDED, path=path)
