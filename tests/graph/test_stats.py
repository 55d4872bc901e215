from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from beanie import PydanticObjectId
from starlette.testclient import TestClient

from graph.stats import count_per_minute
from models.jobs import ImageStatus, JobImage
from tests.conftest import graphql

STATS = """
query Stats($minutes: Int) {
  stats {
    queueDepth inFlight
    imagesPerMinute(minutes: $minutes) { minute done failed }
  }
}
"""
SUBMIT = """
mutation Submit($input: SubmitJobInput!) {
  submitJob(input: $input) { job { id } userErrors { code } }
}
"""


def finished_image(status: ImageStatus, at: datetime) -> JobImage:
    return JobImage(
        job_id=PydanticObjectId(),
        visit=0,
        position=0,
        store_id="RP00010",
        url="http://127.0.0.1:9/a.png",
        status=status,
        finished_at=at,
    )


def insert(client: TestClient, images: list[JobImage]) -> None:
    async def run() -> None:
        await JobImage.insert_many(images)

    client.portal.call(run)


def test_images_per_minute_counts_done_and_failed_by_minute(
    client: TestClient,
) -> None:
    now = datetime(2024, 6, 1, 10, 30, 40, tzinfo=UTC)
    insert(
        client,
        [
            finished_image(ImageStatus.DONE, now - timedelta(seconds=5)),
            finished_image(ImageStatus.DONE, now - timedelta(seconds=30)),
            finished_image(ImageStatus.FAILED, now - timedelta(minutes=2)),
            finished_image(ImageStatus.DONE, now - timedelta(minutes=2, seconds=20)),
            finished_image(ImageStatus.DONE, now - timedelta(minutes=5)),
            finished_image(ImageStatus.CANCELLED, now - timedelta(seconds=1)),
        ],
    )

    async def count() -> list[Any]:
        return await count_per_minute(4, now)

    minutes = client.portal.call(count)

    assert [(m.minute.strftime("%H:%M"), m.done, m.failed) for m in minutes] == [
        ("10:27", 0, 0),
        ("10:28", 1, 1),
        ("10:29", 0, 0),
        ("10:30", 2, 0),
    ]


def test_stats_reports_the_last_hour_oldest_first(
    client: TestClient, image_server: str
) -> None:
    urls = [f"{image_server}/gif_static_solid2_640x400.gif", f"{image_server}/nope"]
    visits = [{"storeId": "RP00010", "imageUrls": urls, "visitTime": "t"}]
    graphql(client, SUBMIT, {"input": {"count": 1, "visits": visits}})
    deadline = time.monotonic() + 30
    while True:
        stats = graphql(client, STATS, {"minutes": 60})["stats"]
        minutes = stats["imagesPerMinute"]
        finished = sum(m["done"] + m["failed"] for m in minutes)
        if finished == 2 or time.monotonic() > deadline:
            break
        time.sleep(0.05)

    assert len(minutes) == 60
    assert [m["minute"] for m in minutes] == sorted(m["minute"] for m in minutes)
    assert sum(m["done"] for m in minutes) == 1
    assert sum(m["failed"] for m in minutes) == 1
    assert stats["queueDepth"] == 0
    assert stats["inFlight"] == 0


def test_stats_shows_queue_depth_and_images_in_flight(
    make_client: Callable[..., TestClient], image_server: str
) -> None:
    client = make_client(concurrency=1, processing_delay="30")
    url = f"{image_server}/gif_static_solid2_640x400.gif"
    visits = [{"storeId": "RP00010", "imageUrls": [url] * 3, "visitTime": "t"}]
    graphql(client, SUBMIT, {"input": {"count": 1, "visits": visits}})
    deadline = time.monotonic() + 10
    while True:
        stats = graphql(client, STATS)["stats"]
        if stats["inFlight"] == 1 or time.monotonic() > deadline:
            break
        time.sleep(0.05)

    assert (stats["queueDepth"], stats["inFlight"]) == (2, 1)
    assert len(stats["imagesPerMinute"]) == 60


def test_stats_minutes_out_of_range_is_bad_input(client: TestClient) -> None:
    response = client.post(
        "/graphql", json={"query": STATS, "variables": {"minutes": 0}}
    )
    error = response.json()["errors"][0]

    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert "minutes" in error["message"]
