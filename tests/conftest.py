from __future__ import annotations

import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from functools import partial
from http.server import (
    BaseHTTPRequestHandler,
    SimpleHTTPRequestHandler,
    ThreadingHTTPServer,
)
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from mongomock_motor import AsyncMongoMockClient
from starlette.testclient import TestClient

from graph.app import create_app
from imagejobs.settings import Settings
from processing.addresses import Resolver
from processing.pipeline import Network
from tests.shared import SHARED

REPO = Path(__file__).resolve().parents[1]


class QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


def serve_directory(directory: Path) -> Iterator[str]:
    handler = partial(QuietHandler, directory=str(directory))
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


class ScriptedServer:
    """A threaded HTTP server answering each path from a script of responses.

    ``script[path]`` is a list of (status, body, headers); each request takes
    the next one, and the last one repeats. Every request is counted.
    """

    def __init__(self) -> None:
        self.script: dict[str, list[tuple[int, bytes, dict[str, str]]]] = {}
        self.hits: Counter[str] = Counter()
        self.delay: dict[str, float] = {}
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                outer.answer(self)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.base = f"http://127.0.0.1:{self.server.server_address[1]}"

    def answer(self, handler: BaseHTTPRequestHandler) -> None:
        path = handler.path
        self.hits[path] += 1
        time.sleep(self.delay.get(path, 0))
        steps = self.script.get(path) or [(404, b"not found", {})]
        status, body, headers = steps.pop(0) if len(steps) > 1 else steps[0]
        handler.send_response(status)
        for name, value in {"Content-Length": str(len(body)), **headers}.items():
            handler.send_header(name, value)
        handler.end_headers()
        handler.wfile.write(body)


@pytest.fixture
def scripted_server() -> Iterator[ScriptedServer]:
    server = ScriptedServer()
    thread = threading.Thread(target=server.server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.server.shutdown()
    server.server.server_close()


@pytest.fixture(scope="session")
def shared() -> Path:
    if not (SHARED / "images" / "manifest.json").exists():
        pytest.fail(f"the shared folder is missing: {SHARED}")
    return SHARED


@pytest.fixture(scope="session")
def image_server(shared: Path) -> Iterator[str]:
    """Base URL of a real HTTP server on 127.0.0.1 serving shared/images."""
    yield from serve_directory(shared / "images")


@pytest.fixture(scope="session")
def case_server(shared: Path) -> Iterator[str]:
    """Base URL of shared/cases/case_server.py, run as its own process."""
    process = subprocess.Popen(
        [
            sys.executable,
            str(shared / "cases" / "case_server.py"),
            "--port",
            "0",
            "--lifetime",
            "3000",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    line = process.stdout.readline()
    port = line.split("127.0.0.1:")[1].split()[0]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        process.kill()
        process.wait()
        process.stdout.close()


def service_settings(**overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "processing_delay": "0",
        "fetch_attempts": 2,
        "fetch_deadline": 5,
        # tests that leave images in flight stop at once unless they ask
        "shutdown_grace": 0,
    }
    values.update(overrides)
    return Settings(**values)


@pytest.fixture
def make_client() -> Iterator[Callable[..., TestClient]]:
    """Start the whole service (embedded database) and give a test client."""
    clients: list[TestClient] = []

    def make(
        db_client: Any = None,
        transport: httpx.AsyncBaseTransport | None = None,
        resolver: Resolver | None = None,
        **overrides: Any,
    ) -> TestClient:
        app = create_app(
            service_settings(**overrides),
            db_client=db_client or AsyncMongoMockClient(),
            network=Network(transport, resolver),
        )
        client = TestClient(app)
        client.__enter__()
        clients.append(client)
        return client

    yield make
    for client in reversed(clients):
        client.__exit__(None, None, None)


@pytest.fixture
def client(make_client: Callable[..., TestClient]) -> TestClient:
    return make_client()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.fixture
def live_server() -> Iterator[str]:
    """The service under uvicorn on a free loopback port, for the CLI."""
    yield from run_live_server()


def run_live_server(**overrides: Any) -> Iterator[str]:
    """Run the service under uvicorn in a thread; yield its base URL."""
    port = free_port()
    settings = service_settings(port=port, **overrides)
    app = create_app(settings, db_client=AsyncMongoMockClient())
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_config=None)
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            pytest.fail("the live server did not start")
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=30)


def wait_until(check: Callable[[], bool], timeout: float = 60) -> None:
    """Poll ``check`` until it holds; fail the test after ``timeout`` s."""
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


def wait_for_job(
    client: TestClient, job_id: str, timeout: float = 60, query: str | None = None
) -> dict[str, Any]:
    """Poll GraphQL until the job ends; return its whole state."""
    query = query or JOB_QUERY
    deadline = time.monotonic() + timeout
    while True:
        job = graphql(client, query, {"id": job_id})["job"]
        if job["status"] in ("COMPLETED", "FAILED", "CANCELLED"):
            return job
        if time.monotonic() > deadline:
            pytest.fail(f"job {job_id} still {job['status']} after {timeout}s")
        time.sleep(0.05)


def graphql(
    client: TestClient, query: str, variables: dict[str, Any] | None = None
) -> dict[str, Any]:
    response = client.post("/graphql", json={"query": query, "variables": variables})
    body = response.json()
    assert "errors" not in body, body["errors"]
    data: dict[str, Any] = body["data"]
    return data


JOB_STATUS = """
query Job($id: ID!) {
  job(id: $id) { id status progress { total done failed cancelled pending } }
}
"""
JOB_QUERY = """
query Job($id: ID!) {
  job(id: $id) {
    id status count priority createdAt finishedAt
    progress { total done failed cancelled pending }
    errors { storeId error }
    visits {
      storeId visitTime visitedAt store { id name areaCode }
      images {
        url status width height perimeter format orientation frames
        attempts error errorCode
      }
    }
  }
}
"""
