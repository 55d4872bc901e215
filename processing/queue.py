"""The in-process work queue: priorities first, then fair turns between jobs.

Work is one image at a time. At each priority level jobs take turns, one
image each, so a small job submitted behind a huge one of the same priority
is not starved; a higher level always goes first.
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict, deque
from dataclasses import dataclass, replace

from models.jobs import JobPriority

PRIORITY_ORDER = (JobPriority.HIGH, JobPriority.NORMAL, JobPriority.LOW)


@dataclass(frozen=True, slots=True)
class WorkItem:
    """One image to process, with what processing needs to know about it."""

    job_id: str
    image_id: str
    store_id: str
    url: str
    priority: JobPriority = JobPriority.NORMAL
    attempt: int = 1

    def next_attempt(self) -> WorkItem:
        return replace(self, attempt=self.attempt + 1)


class InProcessQueue:
    """Bounded by nothing but memory; items live only as long as the process."""

    def __init__(self) -> None:
        self._levels: dict[JobPriority, OrderedDict[str, deque[WorkItem]]] = {
            priority: OrderedDict() for priority in PRIORITY_ORDER
        }
        self._size = 0
        self._closed = False
        self._ready = asyncio.Condition()

    @property
    def depth(self) -> int:
        return self._size

    async def put_job(self, items: list[WorkItem]) -> None:
        """Queue one job's images (all of the same job and priority)."""
        if not items:
            return
        level = self._levels[items[0].priority]
        level.setdefault(items[0].job_id, deque()).extend(items)
        self._size += len(items)
        async with self._ready:
            self._ready.notify(len(items))

    async def get(self) -> WorkItem:
        async with self._ready:
            await self._ready.wait_for(lambda: self._size > 0 and not self._closed)
            return self._take()

    def close(self) -> None:
        """Hand out nothing more: what waits stays waiting (a stopping process)."""
        self._closed = True

    def drop_job(self, job_id: str) -> int:
        """Forget a job's waiting images; return how many there were."""
        dropped = 0
        for level in self._levels.values():
            items = level.pop(job_id, None)
            dropped += len(items) if items else 0
        self._size -= dropped
        return dropped

    def _take(self) -> WorkItem:
        for level in self._levels.values():
            if not level:
                continue
            job_id, items = next(iter(level.items()))
            item = items.popleft()
            level.move_to_end(job_id)
            if not items:
                del level[job_id]
            self._size -= 1
            return item
        raise RuntimeError("queue is empty")
