"""The ``stats`` query: how busy the service is, for the dashboard.

Queue depth and images in flight are read from this process's queue and
runner; with a broker, images handed to workers and not yet back count as in
flight. Images per minute are counted from the images' ``finished_at``,
one entry per minute of the window, so a chart has no gaps to fill.
"""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta

import strawberry
from graphql import GraphQLError
from strawberry.types import Info

from graph.context import Context, Services
from models.jobs import ImageStatus, JobImage, as_utc

MAX_MINUTES = 24 * 60
COUNTED = (ImageStatus.DONE, ImageStatus.FAILED)


@strawberry.type(description="Images that finished in one minute.")
class MinuteCount:
    minute: datetime = strawberry.field(description="The minute's start, UTC.")
    done: int = strawberry.field(description="Images that finished DONE.")
    failed: int = strawberry.field(description="Images that finished FAILED.")


@strawberry.type(description="How busy the service is now, and was lately.")
class Stats:
    queue_depth: int = strawberry.field(description="Images waiting to start.")
    in_flight: int = strawberry.field(description="Images being processed now.")

    @strawberry.field(
        description="One entry per minute of the last `minutes` (1-1440), "
        "oldest first, the current minute last; minutes with none count 0."
    )
    async def images_per_minute(self, minutes: int = 60) -> list[MinuteCount]:
        if not 1 <= minutes <= MAX_MINUTES:
            raise GraphQLError(
                f"'minutes' must be between 1 and {MAX_MINUTES}, not {minutes}",
                extensions={"code": "BAD_USER_INPUT"},
            )
        return await count_per_minute(minutes, datetime.now(UTC))


def read_stats(info: Info[Context, None]) -> Stats:
    """The ``stats`` resolver."""
    services: Services = info.context.services
    return Stats(queue_depth=services.queue.depth, in_flight=in_flight(services))


def in_flight(services: Services) -> int:
    """Images this process runs, or has handed to workers and awaits back."""
    if services.runner is not None:
        return services.runner.in_flight
    if services.dispatcher is not None:
        return services.dispatcher.outstanding
    return 0


def minute_of(moment: datetime) -> datetime:
    return moment.replace(second=0, microsecond=0)


async def count_per_minute(minutes: int, now: datetime) -> list[MinuteCount]:
    """Count the images that finished in each of the last ``minutes``."""
    last = minute_of(now)
    first = last - timedelta(minutes=minutes - 1)
    counts = await _finished_since(first)
    window = (first + timedelta(minutes=n) for n in range(minutes))
    return [
        MinuteCount(
            minute=m,
            done=counts[m, ImageStatus.DONE],
            failed=counts[m, ImageStatus.FAILED],
        )
        for m in window
    ]


async def _finished_since(start: datetime) -> Counter[tuple[datetime, ImageStatus]]:
    # Grouped here rather than by an aggregation: the embedded database
    # (mongomock) cannot run one through Beanie, and the window bounds the
    # documents read to the last hours' images, two small fields each.
    cursor = JobImage.get_pymongo_collection().find(
        {
            "finished_at": {"$gte": start},
            "status": {"$in": [s.value for s in COUNTED]},
        },
        {"_id": 0, "finished_at": 1, "status": 1},
    )
    counts: Counter[tuple[datetime, ImageStatus]] = Counter()
    async for raw in cursor:
        finished = as_utc(raw["finished_at"])
        assert finished is not None
        counts[minute_of(finished), ImageStatus(raw["status"])] += 1
    return counts
