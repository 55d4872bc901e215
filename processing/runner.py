"""Running images in this process: ``CONCURRENCY`` of them at a time."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine
from dataclasses import dataclass, field
from typing import Any

from processing import metrics
from processing.events import JobEvents
from processing.images import (
    ImageProcessor,
    RetryPolicy,
    attempt_image,
    record_outcome,
    start_job,
)
from processing.queue import InProcessQueue, WorkItem

logger = logging.getLogger(__name__)


@dataclass
class JobRunner:
    """Takes images from the queue, processes and records them, until stopped.

    A transient failure goes back on the queue after its backoff delay; the
    slot it held is free meanwhile.
    """

    queue: InProcessQueue
    events: JobEvents
    process_image: ImageProcessor
    policy: RetryPolicy = field(default_factory=RetryPolicy)
    concurrency: int = 256
    in_flight: int = 0
    _tasks: set[asyncio.Task[None]] = field(default_factory=set)

    def start(self) -> None:
        for n in range(self.concurrency):
            self._spawn(self._work(), f"image-slot-{n}")

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks.clear()

    def _spawn(self, work: Coroutine[Any, Any, None], name: str) -> None:
        task = asyncio.create_task(work, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _work(self) -> None:
        while True:
            item = await self.queue.get()
            self.in_flight += 1
            try:
                await self.run_item(item)
            except Exception:
                # The database refused the write: the image stays PENDING and
                # is queued again when the job is resumed.
                logger.exception("image not recorded: job %s", item.job_id)
            finally:
                self.in_flight -= 1

    async def run_item(self, item: WorkItem) -> None:
        """Process one image and record its outcome, or queue its retry."""
        await start_job(item, self.events)
        outcome = await metrics.timed(
            attempt_image(item, self.process_image, self.policy)
        )
        if outcome.retry_in is not None:
            self._spawn(self._retry_later(item, outcome.retry_in), "image-retry")
            return
        await record_outcome(item, outcome, self.events)

    async def _retry_later(self, item: WorkItem, delay: float) -> None:
        await asyncio.sleep(delay)
        await self.queue.put_job([item.next_attempt()])
