from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest
from mongomock_motor import AsyncMongoMockClient

from models.database import init_database
from models.jobs import ImageStatus, Job, JobImage, JobStatus, record_image
from models.stores import Store
from processing.events import InProcessEvents
from processing.images import ImageResult, RetryPolicy
from processing.jobs import JobService, NewJob, NewVisit, read_visit_time
from processing.queue import InProcessQueue
from processing.runner import JobRunner


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2024-06-01T10:15:00+05:30", datetime(2024, 6, 1, 4, 45, tzinfo=UTC)),
        ("2024-06-01 11:40:00", datetime(2024, 6, 1, 11, 40, tzinfo=UTC)),
        ("2024-06-01T11:40:00.250Z", datetime(2024, 6, 1, 11, 40, 0, 250000, UTC)),
        ("2024-06-01", datetime(2024, 6, 1, tzinfo=UTC)),
        ("2024-06-01T11:40", datetime(2024, 6, 1, 11, 40, tzinfo=UTC)),
        ("yesterday", None),
        ("01/06/2024 10:15", None),
        ("2024-13-01", None),
        ("2024-06-01X10:15:00", None),
    ],
)
def test_visit_time_is_read_as_iso_8601(text: str, expected: datetime | None) -> None:
    assert read_visit_time(text) == expected


@pytest.fixture
async def service() -> JobService:
    await init_database(AsyncMongoMockClient(), "test")
    await Store(id="S1", name="One", area_code="1").insert()
    queue = InProcessQueue()
    return JobService(queue, InProcessEvents())


def two_image_job() -> NewJob:
    urls = ["http://127.0.0.1:9/a.png", "http://127.0.0.1:9/a.png"]
    return NewJob(visits=[NewVisit("S1", "t", urls)])


async def test_a_duplicate_result_is_counted_once(service: JobService) -> None:
    job = await service.submit(two_image_job())
    image = await JobImage.find_one({"job_id": job.id, "position": 0})
    assert image is not None

    first = await record_image(image, ImageStatus.DONE, {"width": 1})
    second = await record_image(image, ImageStatus.FAILED, {"error": "late"})

    assert first is not None and first.progress.done == 1
    assert second is None
    stored = await Job.get(job.id)
    assert stored is not None
    assert (stored.progress.done, stored.progress.failed, stored.errors) == (1, 0, [])


async def test_a_restarted_service_resumes_unfinished_jobs() -> None:
    client = AsyncMongoMockClient()
    await init_database(client, "test")
    await Store(id="S1", name="One", area_code="1").insert()
    first = JobService(InProcessQueue(), InProcessEvents())
    job = await first.submit(two_image_job())  # never processed: "the process died"

    queue = InProcessQueue()
    await init_database(client, "test")
    resumed = await JobService(queue, InProcessEvents()).resume()
    seen: list[str] = []

    async def measure(url: str) -> ImageResult:
        seen.append(url)
        return ImageResult(3, 4, "PNG", None, 1, 1)

    policy = RetryPolicy(delay=(0, 0))
    runner = JobRunner(queue, InProcessEvents(), measure, policy, concurrency=2)
    runner.start()
    try:
        for _ in range(200):
            stored = await Job.get(job.id)
            assert stored is not None
            if stored.status.is_terminal:
                break
            await asyncio.sleep(0.01)
    finally:
        await runner.stop()

    assert resumed == 1
    assert len(seen) == 2
    assert stored.status is JobStatus.COMPLETED
    assert stored.progress.done == 2


async def test_a_job_of_only_unknown_stores_fails_at_once(service: JobService) -> None:
    new = NewJob(visits=[NewVisit("S9", "t", ["http://127.0.0.1:9/a.png"])])

    job = await service.submit(new)

    stored = await Job.get(job.id)
    assert stored is not None
    assert stored.status is JobStatus.FAILED
    assert stored.finished_at is not None
    assert service.queue.depth == 0
