"""Jobs and the per-image results they produce.

A :class:`Job` holds the visits as submitted and the running counts; each
image of each visit is its own :class:`JobImage` document, so a job of
100,000 images stays far below MongoDB's document size limit and every
result is written on its own. Every write here is conditional on the state
it moves from, so doing it twice (a redelivered message, a resumed job)
changes nothing the second time.
"""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from beanie import Document, PydanticObjectId
from pydantic import BaseModel, Field, field_validator
from pymongo import ASCENDING, DESCENDING, IndexModel, ReturnDocument


def utcnow() -> datetime:
    return datetime.now(UTC)


def as_utc(value: datetime | None) -> datetime | None:
    """MongoDB hands datetimes back naive; they are always UTC."""
    if value is not None and value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value


class JobStatus(StrEnum):
    PENDING = "PENDING"
    ONGOING = "ONGOING"
    COMPLETED = "COMPLETED"
    FAILED = "FAILED"
    CANCELLED = "CANCELLED"

    @property
    def is_terminal(self) -> bool:
        return self in TERMINAL_STATUSES


TERMINAL_STATUSES = frozenset(
    {JobStatus.COMPLETED, JobStatus.FAILED, JobStatus.CANCELLED}
)
ACTIVE_STATUSES = (JobStatus.PENDING, JobStatus.ONGOING)


class JobPriority(StrEnum):
    HIGH = "HIGH"
    NORMAL = "NORMAL"
    LOW = "LOW"


class ImageStatus(StrEnum):
    PENDING = "PENDING"
    DONE = "DONE"
    FAILED = "FAILED"
    CANCELLED = "CANCELLED"


class Progress(BaseModel):
    total: int = 0
    done: int = 0
    failed: int = 0
    cancelled: int = 0

    @property
    def pending(self) -> int:
        return self.total - self.done - self.failed - self.cancelled


class StoreError(BaseModel):
    store_id: str
    error: str


class Visit(BaseModel):
    store_id: str
    visit_time: str
    visited_at: datetime | None = None
    image_count: int

    _utc = field_validator("visited_at")(as_utc)


class Job(Document):
    """A submitted job: its visits as sent, its status and progress counts."""

    status: JobStatus = JobStatus.PENDING
    visit_count: int
    priority: JobPriority = JobPriority.NORMAL
    created_at: datetime = Field(default_factory=utcnow)
    started_at: datetime | None = None
    finished_at: datetime | None = None
    visits: list[Visit]
    errors: list[StoreError] = Field(default_factory=list)
    progress: Progress = Field(default_factory=Progress)
    owner: str | None = None
    idempotency_key: str | None = None
    request_hash: str | None = None

    _utc = field_validator("created_at", "started_at", "finished_at")(as_utc)

    class Settings:
        name = "jobs"
        indexes = [
            IndexModel([("status", ASCENDING), ("_id", DESCENDING)]),
            IndexModel([("visits.store_id", ASCENDING), ("_id", DESCENDING)]),
        ]


class JobImage(Document):
    """One image of one visit, with its result once processed."""

    job_id: PydanticObjectId
    visit: int
    position: int
    store_id: str
    url: str
    status: ImageStatus = ImageStatus.PENDING
    width: int | None = None
    height: int | None = None
    perimeter: int | None = None
    format: str | None = None
    orientation: int | None = None
    frames: int | None = None
    attempts: int = 0
    error: str | None = None
    error_code: str | None = None
    finished_at: datetime | None = None

    _utc = field_validator("finished_at")(as_utc)

    class Settings:
        name = "images"
        indexes = [
            # Not unique: ids are assigned once, at submit, and mongomock
            # (the embedded database) checks a unique index by scanning the
            # collection on every insert, which made large jobs quadratic.
            IndexModel(
                [("job_id", ASCENDING), ("visit", ASCENDING), ("position", ASCENDING)]
            ),
            IndexModel([("job_id", ASCENDING), ("status", ASCENDING)]),
        ]


PROGRESS_FIELD = {
    ImageStatus.DONE: "progress.done",
    ImageStatus.FAILED: "progress.failed",
    ImageStatus.CANCELLED: "progress.cancelled",
}


async def mark_job_started(job_id: PydanticObjectId) -> bool:
    """PENDING becomes ONGOING when the first image starts."""
    result = await Job.get_pymongo_collection().update_one(
        {"_id": job_id, "status": JobStatus.PENDING.value},
        {"$set": {"status": JobStatus.ONGOING.value, "started_at": utcnow()}},
    )
    return bool(result.modified_count)


