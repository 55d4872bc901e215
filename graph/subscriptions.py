"""The ``jobProgress`` subscription: a job's state now, after changes, to its end.

Processing only says *that* a job changed (:mod:`processing.events`); each
subscriber then reads the job again. Changes that arrive while a subscriber
waits out its coalescing window fold into one read, so a burst costs one
message per window, and the terminal state is always read and sent last.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncGenerator

import strawberry
from beanie import PydanticObjectId
from graphql import GraphQLError
from strawberry.types import Info

from graph import types
from graph.auth import visible_job
from graph.context import Context
from models import jobs as docs
from processing import metrics
from processing.events import JobEvents

COALESCE_SECONDS = 0.1
"""The shortest time between two messages to one subscriber: ten a second."""


def not_found(job_id: str) -> GraphQLError:
    return GraphQLError(f"no job with id {job_id!r}", extensions={"code": "NOT_FOUND"})


def is_news(sent: docs.Job | None, job: docs.Job) -> bool:
    """Whether ``job`` is worth a message after ``sent`` went out."""
    if sent is None:
        return True
    if job.progress.done < sent.progress.done and not job.status.is_terminal:
        return False  # a stale read: progress.done never goes backwards
    return _visible(job) != _visible(sent)


def _visible(job: docs.Job) -> tuple[object, ...]:
    return (job.status, job.progress, job.errors, job.finished_at)


async def follow_job(
    events: JobEvents,
    job_id: PydanticObjectId,
    interval: float = COALESCE_SECONDS,
) -> AsyncGenerator[docs.Job, None]:
    """Snapshots of one job: now, after changes, the terminal one last.

    Listening starts before the first read, so no change falls between the
    two. At most one snapshot goes out per ``interval``.
    """
    loop = asyncio.get_running_loop()
    async with events.listen(str(job_id)) as changed:
        sent: docs.Job | None = None
        while True:
            read_at = loop.time()
            job = await docs.Job.get(job_id)
            if job is None:
                return
            if is_news(sent, job):
                yield job
                sent = job
                if job.status.is_terminal:
                    return
                await asyncio.sleep(read_at + interval - loop.time())
            await changed.wait()
            changed.clear()


async def _as_graphql(
    snapshots: AsyncGenerator[docs.Job, None],
) -> AsyncGenerator[types.Job, None]:
    with metrics.subscriber():
        async with contextlib.aclosing(snapshots):
            async for job in snapshots:
                yield types.Job(document=job)


@strawberry.type
class Subscription:
    @strawberry.subscription(
        description="The job's whole state at once, then after changes, "
        "ending after a terminal status."
    )
    async def job_progress(
        self, info: Info[Context, None], id: types.JobID
    ) -> AsyncGenerator[types.Job, None]:
        job = await visible_job(info, id)
        if job is None or job.id is None:
            raise not_found(id)
        return _as_graphql(follow_job(info.context.services.events, job.id))
