"""Running ``imagejobs`` commands as real processes in tests."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from typing import Any

import httpx
import pytest

from tests.conftest import REPO

JOB_STATUS = "query($id: ID!) { job(id: $id) { status progress { done total } } }"


def start_command(command: str, **env: str) -> subprocess.Popen[str]:
    """``python -m imagejobs COMMAND`` with JSON logs on a pipe."""
    variables = {
        **os.environ,
        "PYTHONPATH": str(REPO),
        "HOST": "127.0.0.1",
        "LOG_FORMAT": "json",
        "PROCESSING_DELAY": "0",
        "FETCH_ATTEMPTS": "1",
        **env,
    }
    return subprocess.Popen(
        [sys.executable, "-m", "imagejobs", command],
        cwd=REPO,
        env=variables,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )


def end(process: subprocess.Popen[str]) -> None:
    """Kill a process the test did not stop itself, and close its pipe."""
    if process.poll() is None:
        process.kill()
    process.communicate()


def wait_until_healthy(base: str, process: subprocess.Popen[str]) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and process.poll() is None:
        try:
            if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            time.sleep(0.1)
    pytest.fail("imagejobs serve did not start")


def job_state(base: str, job_id: str) -> dict[str, Any]:
    body = {"query": JOB_STATUS, "variables": {"id": job_id}}
    job: dict[str, Any] = httpx.post(f"{base}/graphql", json=body).json()["data"]["job"]
    return job


def wait_for_state(base: str, job_id: str, status: str, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if job_state(base, job_id)["status"] == status:
            return
        time.sleep(0.05)
    pytest.fail(f"job {job_id} never became {status}")


def submit_urls(base: str, urls: list[str]) -> str:
    visit = {"store_id": "RP00001", "visit_time": "2024-06-01", "image_url": urls}
    response = httpx.post(f"{base}/api/submit/", json={"count": 1, "visits": [visit]})
    assert response.status_code == 201, response.text
    job_id: str = response.json()["job_id"]
    return job_id


def read_until(process: subprocess.Popen[str], prefix: str, timeout: float = 30) -> str:
    """Read the process's log until a line whose message starts with ``prefix``.

    Returns what was read, so the caller can keep it with the rest of the log.
    """
    assert process.stderr is not None
    read: list[str] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = process.stderr.readline()
        if not line:
            break
        read.append(line)
        if line.startswith("{") and json.loads(line)["message"].startswith(prefix):
            return "".join(read)
    pytest.fail(f"no {prefix!r} in the log:\n{''.join(read)}")


def log_records(text: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in text.splitlines() if line.startswith("{")]


def first_record(records: list[dict[str, Any]], prefix: str) -> dict[str, Any]:
    found = [r for r in records if r["message"].startswith(prefix)]
    assert found, f"no log line starts with {prefix!r}"
    return found[0]
