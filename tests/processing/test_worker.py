"""Worker nodes as real processes: a SIGTERM hands unfinished work back."""

from __future__ import annotations

import os
import signal
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator

import pytest

from tests.conftest import free_port
from tests.processes import (
    end,
    first_record,
    job_state,
    log_records,
    read_until,
    start_command,
    submit_urls,
    wait_for_state,
    wait_until_healthy,
)

pytestmark = pytest.mark.rabbitmq

Start = Callable[..., subprocess.Popen[str]]


@pytest.fixture
def start() -> Iterator[Start]:
    """Start commands sharing one broker and a queue prefix of their own."""
    amqp = os.environ.get("AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/")
    prefix = f"test-{uuid.uuid4().hex[:12]}"
    started: list[subprocess.Popen[str]] = []

    def launch(command: str, **env: str) -> subprocess.Popen[str]:
        process = start_command(command, AMQP_URL=amqp, AMQP_PREFIX=prefix, **env)
        started.append(process)
        return process

    yield launch
    for process in started:
        end(process)


def test_a_stopped_worker_hands_its_images_to_another(
    start: Start, case_server: str
) -> None:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    api = start("serve", PORT=str(port))
    wait_until_healthy(base, api)
    first = start("worker", CONCURRENCY="2", SHUTDOWN_GRACE="0.2")
    head = read_until(first, "worker consuming")
    job_id = submit_urls(base, [f"{case_server}/h18/slow-a.png"] * 6)
    wait_for_state(base, job_id, "ONGOING")
    time.sleep(0.5)  # the first two images reach the worker and start

    first.send_signal(signal.SIGTERM)
    _, tail = first.communicate(timeout=20)
    assert first.returncode == 0, head + tail
    stopped = first_record(log_records(tail), "worker stopped")
    assert "2 images handed back" in stopped["message"]

    start("worker", CONCURRENCY="3")
    wait_for_state(base, job_id, "COMPLETED", timeout=30)
    assert job_state(base, job_id)["progress"] == {"done": 6, "total": 6}
