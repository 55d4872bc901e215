"""Images per second in distributed mode with one worker process, then two.

Starts everything on 127.0.0.1 (an aiohttp static image server, the API with
``AMQP_URL`` and the embedded database, and the workers as processes), with
``PROCESSING_DELAY=0``, and needs RabbitMQ at ``AMQP_URL`` (default
guest@127.0.0.1:5672)::

    PYTHONPATH=. python bench/workers.py --images 2000

Both runs happen in the same invocation; the ratio is what to read, since
these machines are shared and noisy.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

import httpx
from aiohttp import web

ROOT = Path(__file__).resolve().parents[1]
IMAGE = ROOT.parent / "shared" / "images" / "png_rgb_chelsea_451x300.png"
BROKER = os.environ.get("AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def serve_image(port: int, body: bytes) -> None:
    async def image(_: web.Request) -> web.Response:
        return web.Response(body=body, content_type="image/png")

    app = web.Application()
    app.router.add_get("/{name}", image)
    web.run_app(app, host="127.0.0.1", port=port, print=None, access_log=None)


def start(command: list[str], env: dict[str, str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "imagejobs", *command],
        env={**os.environ, "PYTHONPATH": str(ROOT), "LOG_LEVEL": "WARNING", **env},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def wait_for(url: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"{url} did not answer")


def run(workers: int, images: int, image_base: str, concurrency: int) -> float:
    """Seconds from submit to COMPLETED for one job of ``images`` images."""
    port = free_port()
    env = {
        "AMQP_URL": BROKER,
        "AMQP_PREFIX": f"bench-{uuid.uuid4().hex[:8]}",
        "PROCESSING_DELAY": "0",
        "CONCURRENCY": str(concurrency),
        "PORT": str(port),
    }
    processes = [start(["serve"], env)]
    try:
        base = f"http://127.0.0.1:{port}"
        wait_for(f"{base}/healthz")
        processes += [start(["worker"], env) for _ in range(workers)]
        time.sleep(2)  # let the workers connect
        return time_job(base, image_base, images)
    finally:
        for process in processes:
            process.terminate()
            process.wait(timeout=30)


def time_job(base: str, image_base: str, images: int) -> float:
    urls = [f"{image_base}/{n}.png" for n in range(images)]
    job = {
        "count": 1,
        "visits": [{"store_id": "RP00001", "image_url": urls, "visit_time": "t"}],
    }
    started = time.monotonic()
    job_id = httpx.post(f"{base}/api/submit/", json=job, timeout=120).json()["job_id"]
    while True:
        status = httpx.get(f"{base}/api/jobs/{job_id}", timeout=30).json()["status"]
        if status != "pending":
            if status != "completed":
                raise RuntimeError(f"the job ended {status}")
            return time.monotonic() - started
        time.sleep(0.1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--images", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=64)
    args = parser.parse_args()

    port = free_port()
    server = multiprocessing.Process(
        target=serve_image, args=(port, IMAGE.read_bytes()), daemon=True
    )
    server.start()
    image_base = f"http://127.0.0.1:{port}"
    wait_for(f"{image_base}/0.png")
    try:
        rates = {
            n: args.images / run(n, args.images, image_base, args.concurrency)
            for n in (1, 2)
        }
    finally:
        server.terminate()
    print(f"{'workers':>8} {'images/s':>10}")
    for n, rate in rates.items():
        print(f"{n:>8} {rate:>10.1f}")
    print(f"ratio two/one: {rates[2] / rates[1]:.2f}")
    print(
        json.dumps(
            {
                "images": args.images,
                "images_per_second": rates,
                "ratio": rates[2] / rates[1],
            }
        )
    )


if __name__ == "__main__":
    main()
