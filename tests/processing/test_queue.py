from __future__ import annotations

import asyncio

import pytest

from models.jobs import JobPriority
from processing.queue import InProcessQueue, WorkItem


def items(
    job: str, n: int, priority: JobPriority = JobPriority.NORMAL
) -> list[WorkItem]:
    return [
        WorkItem(job, f"{job}-{i}", "S", f"http://x/{i}", priority) for i in range(n)
    ]


async def drain(queue: InProcessQueue) -> list[str]:
    taken = []
    while queue.depth:
        taken.append((await queue.get()).image_id)
    return taken


async def test_jobs_of_equal_priority_take_turns() -> None:
    queue = InProcessQueue()
    await queue.put_job(items("big", 1000))
    await queue.put_job(items("small", 3))

    order = await drain(queue)

    last_small = max(order.index(f"small-{i}") for i in range(3))
    assert last_small == 5


async def test_higher_priority_goes_first() -> None:
    queue = InProcessQueue()
    await queue.put_job(items("low", 2, JobPriority.LOW))
    await queue.put_job(items("normal", 2))
    await queue.put_job(items("high", 2, JobPriority.HIGH))

    order = await drain(queue)

    assert order == ["high-0", "high-1", "normal-0", "normal-1", "low-0", "low-1"]


async def test_dropping_a_job_removes_its_waiting_images() -> None:
    queue = InProcessQueue()
    await queue.put_job(items("a", 4))
    await queue.put_job(items("b", 2))

    dropped = queue.drop_job("a")

    assert (dropped, queue.depth) == (4, 2)
    assert await drain(queue) == ["b-0", "b-1"]


async def test_a_closed_queue_hands_out_nothing_more() -> None:
    queue = InProcessQueue()
    await queue.put_job(items("a", 2))

    queue.close()

    with pytest.raises(TimeoutError):
        async with asyncio.timeout(0.1):
            await queue.get()
    assert queue.depth == 2
