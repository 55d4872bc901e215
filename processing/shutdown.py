"""Stopping a processing node without losing work.

On SIGTERM the node stops taking images, gives the images in flight a grace
period (``SHUTDOWN_GRACE``) to finish and record their results, then cancels
the rest. Nothing is lost: an image's result is written only when it is
done, so every image not finished stays ``PENDING`` in the database, and its
job resumes when a service starts again over the same database
(:meth:`processing.jobs.JobService.resume`).
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import Protocol

from models.jobs import ImageStatus, JobImage

logger = logging.getLogger(__name__)

POLL_SECONDS = 0.05


class Closable(Protocol):
    @property
    def depth(self) -> int: ...

    def close(self) -> None: ...


class Stoppable(Protocol):
    in_flight: int

    async def stop(self) -> None: ...


@dataclass(frozen=True)
class Drained:
    """How a stop went: images finished in the grace period, cut short, unstarted."""

    finished: int
    cut_short: int
    unstarted: int


async def drain(queue: Closable, runner: Stoppable, grace: float) -> Drained:
    """Stop taking work, let in-flight images finish within ``grace``, stop."""
    queue.close()
    started_with = runner.in_flight
    loop = asyncio.get_running_loop()
    deadline = loop.time() + grace
    # The runner signals nothing when it goes idle; polling its counter keeps
    # this module the only one that knows about stopping.
    while runner.in_flight and loop.time() < deadline:  # noqa: ASYNC110
        await asyncio.sleep(POLL_SECONDS)
    cut_short = runner.in_flight
    await runner.stop()
    return Drained(started_with - cut_short, cut_short, queue.depth)


async def pending_by_job() -> dict[str, int]:
    """Images still PENDING, by job id: what this node hands back."""
    images = JobImage.get_pymongo_collection()
    pending = {"status": ImageStatus.PENDING.value}
    job_ids = await images.distinct("job_id", pending)
    return {
        str(job_id): await images.count_documents({**pending, "job_id": job_id})
        for job_id in job_ids
    }


async def stop_processing(queue: Closable, runner: Stoppable, grace: float) -> None:
    """Drain the runner and log what was handed back to the database."""
    drained = await drain(queue, runner, grace)
    logger.info(
        "shutdown: %d images finished in grace, %d cut short, %d never started",
        drained.finished,
        drained.cut_short,
        drained.unstarted,
        extra={"finished": drained.finished, "cut_short": drained.cut_short},
    )
    try:
        pending = await pending_by_job()
    except Exception:  # the database may be gone already; the images are not
        logger.exception("shutdown: cannot count what was handed back")
        return
    for job_id, images in pending.items():
        logger.info(
            "job handed back: %s, %d images pending",
            job_id,
            images,
            extra={"job_id": job_id, "images": images},
        )
