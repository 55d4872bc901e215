"""How close the service comes to what this machine allows: one command.

    PYTHONPATH=. python bench/service.py            # the whole run, a few minutes
    PYTHONPATH=. python bench/service.py --scale 0.2  # smaller jobs, a quick look

Everything runs on 127.0.0.1: generated images served by nginx (or an aiohttp
fallback, named in the output), and ``python -m imagejobs serve`` started
afresh for each step on the embedded database. Prints a table, then the same
numbers as JSON. Steps, each bounded in time:

1. baseline: a bare asyncio loop (aiohttp) fetching the images and reading
   their headers with Pillow, at the service's download concurrency;
2. images per second through the service with ``PROCESSING_DELAY=0``;
3. a 2,000-image job with the default delay against its ideal time
   (images x mean delay / CONCURRENCY);
4. the time to accept a job of 1,000 visits of 3 images;
5. p50 and p99 of ``job(id) { status progress { done } }`` from 50 concurrent
   clients while a large job runs;
6. peak resident memory above idle while processing 10,000 images of ~2 MB.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
from PIL import Image

from bench.static_files import (
    ImageSet,
    free_port,
    rss_kib,
    static_server,
    urls,
    wait_for_port,
    write_images,
)

REPO = Path(__file__).resolve().parents[1]
DOWNLOADS = 64  # FETCH_CONCURRENCY's default: the service's download limit
STATUS = "query($id: ID!) { job(id: $id) { status progress { done } } }"
TERMINAL = {"COMPLETED", "FAILED", "CANCELLED"}
STORE = "RP00001"


@dataclass
class Report:
    rows: list[tuple[str, str, str, str]] = field(default_factory=list)
    numbers: dict[str, Any] = field(default_factory=dict)

    def add(
        self, key: str, label: str, value: str, target: str, ok: bool | None
    ) -> None:
        verdict = "" if ok is None else ("met" if ok else "MISSED")
        self.rows.append((label, value, target, verdict))
        print(f"  {label}: {value} {verdict}", flush=True)

    def show(self) -> None:
        widths = [max(len(row[i]) for row in self.rows) for i in range(4)]
        for row in [("measure", "result", "target", ""), *self.rows]:
            print("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)))
        print(json.dumps(self.numbers, indent=2))


@contextmanager
def service(tmp: Path, name: str, **env: str) -> Iterator[tuple[str, int]]:
    """``imagejobs serve`` on a free port; yields its base URL and pid."""
    port = free_port()
    variables = {
        **os.environ,
        "PYTHONPATH": str(REPO),
        "HOST": "127.0.0.1",
        "PORT": str(port),
        "LOG_LEVEL": "WARNING",
        "MAX_VISITS": "10000",
        "SUBMIT_RATE": "100000",
        **env,
    }
    log = (tmp / f"service-{name}.log").open("w")
    process = subprocess.Popen(
        [sys.executable, "-m", "imagejobs", "serve"],
        env=variables,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        wait_for_port(port, timeout=60)
        yield f"http://127.0.0.1:{port}", process.pid
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()


def job_body(image_urls: list[str], per_visit: int) -> dict[str, Any]:
    visits = [
        {
            "store_id": STORE,
            "visit_time": "2024-06-01",
            "image_url": image_urls[i : i + per_visit],
        }
        for i in range(0, len(image_urls), per_visit)
    ]
    return {"count": len(visits), "visits": visits}


async def submit(
    session: aiohttp.ClientSession, base: str, body: dict[str, Any]
) -> str:
    async with session.post(f"{base}/api/submit/", json=body) as response:
        answer = await response.json()
        if response.status != 201:
            raise RuntimeError(f"submit refused: {response.status} {answer}")
        job_id: str = answer["job_id"]
        return job_id


async def job_state(
    session: aiohttp.ClientSession, base: str, job_id: str
) -> dict[str, Any]:
    payload = {"query": STATUS, "variables": {"id": job_id}}
    async with session.post(f"{base}/graphql", json=payload) as response:
        job: dict[str, Any] = (await response.json())["data"]["job"]
        return job


async def wait_for_end(
    session: aiohttp.ClientSession, base: str, job_id: str, limit: float
) -> tuple[str, float]:
    """Poll until the job ends; its status and the seconds waited."""
    started = time.perf_counter()
    while time.perf_counter() - started < limit:
        job = await job_state(session, base, job_id)
        if job["status"] in TERMINAL:
            return job["status"], time.perf_counter() - started
        await asyncio.sleep(0.05)
    return "TIMED OUT", time.perf_counter() - started


async def baseline(image_urls: list[str]) -> float:
    """Images per second of a bare loop: fetch, then read the header's size."""
    pending = iter(image_urls)
    connector = aiohttp.TCPConnector(limit=DOWNLOADS, limit_per_host=DOWNLOADS)
    async with aiohttp.ClientSession(connector=connector) as session:

        async def worker() -> None:
            for url in pending:
                async with session.get(url) as response:
                    data = await response.read()
                Image.open(io.BytesIO(data)).size  # noqa: B018 - the header read

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(DOWNLOADS)))
        return len(image_urls) / (time.perf_counter() - started)


