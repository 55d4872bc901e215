from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from typing import Any

from mongomock_motor import AsyncMongoMockClient
from starlette.testclient import TestClient

from graph.app import create_app
from models.jobs import ImageStatus, Job, JobImage, JobStatus
from processing.queue import InProcessQueue
from processing.shutdown import drain
from tests.conftest import graphql, service_settings, wait_for_job


@dataclass
class FakeRunner:
    """Images in flight that finish after ``seconds``; ``stop`` cancels them."""

    seconds: float
    in_flight: int = 0
    stopped: bool = False
    tasks: list[asyncio.Task[None]] = field(default_factory=list)

    def begin(self, images: int) -> None:
        self.in_flight = images
        self.tasks = [asyncio.create_task(self._finish()) for _ in range(images)]

    async def _finish(self) -> None:
        await asyncio.sleep(self.seconds)
        self.in_flight -= 1

    async def stop(self) -> None:
        self.stopped = True
        for task in self.tasks:
            task.cancel()


async def test_in_flight_images_finish_within_the_grace_period() -> None:
    runner = FakeRunner(seconds=0.1)
    runner.begin(3)

    drained = await drain(InProcessQueue(), runner, grace=5)

    assert (drained.finished, drained.cut_short, runner.stopped) == (3, 0, True)


async def test_images_still_running_after_the_grace_period_are_cut_short() -> None:
    runner = FakeRunner(seconds=30)
    runner.begin(2)
    started = time.monotonic()

    drained = await drain(InProcessQueue(), runner, grace=0.2)

    assert time.monotonic() - started < 2
    assert (drained.finished, drained.cut_short, runner.stopped) == (0, 2, True)


SLOW_JOB = """
mutation Submit($urls: [String!]!) {
  submitJob(input: {count: 1, visits: [
    {storeId: "RP00001", visitTime: "2024-06-01", imageUrls: $urls}
  ]}) { job { id } userErrors { code } }
}
"""
PROGRESS = "query($id: ID!) { job(id: $id) { status progress { done } } }"


def wait_for_done(client: TestClient, job_id: str, done: int) -> None:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        job = graphql(client, PROGRESS, {"id": job_id})["job"]
        if job["progress"]["done"] >= done:
            return
        time.sleep(0.05)
    raise AssertionError(f"job {job_id} never reached {done} images done")


def slow_service(db: Any, **overrides: Any) -> TestClient:
    settings = service_settings(concurrency=2, **overrides)
    return TestClient(create_app(settings, db_client=db))


async def stored_state(job_id: str) -> tuple[JobStatus, dict[ImageStatus, int]]:
    job = await Job.get(job_id)
    assert job is not None
    images = await JobImage.find({"job_id": job.id}).to_list()
    counts = {s: sum(1 for i in images if i.status is s) for s in ImageStatus}
    return job.status, counts


def test_a_job_stopped_mid_way_resumes_and_counts_every_image_once(
    case_server: str,
) -> None:
    db = AsyncMongoMockClient()
    urls = [f"{case_server}/h18/slow-a.png"] * 5
    with slow_service(db, shutdown_grace=0) as first:
        data = graphql(first, SLOW_JOB, {"urls": urls})["submitJob"]
        job_id = data["job"]["id"]
        wait_for_done(first, job_id, 2)

    status, counts = asyncio.run(stored_state(job_id))
    assert status is JobStatus.ONGOING
    assert counts[ImageStatus.DONE] >= 2 and counts[ImageStatus.PENDING] > 0

    with slow_service(db) as second:
        job = wait_for_job(second, job_id, timeout=30)

    assert job["status"] == "COMPLETED"
    assert job["progress"] == {
        "total": 5,
        "done": 5,
        "failed": 0,
        "cancelled": 0,
        "pending": 0,
    }
    images = job["visits"][0]["images"]
    assert [i["status"] for i in images] == ["DONE"] * 5
