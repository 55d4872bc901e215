"""Endpoints for operators: liveness, readiness and Prometheus metrics.

``/healthz`` says the process answers. ``/readyz`` says whether it can do
its work: the database answers a ping and every registered readiness check
passes (the broker's, when ``AMQP_URL`` is set); 503 otherwise. ``/metrics``
is the Prometheus text exposition of :mod:`processing.metrics`.
"""

from __future__ import annotations

import asyncio
import logging
from urllib.parse import urlsplit

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from graph.context import ReadinessCheck, Services
from models.database import ping
from processing import metrics

logger = logging.getLogger(__name__)

CHECK_TIMEOUT = 2.0
AMQP_PORT = 5672


async def healthz(request: Request) -> Response:
    return JSONResponse({"status": "ok"})


async def readyz(request: Request) -> Response:
    services: Services = request.app.state.services
    checks = readiness_checks(services)
    results = await asyncio.gather(*(passes(check) for check in checks.values()))
    body = dict(zip(checks, results, strict=True))
    return JSONResponse(body, 200 if all(results) else 503)


def readiness_checks(services: Services) -> dict[str, ReadinessCheck]:
    """The database's check, the registered ones, and a broker fallback."""
    checks: dict[str, ReadinessCheck] = {"database": lambda: ping(services.db_client)}
    checks.update(services.readiness_checks)
    amqp_url = services.settings.amqp_url
    if amqp_url and "broker" not in checks:
        checks["broker"] = lambda: tcp_reachable(amqp_url, AMQP_PORT)
    return checks


async def passes(check: ReadinessCheck) -> bool:
    try:
        async with asyncio.timeout(CHECK_TIMEOUT):
            return await check()
    except Exception:  # a check that cannot answer is a check that fails
        logger.warning("readiness check failed", exc_info=True)
        return False


async def tcp_reachable(url: str, default_port: int) -> bool:
    """Whether a TCP connection to ``url``'s host and port opens."""
    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or default_port
    try:
        _, writer = await asyncio.open_connection(host, port)
    except OSError:
        return False
    writer.close()
    await writer.wait_closed()
    return True


async def metrics_endpoint(request: Request) -> Response:
    services: Services = request.app.state.services
    in_flight = services.runner.in_flight if services.runner else 0
    if services.dispatcher is not None:
        in_flight = services.dispatcher.outstanding
    metrics.set_load(services.queue.depth, in_flight)
    body, content_type = metrics.exposition()
    return Response(body, headers={"Content-Type": content_type})


routes = [
    Route("/healthz", healthz),
    Route("/readyz", readyz),
    Route("/metrics", metrics_endpoint),
]