async def end_to_end(
    tmp: Path, image_urls: list[str], limit: float
) -> tuple[float, str]:
    with service(tmp, "throughput", PROCESSING_DELAY="0") as (base, _):
        async with aiohttp.ClientSession() as session:
            job_id = await submit(session, base, job_body(image_urls, 10))
            status, seconds = await wait_for_end(session, base, job_id, limit)
    return len(image_urls) / seconds, status


async def default_delay_job(
    tmp: Path, image_urls: list[str], limit: float
) -> tuple[float, str]:
    with service(tmp, "delay") as (base, _):
        async with aiohttp.ClientSession() as session:
            job_id = await submit(session, base, job_body(image_urls, 10))
            status, seconds = await wait_for_end(session, base, job_id, limit)
    return seconds, status


async def acceptance(tmp: Path, image_urls: list[str], rounds: int = 3) -> list[float]:
    """Seconds to accept a job of len(urls)/3 visits x 3 images, a few times."""
    body = job_body(image_urls, 3)
    times = []
    with service(tmp, "accept") as (base, _):
        async with aiohttp.ClientSession() as session:
            for _ in range(rounds):
                started = time.perf_counter()
                await submit(session, base, body)
                times.append(time.perf_counter() - started)
    return times


async def query_latency(
    tmp: Path, image_urls: list[str], clients: int, seconds: float
) -> dict[str, float]:
    with service(tmp, "latency") as (base, _):
        connector = aiohttp.TCPConnector(limit=clients)
        async with aiohttp.ClientSession(connector=connector) as session:
            job_id = await submit(session, base, job_body(image_urls, 10))
            latencies = await hammer(session, base, job_id, clients, seconds)
        async with aiohttp.ClientSession() as fresh:
            state = await job_state(fresh, base, job_id)
    ordered = sorted(latencies)
    return {
        "requests": len(ordered),
        "p50_ms": 1000 * ordered[len(ordered) // 2],
        "p99_ms": 1000 * ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))],
        "job_status_after": state["status"],
        "done_during": state["progress"]["done"],
    }


async def hammer(
    session: aiohttp.ClientSession, base: str, job_id: str, clients: int, seconds: float
) -> list[float]:
    latencies: list[float] = []
    deadline = time.perf_counter() + seconds

    async def client() -> None:
        while time.perf_counter() < deadline:
            started = time.perf_counter()
            await job_state(session, base, job_id)
            latencies.append(time.perf_counter() - started)

    await asyncio.gather(*(client() for _ in range(clients)))
    return latencies


async def peak_memory(tmp: Path, image_urls: list[str], limit: float) -> dict[str, Any]:
    with service(tmp, "memory") as (base, pid):
        await asyncio.sleep(1)
        idle, _ = rss_kib(pid)
        async with aiohttp.ClientSession() as session:
            job_id = await submit(session, base, job_body(image_urls, 10))
            status, seconds = await wait_for_end(session, base, job_id, limit)
        _, peak = rss_kib(pid)
    return {
        "idle_mib": idle / 1024,
        "peak_mib": peak / 1024,
        "above_idle_mib": (peak - idle) / 1024,
        "status": status,
        "seconds": seconds,
    }


