"""``BatchRun``: what ``client.batch(...)`` returns — one engine over one input, its outcomes
as an async generator, and its cleanup owned by whoever holds it: ``async with`` closes it
on leaving the block; without, the event loop that runs the generator closes it once the
loop that read it is left (``aclose``, run by asyncio's async-generator finalizer)."""

from __future__ import annotations

import weakref
from collections.abc import AsyncGenerator, AsyncIterable, Iterable, Mapping
from pathlib import Path
from typing import Any

from ._client import BatchClient
from ._engine import BatchEngine
from ._outcome import BatchSummary, Outcome
from ._work import Job


class BatchRun:
    """What ``client.batch(...)`` returns: iterate it for outcomes as they finish; read
    ``summary`` afterwards. ``async with`` it to be sure the engine stops when you leave
    early; without it, leaving the loop (``break``) stops the engine once the loop's
    iterator is dropped."""

    def __init__(
        self,
        client: BatchClient,
        jobs: Iterable[Job] | AsyncIterable[Job],
        output_dir: str | Path,
        options: Mapping[str, Any],
    ) -> None:
        self.engine = BatchEngine(client, output_dir, **options)
        self._jobs = jobs
        #: The outcome generator being read, if any (not held: dropping it ends the run).
        self._reading: weakref.ref[AsyncGenerator[Outcome, None]] | None = None

    @property
    def summary(self) -> BatchSummary:
        return self.engine.finalize_summary()

    def __aiter__(self) -> AsyncGenerator[Outcome, None]:
        reading = self._reading() if self._reading is not None else None
        if reading is None:
            reading = self._outcomes()
            self._reading = weakref.ref(reading)
        return reading

    async def _outcomes(self) -> AsyncGenerator[Outcome, None]:
        engine = self.engine
        try:
            await engine.start()
            engine.spawn(self._feed(), "kling-batch-feeder")
            async for outcome in engine.outcomes():
                yield outcome
        finally:
            if engine.running:  # (a start that failed has no run to sum up)
                engine.finalize_summary()
            await engine.close()

    async def _feed(self) -> None:
        """Submit every job, then ``finish()``; an input that fails is the consumer's error
        (``outcomes()`` raises it)."""
        engine, jobs = self.engine, self._jobs
        try:
            if isinstance(jobs, AsyncIterable):
                async for job in jobs:
                    await engine.submit(job)
            else:
                for job in jobs:
                    await engine.submit(job)
        except Exception as exc:  # the input itself failed: say so to the consumer
            engine.reporter.crashed(exc)
            return
        await engine.finish()

    async def __aenter__(self) -> BatchRun:
        return self

    async def __aexit__(self, *exc: object) -> None:
        reading = self._reading() if self._reading is not None else None
        if reading is not None:
            await reading.aclose()
        await self.engine.close()
