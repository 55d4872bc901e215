"""``imagejobs serve`` as a real process: JSON logs and a graceful SIGTERM."""

from __future__ import annotations

import signal
import subprocess
import time
from collections.abc import Iterator

import pytest

from tests.conftest import free_port
from tests.processes import (
    end,
    first_record,
    log_records,
    start_command,
    submit_urls,
    wait_for_state,
    wait_until_healthy,
)

SECRET = "s3cret-signature"


@pytest.fixture
def serve() -> Iterator[tuple[str, subprocess.Popen[str]]]:
    port = free_port()
    process = start_command(
        "serve", PORT=str(port), CONCURRENCY="2", SHUTDOWN_GRACE="10"
    )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until_healthy(base, process)
        yield base, process
    finally:
        end(process)


def test_sigterm_finishes_in_flight_images_and_hands_back_the_rest(
    serve: tuple[str, subprocess.Popen[str]], case_server: str
) -> None:
    base, process = serve
    job_id = submit_urls(base, [f"{case_server}/h18/slow-a.png?sig={SECRET}"] * 6)
    wait_for_state(base, job_id, "ONGOING")

    sent = time.monotonic()
    process.send_signal(signal.SIGTERM)
    _, stderr = process.communicate(timeout=30)
    took = time.monotonic() - sent

    assert process.returncode == 0, stderr
    assert took < 10, f"took {took:.1f}s to stop"
    records = log_records(stderr)
    summary = first_record(records, "shutdown:")
    assert (summary["finished"], summary["cut_short"]) == (2, 0)
    handed = first_record(records, "job handed back")
    assert (handed["job_id"], handed["images"]) == (job_id, 4)
    assert SECRET not in stderr


def test_json_logs_name_the_job_store_and_host_of_a_failed_image(
    serve: tuple[str, subprocess.Popen[str]], case_server: str
) -> None:
    base, process = serve
    job_id = submit_urls(base, [f"{case_server}/missing.png?token={SECRET}"])
    wait_for_state(base, job_id, "FAILED")

    process.send_signal(signal.SIGTERM)
    _, stderr = process.communicate(timeout=30)

    records = log_records(stderr)
    failed = first_record(records, "image failed")
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
