"""``imagejobs submit``: send a job file and report how it ends."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any

import httpx

from imagejobs.cli import EXIT_FAILED, EXIT_OK, CommandError, graphql

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
    if response.status_code != 201:
        reason = body.get("error") or f"HTTP {response.status_code}"
        raise CommandError(f"job rejected: {reason}")
    job_id: str = body["job_id"]
    return job_id


def _json(response: httpx.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def wait_for_end(url: str, token: str | None, job_id: str) -> dict[str, Any]:
    while True:
        job: dict[str, Any] = graphql(url, token, JOB_STATE, {"id": job_id})["job"]
        if job["status"] in TERMINAL:
            return job
        time.sleep(0.5)


def print_summary(job: dict[str, Any]) -> None:
    p = job["progress"]
    print(
        f"{job['status'].lower()}: {p['done']} done, {p['failed']} failed, "
        f"{p['cancelled']} cancelled of {p['total']} images"
    )
    for error in job["errors"]:
        print(f"  store {error['storeId']}: {error['error']}")


def submit_file(url: str, token: str | None, path: Path, *, watch: bool) -> int:
    """Submit the job in ``path``; with ``watch`` wait and report its end."""
    job_id = post_job(url, token, read_job_file(path))
    print(job_id)
    if not watch:
        return EXIT_OK
    job = wait_for_end(url, token, job_id)
    print_summary(job)
    sys.stdout.flush()
    return TERMINAL[job["status"]]