@dataclass
class Plan:
    throughput_images: int
    delay_images: int
    accept_visits: int
    latency_images: int
    memory_images: int

    @classmethod
    def scaled(cls, scale: float) -> Plan:
        return cls(
            throughput_images=max(200, int(5000 * scale)),
            delay_images=max(100, int(2000 * scale)),
            accept_visits=max(10, int(1000 * scale)),
            latency_images=max(1000, int(20000 * scale)),
            memory_images=max(500, int(10000 * scale)),
        )


async def run(
    tmp: Path, small: ImageSet, large: ImageSet, port: int, plan: Plan, server: str
) -> Report:
    report = Report()
    report.numbers["image_server"] = server
    report.numbers["cpus"] = len(os.sched_getaffinity(0))
    report.numbers["image_kib"] = small.mean_bytes // 1024
    print(f"images served by {server}; {small.mean_bytes // 1024} KiB each", flush=True)

    throughput_urls = urls(port, small, plan.throughput_images)
    base_rate = await baseline(throughput_urls)
    report.numbers["baseline_images_per_s"] = round(base_rate, 1)
    report.add(
        "base", "(1) baseline fetch + header, images/s", f"{base_rate:.0f}", "", None
    )

    rate, status = await end_to_end(tmp, throughput_urls, limit=240)
    ratio = rate / base_rate
    report.numbers["service_images_per_s"] = round(rate, 1)
    report.numbers["service_ratio"] = round(ratio, 3)
    report.numbers["service_status"] = status
    report.add(
        "e2e",
        f"(2) service images/s, delay 0 ({plan.throughput_images} images)",
        f"{rate:.0f} = {ratio:.2f} x (1)",
        ">= 0.5 x (1)",
        ratio >= 0.5 and status == "COMPLETED",
    )

    seconds, status = await default_delay_job(
        tmp, urls(port, small, plan.delay_images), limit=120
    )
    ideal = plan.delay_images * 0.25 / 256
    report.numbers["delay_job_seconds"] = round(seconds, 2)
    report.numbers["delay_job_ideal_seconds"] = round(ideal, 2)
    report.add(
        "delay",
        f"(3) {plan.delay_images}-image job, default delay",
        f"{seconds:.2f}s vs ideal {ideal:.2f}s ({seconds / ideal - 1:+.0%})",
        "within 15%",
        seconds <= ideal * 1.15 and status == "COMPLETED",
    )

    accept = await acceptance(tmp, urls(port, small, plan.accept_visits * 3))
    report.numbers["accept_ms"] = [round(1000 * t, 1) for t in accept]
    report.add(
        "accept",
        f"(4) accept {plan.accept_visits} visits x 3 images",
        f"{1000 * accept[0]:.0f} ms first, "
        f"median {1000 * statistics.median(accept):.0f} ms",
        "< 150 ms",
        max(accept) < 0.150,
    )

    latency = await query_latency(tmp, urls(port, small, plan.latency_images), 50, 10)
    report.numbers["query_latency"] = latency
    report.add(
        "latency",
        "(5) job(id) query, 50 clients, large job running",
        f"p50 {latency['p50_ms']:.1f} ms, p99 {latency['p99_ms']:.1f} ms",
        "p99 < 50 ms",
        latency["p99_ms"] < 50,
    )

    memory = await peak_memory(tmp, urls(port, large, plan.memory_images), limit=240)
    report.numbers["memory"] = memory
    report.add(
        "memory",
        f"(6) peak RSS, {plan.memory_images} images of "
        f"{large.mean_bytes / 2**20:.1f} MiB",
        f"+{memory['above_idle_mib']:.0f} MiB over {memory['idle_mib']:.0f} MiB idle "
        f"({memory['status']} in {memory['seconds']:.0f}s)",
        "< 150 MiB",
        memory["above_idle_mib"] < 150,
    )
    return report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=float, default=1.0, help="job sizes times this")
    args = parser.parse_args()
    plan = Plan.scaled(args.scale)
    with tempfile.TemporaryDirectory(prefix="imagejobs-bench-") as name:
        tmp = Path(name)
        root = tmp / "images"
        small = write_images(root, "photo", (1024, 768), 80)
        large = write_images(root, "large", (1700, 1300), 95)
        with static_server(root, tmp) as (server, port):
            report = asyncio.run(run(tmp, small, large, port, plan, server))
    report.show()


if __name__ == "__main__":
    main()
