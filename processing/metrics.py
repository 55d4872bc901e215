"""Prometheus metrics of this process, in one registry served at ``/metrics``.

Processing calls the small functions here at each event (an image finished,
a job reached its end); gauges that describe the current load (queue depth,
images in flight) are set from the running service when Prometheus scrapes.
Counters are per process: with workers, each process counts what it did.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Iterator
from contextlib import contextmanager
from typing import TypeVar

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    ProcessCollector,
    generate_latest,
)

T = TypeVar("T")

REGISTRY = CollectorRegistry()
ProcessCollector(registry=REGISTRY)

# Loopback downloads take milliseconds, slow origins tens of seconds.
DOWNLOAD_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)
# Whole images include the simulated 0.1-0.4 s of GPU time.
IMAGE_BUCKETS = (0.05, 0.1, 0.2, 0.3, 0.4, 0.5, 0.75, 1, 2.5, 5, 10, 30, 60)

JOBS_SUBMITTED = Counter(
    "imagejobs_jobs_submitted", "Jobs accepted.", registry=REGISTRY
)
JOBS_FINISHED = Counter(
    "imagejobs_jobs_finished",
    "Jobs that reached a terminal status, by that status.",
    ["status"],
    registry=REGISTRY,
)
IMAGES = Counter(
    "imagejobs_images",
    "Images processed, by outcome (done, failed) and error code.",
    ["outcome", "code"],
    registry=REGISTRY,
)
DOWNLOAD_SECONDS = Histogram(
    "imagejobs_image_download_seconds",
    "Time to download one image, retries included.",
    buckets=DOWNLOAD_BUCKETS,
    registry=REGISTRY,
)
IMAGE_SECONDS = Histogram(
    "imagejobs_image_seconds",
    "Time to process one image attempt: download, measure, simulated GPU.",
    buckets=IMAGE_BUCKETS,
    registry=REGISTRY,
)
QUEUE_DEPTH = Gauge(
    "imagejobs_queue_depth", "Images waiting to start.", registry=REGISTRY
)
IN_FLIGHT = Gauge(
    "imagejobs_images_in_flight", "Images being processed now.", registry=REGISTRY
)
SUBSCRIBERS = Gauge(
    "imagejobs_subscribers", "Open jobProgress subscriptions.", registry=REGISTRY
)


def job_submitted() -> None:
    JOBS_SUBMITTED.inc()


def job_finished(status: str) -> None:
    """Count a job that reached ``status`` (COMPLETED, FAILED, CANCELLED)."""
    JOBS_FINISHED.labels(status=status).inc()


def image_finished(outcome: str, code: str | None) -> None:
    """Count one image result as it is recorded (``outcome`` DONE or FAILED)."""
    IMAGES.labels(outcome=outcome.lower(), code=code or "").inc()


async def timed(attempt: Awaitable[T]) -> T:
    """Await one image attempt (download, measure, GPU time), timing it."""
    started = time.perf_counter()
    try:
        return await attempt
    finally:
        IMAGE_SECONDS.observe(time.perf_counter() - started)


def images_failed_at_submit(code: str, count: int) -> None:
    """Images failed without running (an unknown store's images)."""
    if count:
        IMAGES.labels(outcome="failed", code=code).inc(count)


def set_load(queue_depth: int, in_flight: int) -> None:
    QUEUE_DEPTH.set(queue_depth)
    IN_FLIGHT.set(in_flight)


@contextmanager
def subscriber() -> Iterator[None]:
    """Count an open subscription while the block runs."""
    SUBSCRIBERS.inc()
    try:
        yield
    finally:
        SUBSCRIBERS.dec()


def exposition() -> tuple[bytes, str]:
    """The metrics in Prometheus text format, with their content type."""
    return generate_latest(REGISTRY), CONTENT_TYPE_LATEST
