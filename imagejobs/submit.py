"""``imagejobs submit``: send a job file and report how it ends."""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path
from typing import Any

import httpx

from imagejobs.cli import EXIT_FAILED, EXIT_OK, CommandError, graphql
from imagejobs.watch import ProgressBar, follow

JOB_STATE = """
query Job($id: ID!) {
  job(id: $id) {
    id status
    progress { total done failed cancelled pending }
    errors { storeId error }
    visits { storeId images { url status width height perimeter errorCode } }
  }
}
"""
TERMINAL = {"COMPLETED": EXIT_OK, "FAILED": EXIT_FAILED, "CANCELLED": EXIT_FAILED}
MAX_ROWS = 10
NAME_WIDTH = 28
ROW = "  {:<12} {:<28} {:<9} {:<11} {:>9}  {}"


def read_job_file(path: Path) -> Any:
    try:
        return json.loads(path.read_bytes())
    except OSError as error:
        raise CommandError(f"cannot read {path}: {error.strerror}") from None
    except ValueError as error:
        raise CommandError(f"{path} is not valid JSON: {error}") from None


def post_job(url: str, token: str | None, payload: Any) -> str:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    try:
        response = httpx.post(
            url.rstrip("/") + "/api/submit/", json=payload, headers=headers, timeout=60
        )
    except httpx.HTTPError as error:
        raise CommandError(f"cannot reach the service at {url}: {error}") from None
    body = _json(response)
    if response.status_code != 201 and "error" in body:
        raise CommandError(f"job rejected: {body['error']}")
    if response.status_code != 201 or "job_id" not in body:
        raise CommandError(
            f"{url} answered HTTP {response.status_code} without a job id: "
            "is it an imagejobs service?"
        )
    job_id: str = body["job_id"]
    return job_id


def _json(response: httpx.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


async def watch_to_end(url: str, token: str | None, job_id: str) -> str:
    """Draw the job's progress until it ends; return its terminal status."""
    bar, status = ProgressBar(), None
    try:
        async for job in follow(url, token, job_id):
            bar.draw(job)
            status = str(job["status"])
    finally:
        bar.close()
    if status is None or status not in TERMINAL:
        raise CommandError(f"the job's updates ended while it was {status}")
    return status


def print_summary(job: dict[str, Any]) -> None:
    """The results table, each store's error, then the counts, last."""
    print("\n".join(result_rows(job)))
    if job["errors"]:
        print("store errors:")
    for error in job["errors"]:
        print(f"  store {error['storeId']}: {error['error']}")
    p = job["progress"]
    print(
        f"{job['status'].lower()}: {p['done']} done, {p['failed']} failed, "
        f"{p['cancelled']} cancelled of {p['total']} images"
    )


def result_rows(job: dict[str, Any]) -> list[str]:
    """A short table of the job's images: store, name, status, size."""
    images = [(v["storeId"], i) for v in job["visits"] for i in v["images"]]
    rows = [ROW.format("store", "image", "status", "size", "perimeter", "error")]
    for store_id, image in images[:MAX_ROWS]:
        size = f"{image['width']}x{image['height']}" if image["width"] else ""
        rows.append(
            ROW.format(
                store_id[:12],
                short_name(image["url"]),
                image["status"],
                size,
                image["perimeter"] or "",
                image["errorCode"] or "",
            ).rstrip()
        )
    if len(images) > MAX_ROWS:
        rows.append(f"... and {len(images) - MAX_ROWS} more images")
    return rows


def short_name(url: str) -> str:
    name = url.rstrip("/").rsplit("/", 1)[-1] or url
    return name if len(name) <= NAME_WIDTH else name[: NAME_WIDTH - 3] + "..."


def submit_file(url: str, token: str | None, path: Path, *, watch: bool) -> int:
    """Submit the job in ``path``; with ``watch`` wait and report its end."""
    job_id = post_job(url, token, read_job_file(path))
    print(job_id)
    if not watch:
        return EXIT_OK
    sys.stdout.flush()
    status = asyncio.run(watch_to_end(url, token, job_id))
    job = graphql(url, token, JOB_STATE, {"id": job_id})["job"]
    print_summary(job)
    sys.stdout.flush()
    return TERMINAL[status]
