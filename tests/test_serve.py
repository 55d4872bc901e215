"""``imagejobs serve`` as a real process: JSON logs and a graceful SIGTERM."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.conftest import REPO, free_port

SECRET = "s3cret-signature"
JOB_STATUS = "query($id: ID!) { job(id: $id) { status progress { done } } }"


def start_serve(port: int, **env: str) -> subprocess.Popen[str]:
    variables = {
        **os.environ,
        "PYTHONPATH": str(REPO),
        "PORT": str(port),
        "HOST": "127.0.0.1",
        "LOG_FORMAT": "json",
        "PROCESSING_DELAY": "0",
        "FETCH_ATTEMPTS": "1",
        **env,
    }
    return subprocess.Popen(
        [sys.executable, "-m", "imagejobs", "serve"],
        cwd=REPO,
        env=variables,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )


def wait_until_healthy(base: str, process: subprocess.Popen[str]) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and process.poll() is None:
        try:
            if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            time.sleep(0.1)
    pytest.fail("imagejobs serve did not start")


@pytest.fixture
def serve() -> Iterator[tuple[str, subprocess.Popen[str]]]:
    port = free_port()
    process = start_serve(port, CONCURRENCY="2", SHUTDOWN_GRACE="10")
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until_healthy(base, process)
        yield base, process
    finally:
        if process.poll() is None:
            process.kill()
        process.wait()
        assert process.stderr is not None
        process.stderr.close()


def submit_slow_job(base: str, case_server: str, images: int) -> str:
    url = f"{case_server}/h18/slow-a.png?sig={SECRET}"
    visit = {"store_id": "RP00001", "visit_time": "2024-06-01", "image_url": []}
    visit["image_url"] = [url] * images
    response = httpx.post(f"{base}/api/submit/", json={"count": 1, "visits": [visit]})
    assert response.status_code == 201, response.text
    job_id: str = response.json()["job_id"]
    return job_id


def wait_until_ongoing(base: str, job_id: str) -> None:
    deadline = time.monotonic() + 10
    body = {"query": JOB_STATUS, "variables": {"id": job_id}}
    while time.monotonic() < deadline:
        job = httpx.post(f"{base}/graphql", json=body).json()["data"]["job"]
        if job["status"] == "ONGOING":
            return
        time.sleep(0.05)
    pytest.fail("the job did not start")


def log_records(text: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in text.splitlines() if line.startswith("{")]


def test_sigterm_finishes_in_flight_images_and_hands_back_the_rest(
    serve: tuple[str, subprocess.Popen[str]], case_server: str
) -> None:
    base, process = serve
    job_id = submit_slow_job(base, case_server, images=6)
    wait_until_ongoing(base, job_id)

    sent = time.monotonic()
    process.send_signal(signal.SIGTERM)
    _, stderr = process.communicate(timeout=30)
    took = time.monotonic() - sent

    assert process.returncode == 0, stderr
    assert took < 10, f"took {took:.1f}s to stop"
    records = log_records(stderr)
    summary = next(r for r in records if r["message"].startswith("shutdown:"))
    assert (summary["finished"], summary["cut_short"]) == (2, 0)
    handed = next(r for r in records if r["message"].startswith("job handed back"))
    assert (handed["job_id"], handed["images"]) == (job_id, 4)
    assert SECRET not in stderr


def test_json_logs_name_the_job_store_and_host_of_a_failed_image(
    serve: tuple[str, subprocess.Popen[str]], case_server: str
) -> None:
    base, process = serve
    url = f"{case_server}/missing.png?token={SECRET}"
    visit = {"store_id": "RP00001", "visit_time": "2024-06-01", "image_url": [url]}
    response = httpx.post(f"{base}/api/submit/", json={"count": 1, "visits": [visit]})
    job_id = response.json()["job_id"]
    wait_for_rest_status(base, job_id, "failed")

    process.send_signal(signal.SIGTERM)
    _, stderr = process.communicate(timeout=30)

    records = log_records(stderr)
    failed = next(r for r in records if r["message"].startswith("image failed"))
    host = case_server.removeprefix("http://")
    assert failed["level"] == "INFO" and failed["logger"] == "processing.journal"
    assert (failed["job_id"], failed["store_id"], failed["url_host"]) == (
        job_id,
        "RP00001",
        host,
    )
    assert {"time", "code"} <= failed.keys()
    states = [r["message"].split(":")[0] for r in records if r.get("job_id") == job_id]
    assert states == ["job queued", "job started", "image failed", "job finished"]
    assert SECRET not in stderr


def wait_for_rest_status(base: str, job_id: str, status: str) -> None:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        body = httpx.get(f"{base}/api/status", params={"jobid": job_id}).json()
        if body["status"] == status:
            return
        time.sleep(0.05)
    pytest.fail(f"job {job_id} never became {status}")
