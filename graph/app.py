"""The Starlette application: GraphQL, REST, and the processing it runs."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from typing import Any

import httpx
from starlette.applications import Starlette
from starlette.routing import Route, WebSocketRoute
from strawberry.asgi import GraphQL

from graph import ops, rest
from graph.context import Context, Services
from graph.schema import build_schema
from imagejobs.settings import Settings
from models.database import connect, init_database
from models.store_master import decode_csv, load_store_master
from processing.addresses import Resolver
from processing.events import InProcessEvents
from processing.fetch import Fetcher, FetchLimits
from processing.jobs import ImageProcessor, JobRunner, JobService, RunnerConfig
from processing.pipeline import ImagePipeline
from processing.queue import InProcessQueue
from processing.shutdown import stop_processing

logger = logging.getLogger(__name__)


class GraphQLApp(GraphQL[Context, None]):
    async def get_context(self, request: Any, response: Any) -> Context:
        return Context(services=request.app.state.services, request=request)


@dataclass(frozen=True)
class Network:
    """How the fetcher reaches image servers; tests swap in recording stubs."""

    transport: httpx.AsyncBaseTransport | None = None
    resolver: Resolver | None = None


async def default_processor(
    settings: Settings, stack: AsyncExitStack, network: Network
) -> ImageProcessor:
    fetcher = Fetcher(
        FetchLimits.from_settings(settings),
        transport=network.transport,
        resolver=network.resolver,
    )
    await stack.enter_async_context(fetcher)
    return ImagePipeline(fetcher, settings.max_image_pixels)


async def start_services(
    settings: Settings,
    stack: AsyncExitStack,
    *,
    db_client: Any = None,
    processor: ImageProcessor | None = None,
    network: Network = Network(),
) -> Services:
    """Connect the database, load the store master and start processing."""
    client = db_client if db_client is not None else connect(settings.mongodb_url)
    await init_database(client, settings.mongodb_database)
    await load_store_master(decode_csv(settings.store_master_path.read_bytes()))
    queue, events = InProcessQueue(), InProcessEvents()
    services = Services(settings, client, queue, events, JobService(queue, events))
    if processor is None:
        processor = await default_processor(settings, stack, network)
    config = RunnerConfig(settings.concurrency, settings.processing_delay)
    services.runner = JobRunner(queue, events, processor, config)
    services.runner.start()
    stack.push_async_callback(
        stop_processing, queue, services.runner, settings.shutdown_grace
    )
    await services.jobs.resume()
    return services


def create_app(
    settings: Settings,
    *,
    db_client: Any = None,
    processor: ImageProcessor | None = None,
    network: Network = Network(),
) -> Starlette:
    """The whole service as one ASGI app; start-up happens in its lifespan."""

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        async with AsyncExitStack() as stack:
            app.state.services = await start_services(
                settings,
                stack,
                db_client=db_client,
                processor=processor,
                network=network,
            )
            logger.info("service ready")
            yield

    graphql = GraphQLApp(build_schema(debug=settings.debug))
    routes = [
        *rest.routes,
        *ops.routes,
        Route("/graphql", graphql, methods=["GET", "POST"]),
        WebSocketRoute("/graphql", graphql),
    ]
    return Starlette(routes=routes, lifespan=lifespan)
