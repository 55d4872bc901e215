"""Accepting jobs and running their images, in this process.

:class:`JobService` stores a new job with one document per image, fails the
images of unknown stores at once, and queues the rest. :class:`JobRunner`
keeps ``CONCURRENCY`` images in flight: each is fetched, measured, held for
the simulated GPU time and recorded as soon as it is done, so progress moves
while the job runs. One image's failure is recorded on that image and its
store; nothing else stops.
"""

from __future__ import annotations

import asyncio
import logging
import random
import re
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from beanie import PydanticObjectId

from models.jobs import (
    ACTIVE_STATUSES,
    ImageStatus,
    Job,
    JobImage,
    JobPriority,
    Progress,
    StoreError,
    Visit,
    finish_job_if_done,
    mark_job_started,
    record_image,
    recount_progress,
)
from models.stores import Store
from processing import journal, metrics
from processing.errors import ProcessingError
from processing.events import JobEvents
from processing.queue import InProcessQueue, WorkItem

logger = logging.getLogger(__name__)

UNKNOWN_STORE_ERROR = "unknown store id"

ISO_8601 = re.compile(
    r"\d{4}-\d{2}-\d{2}"
    r"(?:[Tt ]\d{2}:\d{2}(?::\d{2}(?:[.,]\d+)?)?(?:[Zz]|[+-]\d{2}(?::?\d{2})?)?)?"
)


def read_visit_time(text: str) -> datetime | None:
    """``visitTime`` read as ISO 8601 (no zone means UTC), or ``None``."""
    candidate = text.strip()
    if not ISO_8601.fullmatch(candidate):
        return None
    candidate = candidate.replace(",", ".")
    if candidate[-1] in "Zz":
        candidate = candidate[:-1] + "+00:00"
    try:
        parsed = datetime.fromisoformat(candidate)
    except ValueError:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


@dataclass(frozen=True)
class NewVisit:
    store_id: str
    visit_time: str
    image_urls: list[str]


@dataclass(frozen=True)
class NewJob:
    """A job that passed validation, as the client sent it."""

    visits: list[NewVisit]
    priority: JobPriority = JobPriority.NORMAL
    owner: str | None = None
    idempotency_key: str | None = None
    request_hash: str | None = None

    @property
    def image_count(self) -> int:
        return sum(len(v.image_urls) for v in self.visits)


@dataclass(frozen=True, slots=True)
class ImageResult:
    """What processing learned about one image."""

    width: int
    height: int
    format: str
    orientation: int | None
    frames: int
    attempts: int

    @property
    def perimeter(self) -> int:
        return 2 * (self.width + self.height)


ImageProcessor = Callable[[str], Awaitable[ImageResult]]
"""Fetch and measure one URL; raise ProcessingError (with ``attempts``)."""


@dataclass
class RunnerConfig:
    concurrency: int = 256
    delay: tuple[float, float] = (0.1, 0.4)


class JobService:
    """Stores submitted jobs and hands their images to the queue."""

    def __init__(self, queue: InProcessQueue, events: JobEvents) -> None:
        self.queue = queue
        self.events = events

    async def submit(self, new: NewJob) -> Job:
        known = await _known_store_ids({v.store_id for v in new.visits})
        job = _job_document(new, known)
        await job.insert()
        images = _image_documents(job, new, known)
        await JobImage.insert_many(images)
        assert job.id is not None
        journal.job_queued(
            str(job.id), len(new.visits), len(images), job.progress.failed
        )
        await self._enqueue(job, images)
        return job

    async def resume(self) -> int:
        """Queue again every image of every job left PENDING or ONGOING."""
        resumed = 0
        active = [s.value for s in ACTIVE_STATUSES]
        async for job in Job.find({"status": {"$in": active}}):
            assert job.id is not None
            fresh = await recount_progress(job.id)
            pending = (
                await JobImage.find(
                    {"job_id": job.id, "status": ImageStatus.PENDING.value}
                )
                .sort("visit", "position")
                .to_list()
            )
            await self._enqueue(fresh or job, pending)
            resumed += 1
        if resumed:
            logger.info("jobs resumed: %d", resumed)
        return resumed

    async def _enqueue(self, job: Job, images: list[JobImage]) -> None:
        pending = [i for i in images if i.status is ImageStatus.PENDING]
        items = [WorkItem(str(job.id), str(i.id), i.store_id, i.url) for i in pending]
        await self.queue.put_job(job.priority, items)
        if finished := await finish_job_if_done(job):
            journal.job_finished(str(job.id), finished.value)
            self.events.publish(str(job.id))


