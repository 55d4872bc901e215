"""Accepting, resuming, cancelling and retrying jobs.

:class:`JobService` stores a new job with one document per image, fails the
images of unknown stores at once, and puts the rest on the queue, from which
the in-process runner or the broker dispatcher takes them. One image's
failure is recorded on that image and its store; nothing else stops.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from beanie import PydanticObjectId

from models.jobs import (
    ACTIVE_STATUSES,
    ImageStatus,
    Job,
    JobImage,
    JobPriority,
    JobStatus,
    Progress,
    StoreError,
    Visit,
    cancel_job,
    finish_job_if_done,
    record_image,
    recount_progress,
    reset_failed_images,
)
from models.stores import Store
from processing import journal, metrics
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


class JobService:
    """Stores submitted jobs and hands their images to the queue."""

    def __init__(self, queue: InProcessQueue, events: JobEvents) -> None:
        self.queue = queue
        self.events = events

    async def submit(self, new: NewJob) -> Job:
        known = await _known_store_ids({v.store_id for v in new.visits})
        job = _job_document(new, known)
        await job.insert()
        rows = _image_rows(job, new, known)
        await JobImage.get_pymongo_collection().insert_many(rows)
        assert job.id is not None
        journal.job_queued(str(job.id), len(new.visits), len(rows), job.progress.failed)
        pending = [r for r in rows if r["status"] == ImageStatus.PENDING.value]
        await self._queue(job, [(r["_id"], r["store_id"], r["url"]) for r in pending])
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

    async def cancel(self, job: Job) -> Job | None:
        """Cancel a job's remaining images; ``None`` when it had already ended."""
        assert job.id is not None
        if not await cancel_job(job.id):
            return None
        dropped = self.queue.drop_job(str(job.id))
        logger.info("job cancelled: %s, %d images not started", job.id, dropped)
        metrics.job_finished(JobStatus.CANCELLED)
        self.events.publish(str(job.id))
        return await Job.get(job.id)

    async def retry(self, job: Job) -> Job | None:
        """Run a FAILED job's failed images again; ``None`` unless it FAILED."""
        assert job.id is not None
        images = await reset_failed_images(job.id)
        if images is None:
            return None
        known = await _known_store_ids({i.store_id for i in images})
        for image in images:
            if image.store_id not in known:
                await record_image(
                    image,
                    ImageStatus.FAILED,
                    _unknown_store_fields(image.store_id),
                    UNKNOWN_STORE_ERROR,
                )
        logger.info("job retrying: %s, %d images", job.id, len(images))
        # reset_failed_images recounted; record_image kept the counts since
        fresh = await Job.get(job.id)
        assert fresh is not None
        await self._enqueue(fresh, [i for i in images if i.store_id in known])
        self.events.publish(str(job.id))
        return await Job.get(job.id)

    async def _enqueue(self, job: Job, images: list[JobImage]) -> None:
        pending = [i for i in images if i.status is ImageStatus.PENDING]
        await self._queue(job, [(i.id, i.store_id, i.url) for i in pending])

    async def _queue(self, job: Job, images: list[tuple[Any, str, str]]) -> None:
        """Queue (id, store id, URL) images of ``job``; finish it if none are."""
        items = [
            WorkItem(str(job.id), str(image_id), store_id, url, job.priority)
            for image_id, store_id, url in images
        ]
        await self.queue.put_job(items)
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


def _image_rows(job: Job, new: NewJob, known: set[str]) -> list[dict[str, Any]]:
    """One :class:`JobImage` document per URL, as MongoDB stores it.

    Built as plain rows: every value here is already checked, and a job may
    hold 100,000 images, too many to validate and encode one model at a time.
    """
    assert job.id is not None
    blank = JobImage.model_construct().model_dump(exclude={"id", "revision_id"})
    rows = []
    for v_index, visit in enumerate(new.visits):
        state: dict[str, Any] = {"status": ImageStatus.PENDING.value}
        if visit.store_id not in known:
            state = {
                "status": ImageStatus.FAILED.value,
                "finished_at": job.created_at,
                **_unknown_store_fields(visit.store_id),
            }
        for position, url in enumerate(visit.image_urls):
            rows.append(
                {
                    **blank,
                    "_id": PydanticObjectId(),
                    "job_id": job.id,
                    "visit": v_index,
                    "position": position,
                    "store_id": visit.store_id,
                    "url": url,
                    **state,
                }
            )
    return rows


def _unknown_store_fields(store_id: str) -> dict[str, str]:
    return {
        "error": f"store {store_id!r} is not in the store master",
        "error_code": "UNKNOWN_STORE",
    }
