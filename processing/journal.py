"""The lifecycle of jobs and images, as log lines and counters.

One log line per job state change (queued, started, finished) and per failed
image, in a fixed vocabulary, each counted in :mod:`processing.metrics` too.
A client's image URL can carry secrets in its query string (signed links,
tokens), so a line names only its host; the full URL stays in the database,
where the client that sent it can read it. The ids and the host also go to
``extra``, so ``LOG_FORMAT=json`` hands them to machines as fields.
"""

from __future__ import annotations

import logging
from urllib.parse import urlsplit

from processing import metrics

logger = logging.getLogger(__name__)


def url_host(url: str) -> str:
    """The host of ``url`` (with its port), or ``"?"`` when it has none."""
    try:
        parts = urlsplit(url)
        host = parts.hostname or "?"
        port = parts.port
    except ValueError:
        return "?"
    if ":" in host:
        host = f"[{host}]"
    return f"{host}:{port}" if port else host


def image_fields(job_id: str, store_id: str, url: str) -> dict[str, str]:
    return {"job_id": job_id, "store_id": store_id, "url_host": url_host(url)}


def job_queued(job_id: str, visits: int, images: int, unknown_store: int) -> None:
    """A job was accepted; ``unknown_store`` of its images failed at once."""
    logger.info(
        "job queued: %s, %d visits, %d images",
        job_id,
        visits,
        images,
        extra={"job_id": job_id, "visits": visits, "images": images},
    )
    metrics.job_submitted()
    metrics.images_failed_at_submit("UNKNOWN_STORE", unknown_store)


def job_started(job_id: str) -> None:
    logger.info("job started: %s", job_id, extra={"job_id": job_id})


def job_finished(job_id: str, status: str) -> None:
    logger.info(
        "job finished: %s %s",
        job_id,
        status,
        extra={"job_id": job_id, "status": status},
    )
    metrics.job_finished(status)


def image_failed(job_id: str, store_id: str, url: str, code: str, reason: str) -> None:
    fields = image_fields(job_id, store_id, url)
    logger.info(
        "image failed: job %s store %s host %s code %s: %s",
        job_id,
        store_id,
        fields["url_host"],
        code,
        reason,
        extra={**fields, "code": code},
    )


def image_retrying(
    job_id: str, store_id: str, url: str, attempt: int, delay: float, code: str
) -> None:
    fields = image_fields(job_id, store_id, url)
    logger.info(
        "image retrying: job %s store %s host %s attempt %d in %.2fs: %s",
        job_id,
        store_id,
        fields["url_host"],
        attempt,
        delay,
        code,
        extra={**fields, "attempt": attempt, "code": code},
    )


def image_crashed(job_id: str, store_id: str, url: str, error: Exception) -> None:
    """Processing raised something unexpected; log it with its traceback."""
    fields = image_fields(job_id, store_id, url)
    logger.error(
        "image failed: job %s store %s host %s: internal error",
        job_id,
        store_id,
        fields["url_host"],
        exc_info=error,
        extra={**fields, "code": "DOWNLOAD_FAILED"},
    )
