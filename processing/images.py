"""One image's turn: try it once, then record what happened.

:func:`attempt_image` fetches and measures an image a single time and says
what to do next: record a result, or try again after a delay. Waiting for a
retry holds no slot: the caller puts the image back on its queue (in this
process) or on the broker's delay queue (on a worker node).
:func:`record_outcome` stores the result once and moves the job along; it is
the same for results computed here and results arriving from workers.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from beanie import PydanticObjectId

from models.jobs import (
    ImageStatus,
    JobImage,
    finish_job_if_done,
    mark_job_started,
    record_image,
)
from processing import journal, metrics
from processing.errors import ProcessingError
from processing.events import JobEvents
from processing.fetch import retry_delay
from processing.queue import WorkItem

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class ImageResult:
    """What processing learned about one image."""

    width: int
    height: int
    format: str
    orientation: int | None
    frames: int
    attempts: int = 1

    @property
    def perimeter(self) -> int:
        return 2 * (self.width + self.height)


ImageProcessor = Callable[[str], Awaitable[ImageResult]]
"""Fetch and measure one URL once; raise :class:`ProcessingError` on failure."""


@dataclass(frozen=True)
class RetryPolicy:
    attempts: int = 3
    backoff_base: float = 0.5
    max_retry_after: float = 30.0
    delay: tuple[float, float] = (0.1, 0.4)


@dataclass(frozen=True)
class Outcome:
    """A final result to record, or ``retry_in`` seconds to wait first."""

    status: ImageStatus = ImageStatus.FAILED
    fields: dict[str, Any] = field(default_factory=dict)
    retry_in: float | None = None

    @property
    def store_error(self) -> str | None:
        if self.status is not ImageStatus.FAILED:
            return None
        return str(self.fields.get("error"))


async def attempt_image(
    item: WorkItem, process: ImageProcessor, policy: RetryPolicy
) -> Outcome:
    """Fetch, measure and hold the simulated GPU time for ``item``, once."""
    try:
        result = await process(item.url)
    except ProcessingError as error:
        return _after_failure(item, error, policy)
    except Exception as error:
        journal.image_crashed(item.job_id, item.store_id, item.url, error)
        return _failed("DOWNLOAD_FAILED", "internal error processing the image", item)
    await simulate_gpu(policy.delay)
    return Outcome(
        ImageStatus.DONE,
        {
            "width": result.width,
            "height": result.height,
            "perimeter": result.perimeter,
            "format": result.format,
            "orientation": result.orientation,
            "frames": result.frames,
            "attempts": item.attempt,
        },
    )


def _after_failure(
    item: WorkItem, error: ProcessingError, policy: RetryPolicy
) -> Outcome:
    if error.is_transient and item.attempt < policy.attempts:
        delay = retry_delay(
            error, item.attempt, policy.backoff_base, policy.max_retry_after
        )
        journal.image_retrying(*item_ids(item), item.attempt, delay, error.code)
        return Outcome(retry_in=delay)
    journal.image_failed(*item_ids(item), error.code, error.message)
    return _failed(error.code, error.message, item)


def item_ids(item: WorkItem) -> tuple[str, str, str]:
    return item.job_id, item.store_id, item.url


def _failed(code: str, message: str, item: WorkItem) -> Outcome:
    fields = {"error": message, "error_code": code, "attempts": item.attempt}
    return Outcome(ImageStatus.FAILED, fields)


async def simulate_gpu(delay: tuple[float, float]) -> None:
    low, high = delay
    if high > 0:
        await asyncio.sleep(random.uniform(low, high))


async def start_job(item: WorkItem, events: JobEvents) -> None:
    """A job's first image to start makes it ONGOING."""
    if await mark_job_started(PydanticObjectId(item.job_id)):
        journal.job_started(item.job_id)
        events.publish(item.job_id)


async def record_outcome(item: WorkItem, outcome: Outcome, events: JobEvents) -> bool:
    """Store ``outcome`` for ``item`` once; False when it was already recorded."""
    image = JobImage.model_construct(
        id=PydanticObjectId(item.image_id),
        job_id=PydanticObjectId(item.job_id),
        store_id=item.store_id,
    )
    store_error = outcome.store_error
    if store_error is not None:
        store_error = f"{item.url}: {store_error}"
    job = await record_image(image, outcome.status, outcome.fields, store_error)
    if job is None:
        return False
    metrics.image_finished(outcome.status, outcome.fields.get("error_code"))
    finished = await finish_job_if_done(job)
    if finished:
        journal.job_finished(item.job_id, finished.value)
    events.publish(item.job_id)
    return True
