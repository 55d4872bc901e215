"""Distributed mode against a real RabbitMQ and real worker processes."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import aio_pika
import pytest
from mongomock_motor import AsyncMongoMockClient
from starlette.testclient import TestClient

from processing.amqp import Topology
from tests.conftest import (
    JOB_STATUS,
    REPO,
    ScriptedServer,
    free_port,
    graphql,
    wait_for_job,
    wait_until,
)
from tests.subscribing import follow, subscribe

BROKER = os.environ.get("AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/")
CHELSEA = "png_rgb_chelsea_451x300.png"
CANCEL = "mutation C($id: ID!) { cancelJob(id: $id) { job { status } } }"
RETRY = "mutation R($id: ID!) { retryJob(id: $id) { job { status } } }"


def broker_answers(host: str = "127.0.0.1", port: int = 5672) -> bool:
    try:
        socket.create_connection((host, port), timeout=2).close()
    except OSError:
        return False
    return True


@pytest.fixture(scope="module", autouse=True)
def broker() -> None:
    if broker_answers():
        return
    reason = f"RabbitMQ is not answering at {BROKER}"
    if os.environ.get("CI") == "true":
        pytest.fail(reason)
    pytest.skip(reason)


async def delete_topology(prefix: str) -> None:
    connection = await aio_pika.connect(BROKER)
    async with connection:
        channel = await connection.channel()
        topology = Topology(prefix)
        for name in (topology.work, topology.retry, topology.results):
            await channel.queue_delete(name)
        await channel.exchange_delete(topology.events)


@pytest.fixture
def prefix() -> Iterator[str]:
    name = f"test-{uuid.uuid4().hex[:12]}"
    yield name
    asyncio.run(delete_topology(name))


class Workers:
    """Worker processes started by a test; all are killed at its end."""

    def __init__(self, prefix: str, logs: Path) -> None:
        self.prefix = prefix
        self.logs = logs
        self.processes: list[subprocess.Popen[bytes]] = []

    def start(self, **env: str) -> subprocess.Popen[bytes]:
        environment = {
            **os.environ,
            "AMQP_URL": BROKER,
            "AMQP_PREFIX": self.prefix,
            "PROCESSING_DELAY": "0",
            "PYTHONPATH": str(REPO),
            **env,
        }
        log = open(self.logs / f"worker-{len(self.processes)}.log", "wb")  # noqa: SIM115
        process = subprocess.Popen(
            [sys.executable, "-m", "imagejobs", "worker"],
            env=environment,
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=REPO,
        )
        log.close()
        self.processes.append(process)
        return process

    def stop(self) -> None:
        for process in self.processes:
            if process.poll() is None:
                process.kill()
            process.wait()


@pytest.fixture
def workers(prefix: str, tmp_path: Path) -> Iterator[Workers]:
    started = Workers(prefix, tmp_path)
    yield started
    started.stop()


def submit(
    client: TestClient,
    urls: list[str],
    priority: str = "NORMAL",
    store: str = "RP00001",
) -> str:
    mutation = """
    mutation S($input: SubmitJobInput!) { submitJob(input: $input) { job { id } } }
    """
    visit = {"storeId": store, "imageUrls": urls, "visitTime": "t"}
    variables = {"input": {"count": 1, "visits": [visit], "priority": priority}}
    job_id: str = graphql(client, mutation, variables)["submitJob"]["job"]["id"]
    return job_id


def status(client: TestClient, job_id: str) -> dict[str, Any]:
    job: dict[str, Any] = graphql(client, JOB_STATUS, {"id": job_id})["job"]
    return job


def broker_client(
    make_client: Callable[..., TestClient], prefix: str, **settings: Any
) -> TestClient:
    return make_client(amqp_url=BROKER, amqp_prefix=prefix, **settings)


def test_a_job_survives_a_killed_worker(
    make_client: Callable[..., TestClient],
    prefix: str,
    workers: Workers,
    image_server: str,
) -> None:
    client = broker_client(make_client, prefix)
    doomed = workers.start(PROCESSING_DELAY="0.2", CONCURRENCY="4")
    workers.start(PROCESSING_DELAY="0.2", CONCURRENCY="4")
    job_id = submit(client, [f"{image_server}/{CHELSEA}"] * 40)

    wait_until(lambda: status(client, job_id)["progress"]["done"] >= 6)
    doomed.send_signal(signal.SIGKILL)
    doomed.wait(timeout=10)
    job = wait_for_job(client, job_id, timeout=90)

    assert job["status"] == "COMPLETED"
    assert job["progress"]["done"] == 40
    images = job["visits"][0]["images"]
    assert {(i["status"], i["width"], i["height"]) for i in images} == {
        ("DONE", 451, 300)
    }
    assert doomed.returncode == -signal.SIGKILL


def test_a_high_priority_job_overtakes_a_big_normal_one(
    make_client: Callable[..., TestClient],
    prefix: str,
    workers: Workers,
    image_server: str,
) -> None:
    client = broker_client(make_client, prefix)
    workers.start(PROCESSING_DELAY="0.05", CONCURRENCY="1")
    big = submit(client, [f"{image_server}/{CHELSEA}"] * 200)
    wait_until(lambda: status(client, big)["progress"]["done"] >= 1)

    urgent = submit(client, [f"{image_server}/{CHELSEA}"] * 2, priority="HIGH")
    finished = wait_for_job(client, urgent, query=JOB_STATUS)
    big_then = status(client, big)

    assert finished["status"] == "COMPLETED"
    assert big_then["status"] == "ONGOING"
    assert big_then["progress"]["done"] < 150
    graphql(client, CANCEL, {"id": big})


def test_a_small_job_finishes_long_before_a_big_one(
    make_client: Callable[..., TestClient],
    prefix: str,
    workers: Workers,
    image_server: str,
) -> None:
    client = broker_client(make_client, prefix, dispatch_window=4)
    workers.start(PROCESSING_DELAY="0.02", CONCURRENCY="2")
    big = submit(client, [f"{image_server}/{CHELSEA}"] * 10_000)
    wait_until(lambda: status(client, big)["progress"]["done"] >= 1)

    small = submit(client, [f"{image_server}/png_1x1_palette.png"] * 5)
    finished = wait_for_job(client, small, query=JOB_STATUS)
    big_then = status(client, big)

    assert finished["status"] == "COMPLETED"
    assert big_then["status"] == "ONGOING"
    assert big_then["progress"]["done"] < 1000
    cancelled = graphql(client, CANCEL, {"id": big})["cancelJob"]["job"]
    assert cancelled["status"] == "CANCELLED"


def test_a_restarted_api_resumes_its_jobs(
    make_client: Callable[..., TestClient],
    prefix: str,
    workers: Workers,
    image_server: str,
) -> None:
    database = AsyncMongoMockClient()
    first = broker_client(make_client, prefix, db_client=database)
    workers.start(PROCESSING_DELAY="0.1", CONCURRENCY="2")
    job_id = submit(first, [f"{image_server}/{CHELSEA}"] * 30)
    wait_until(lambda: status(first, job_id)["progress"]["done"] >= 3)

    first.__exit__(None, None, None)
    second = broker_client(make_client, prefix, db_client=database)
    job = wait_for_job(second, job_id, timeout=90)

    assert job["status"] == "COMPLETED"
    assert job["progress"]["done"] == 30
    assert all(i["status"] == "DONE" for i in job["visits"][0]["images"])


class PortForward:
    """Forwards a local port to the broker once started: a broker that is
    down, then comes back."""

    def __init__(self, target: tuple[str, int]) -> None:
        self.target = target
        self.port = free_port()
        self.listener: socket.socket | None = None

    def start(self) -> None:
        self.listener = socket.create_server(("127.0.0.1", self.port))
        threading.Thread(target=self._accept, daemon=True).start()

    def stop(self) -> None:
        if self.listener is not None:
            self.listener.close()

    def _accept(self) -> None:
        assert self.listener is not None
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            upstream = socket.create_connection(self.target)
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    @staticmethod
    def _pipe(source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        finally:
            sink.close()


def test_a_job_submitted_while_the_broker_is_down_runs_when_it_is_back(
    make_client: Callable[..., TestClient],
    prefix: str,
    workers: Workers,
    image_server: str,
) -> None:
    forward = PortForward(("127.0.0.1", 5672))
    down = BROKER.replace("127.0.0.1:5672", f"127.0.0.1:{forward.port}")
    client = make_client(amqp_url=down, amqp_prefix=prefix)
    workers.start()

    job_id = submit(client, [f"{image_server}/{CHELSEA}"] * 3)
    time.sleep(1)
    waiting = status(client, job_id)
    forward.start()
    try:
        job = wait_for_job(client, job_id, timeout=60)
    finally:
        forward.stop()

    assert waiting["status"] == "PENDING"
    assert job["status"] == "COMPLETED"
    assert job["progress"]["done"] == 3


@pytest.mark.timeout(60)
def test_a_subscriber_follows_a_job_that_workers_run(
    make_client: Callable[..., TestClient],
    prefix: str,
    workers: Workers,
    image_server: str,
) -> None:
    client = broker_client(make_client, prefix)
    workers.start(PROCESSING_DELAY="0.05", CONCURRENCY="2")
    job_id = submit(client, [f"{image_server}/{CHELSEA}"] * 20)

    with subscribe(client, "graphql-transport-ws", job_id) as ws:
        jobs, ending = follow(ws, "graphql-transport-ws")

    done = [j["progress"]["done"] for j in jobs]
    assert ending == "complete"
    assert len(jobs) >= 2 and done == sorted(done)
    assert jobs[-1]["status"] == "COMPLETED" and done[-1] == 20


def test_workers_retry_transient_failures_and_retry_job_reruns_failed_images(
    make_client: Callable[..., TestClient],
    prefix: str,
    workers: Workers,
    scripted_server: ScriptedServer,
    shared: Path,
) -> None:
    png = (shared / "cases" / "files" / "control_ok.png").read_bytes()
    scripted_server.script["/busy.png"] = [(503, b"busy", {}), (200, png, {})]
    scripted_server.script["/late.png"] = [(404, b"no", {}), (200, png, {})]
    client = broker_client(make_client, prefix)
    workers.start(FETCH_ATTEMPTS="3")
    urls = [f"{scripted_server.base}/busy.png", f"{scripted_server.base}/late.png"]
    job_id = submit(client, urls)
    failed = wait_for_job(client, job_id)

    retried = graphql(client, RETRY, {"id": job_id})["retryJob"]
    final = wait_for_job(client, job_id)

    busy, late = failed["visits"][0]["images"]
    assert (busy["status"], busy["attempts"]) == ("DONE", 2)
    assert (late["status"], late["errorCode"], late["attempts"]) == (
        "FAILED",
        "HTTP_ERROR",
        1,
    )
    assert retried["job"]["status"] == "ONGOING"
    assert final["status"] == "COMPLETED"
    assert scripted_server.hits == {"/busy.png": 2, "/late.png": 2}