async def _known_store_ids(ids: set[str]) -> set[str]:
    found = await Store.get_pymongo_collection().distinct(
        "_id", {"_id": {"$in": sorted(ids)}}
    )
    return set(found)


def _job_document(new: NewJob, known: set[str]) -> Job:
    unknown = [
        s for s in dict.fromkeys(v.store_id for v in new.visits) if s not in known
    ]
    failed = sum(len(v.image_urls) for v in new.visits if v.store_id not in known)
    return Job(
        visit_count=len(new.visits),
        priority=new.priority,
        visits=[
            Visit(
                store_id=v.store_id,
                visit_time=v.visit_time,
                visited_at=read_visit_time(v.visit_time),
                image_count=len(v.image_urls),
            )
            for v in new.visits
        ],
        errors=[StoreError(store_id=s, error=UNKNOWN_STORE_ERROR) for s in unknown],
        progress=Progress(total=new.image_count, failed=failed),
        owner=new.owner,
        idempotency_key=new.idempotency_key,
        request_hash=new.request_hash,
    )


def _image_documents(job: Job, new: NewJob, known: set[str]) -> list[JobImage]:
    assert job.id is not None
    images = []
    for v_index, visit in enumerate(new.visits):
        unknown = visit.store_id not in known
        for position, url in enumerate(visit.image_urls):
            image = JobImage(
                id=PydanticObjectId(),
                job_id=job.id,
                visit=v_index,
                position=position,
                store_id=visit.store_id,
                url=url,
            )
            if unknown:
                image.status = ImageStatus.FAILED
                image.error = f"store {visit.store_id!r} is not in the store master"
                image.error_code = "UNKNOWN_STORE"
                image.finished_at = job.created_at
            images.append(image)
    return images


@dataclass
class JobRunner:
    """Keeps ``concurrency`` images in flight from the queue until stopped."""

    queue: InProcessQueue
    events: JobEvents
    process_image: ImageProcessor
    config: RunnerConfig = field(default_factory=RunnerConfig)
    in_flight: int = 0
    _tasks: list[asyncio.Task[None]] = field(default_factory=list)

    def start(self) -> None:
        self._tasks = [
            asyncio.create_task(self._work(), name=f"image-worker-{n}")
            for n in range(self.config.concurrency)
        ]

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks = []

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
        """Process one image and record its outcome."""
        started, job_id = time.monotonic(), PydanticObjectId(item.job_id)
        if await mark_job_started(job_id):
            journal.job_started(item.job_id)
            self.events.publish(item.job_id)
        status, fields = await self._outcome(item)
        image = JobImage.model_construct(
            id=PydanticObjectId(item.image_id), job_id=job_id, store_id=item.store_id
        )
        store_error = None
        if status is ImageStatus.FAILED:
            store_error = f"{item.url}: {fields['error']}"
        job = await record_image(image, status, fields, store_error)
        if job is None:
            return
        metrics.image_finished(
            status, fields.get("error_code"), time.monotonic() - started
        )
        finished = await finish_job_if_done(job)
        if finished:
            journal.job_finished(item.job_id, finished.value)
        self.events.publish(item.job_id)

    async def _outcome(self, item: WorkItem) -> tuple[ImageStatus, dict[str, Any]]:
        try:
            result = await self.process_image(item.url)
        except ProcessingError as error:
            journal.image_failed(*item_ids(item), error.code, error.message)
            return _failure(error.code, error.message, getattr(error, "attempts", 1))
        except Exception as error:
            journal.image_crashed(*item_ids(item), error)
            return _failure("DOWNLOAD_FAILED", "internal error processing the image", 1)
        await self._simulate_gpu()
        return ImageStatus.DONE, {
            "width": result.width,
            "height": result.height,
            "perimeter": result.perimeter,
            "format": result.format,
            "orientation": result.orientation,
            "frames": result.frames,
            "attempts": result.attempts,
        }

    async def _simulate_gpu(self) -> None:
        low, high = self.config.delay
        if high > 0:
            await asyncio.sleep(random.uniform(low, high))


def item_ids(item: WorkItem) -> tuple[str, str, str]:
    return item.job_id, item.store_id, item.url


def _failure(
    code: str, message: str, attempts: int
) -> tuple[ImageStatus, dict[str, Any]]:
    return ImageStatus.FAILED, {
        "error": message,
        "error_code": code,
        "attempts": attempts,
    }