async def record_image(
    image: JobImage,
    status: ImageStatus,
    fields: dict[str, Any],
    store_error: str | None = None,
) -> Job | None:
    """Store one image's outcome once; return the job as it now stands.

    The job comes back without its visits (``visits`` is empty): reading and
    validating them for every image made a job of many visits slow.
    ``store_error`` becomes the store's error entry unless it has one.
    Returns ``None`` when the image was no longer pending (a duplicate
    delivery, or the job was cancelled meanwhile): nothing is counted twice.
    """
    update = {**fields, "status": status.value, "finished_at": utcnow()}
    result = await JobImage.get_pymongo_collection().update_one(
        {"_id": image.id, "status": ImageStatus.PENDING.value}, {"$set": update}
    )
    if not result.modified_count:
        return None
    if store_error is not None:
        await add_store_error(image.job_id, image.store_id, store_error)
    raw = await Job.get_pymongo_collection().find_one_and_update(
        {"_id": image.job_id},
        {"$inc": {PROGRESS_FIELD[status]: 1}},
        projection={"visits": False},
        return_document=ReturnDocument.AFTER,
    )
    return None if raw is None else Job.model_validate({**raw, "visits": []})


async def add_store_error(job_id: PydanticObjectId, store_id: str, error: str) -> None:
    """One error entry per failed store: the first failure names it."""
    await Job.get_pymongo_collection().update_one(
        {"_id": job_id, "errors.store_id": {"$ne": store_id}},
        {"$push": {"errors": {"store_id": store_id, "error": error}}},
    )


async def finish_job_if_done(job: Job) -> JobStatus | None:
    """Give a job with nothing pending its terminal status, exactly once."""
    if job.progress.pending > 0 or job.status.is_terminal:
        return None
    failed = job.progress.failed > 0 or bool(job.errors)
    status = JobStatus.FAILED if failed else JobStatus.COMPLETED
    result = await Job.get_pymongo_collection().update_one(
        {
            "_id": job.id,
            "status": {"$in": [s.value for s in ACTIVE_STATUSES]},
            "progress.done": job.progress.done,
            "progress.failed": job.progress.failed,
            "progress.cancelled": job.progress.cancelled,
        },
        {"$set": {"status": status.value, "finished_at": utcnow()}},
    )
    return status if result.modified_count else None


async def recount_progress(job_id: PydanticObjectId) -> Job | None:
    """Rebuild a job's counts from its images (after a crash between writes)."""
    images = JobImage.get_pymongo_collection()
    counts = {
        status: await images.count_documents({"job_id": job_id, "status": status.value})
        for status in ImageStatus
    }
    progress = {
        "total": sum(counts.values()),
        "done": counts[ImageStatus.DONE],
        "failed": counts[ImageStatus.FAILED],
        "cancelled": counts[ImageStatus.CANCELLED],
    }
    raw = await Job.get_pymongo_collection().find_one_and_update(
        {"_id": job_id},
        {"$set": {"progress": progress}},
        return_document=ReturnDocument.AFTER,
    )
    return None if raw is None else Job.model_validate(raw)


RESULT_FIELDS = (
    "width",
    "height",
    "perimeter",
    "format",
    "orientation",
    "frames",
    "error",
    "error_code",
    "finished_at",
)


async def cancel_job(job_id: PydanticObjectId) -> bool:
    """An active job becomes CANCELLED and its pending images with it."""
    result = await Job.get_pymongo_collection().update_one(
        {"_id": job_id, "status": {"$in": [s.value for s in ACTIVE_STATUSES]}},
        {"$set": {"status": JobStatus.CANCELLED.value, "finished_at": utcnow()}},
    )
    if not result.modified_count:
        return False
    await JobImage.get_pymongo_collection().update_many(
        {"job_id": job_id, "status": ImageStatus.PENDING.value},
        {"$set": {"status": ImageStatus.CANCELLED.value, "finished_at": utcnow()}},
    )
    await recount_progress(job_id)
    return True


async def reset_failed_images(job_id: PydanticObjectId) -> list[JobImage] | None:
    """A FAILED job becomes ONGOING with its failed images PENDING again.

    Returns those images, or ``None`` when the job was not FAILED.
    """
    result = await Job.get_pymongo_collection().update_one(
        {"_id": job_id, "status": JobStatus.FAILED.value},
        {
            "$set": {"status": JobStatus.ONGOING.value, "errors": []},
            "$unset": {"finished_at": ""},
        },
    )
    if not result.modified_count:
        return None
    images = JobImage.get_pymongo_collection()
    query = {"job_id": job_id, "status": ImageStatus.FAILED.value}
    failed = await JobImage.find(query).sort("visit", "position").to_list()
    await images.update_many(
        query,
        {
            "$set": {"status": ImageStatus.PENDING.value, "attempts": 0},
            "$unset": {name: "" for name in RESULT_FIELDS},
        },
    )
    await recount_progress(job_id)
    for image in failed:
        image.status = ImageStatus.PENDING
    return failed
