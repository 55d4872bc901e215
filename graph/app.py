"""The Starlette application: GraphQL, REST, and the processing it runs."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from typing import Any

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.authentication import AuthenticationMiddleware
from starlette.routing import Route, WebSocketRoute
from strawberry.asgi import GraphQL
from strawberry.types.unset import UNSET, UnsetType

from graph import ops, rest, samples
from graph.auth import (
    RequireTokenOnHTTP,
    TokenBackend,
    authenticate_connection,
    check_startup,
    principal_of,
)
from graph.context import Context, Services
from graph.dashboard import dashboard_routes
from graph.limits import BodyLimit, graphql_extensions
from graph.rest import read_json
from graph.schema import build_schema
from imagejobs.settings import Settings
from models.database import connect, init_database
from models.store_master import decode_csv, load_store_master
from processing.amqp import AmqpEvents, Topology
from processing.dispatch import BrokerDispatcher
from processing.events import InProcessEvents, JobEvents
from processing.images import ImageProcessor
from processing.jobs import JobService
from processing.pipeline import DIRECT, Network, open_pipeline, retry_policy
from processing.queue import InProcessQueue
from processing.runner import JobRunner
from processing.shutdown import stop_processing

logger = logging.getLogger(__name__)


class GraphQLApp(GraphQL[Context, None]):
    def decode_json(self, data: str | bytes) -> object:
        return read_json(data)

    async def get_context(self, request: Any, response: Any) -> Context:
        return Context(
            services=request.app.state.services,
            request=request,
            principal=principal_of(request),
        )

    async def on_ws_connect(self, context: Context) -> UnsetType | dict[str, object]:
        await authenticate_connection(context)
        unset: UnsetType = UNSET
        return unset


async def start_services(
    settings: Settings,
    stack: AsyncExitStack,
    *,
    db_client: Any = None,
    processor: ImageProcessor | None = None,
    network: Network = DIRECT,
) -> Services:
    """Connect the database, load the store master and start processing."""
    client = db_client if db_client is not None else connect(settings.mongodb_url)
    await init_database(client, settings.mongodb_database)
    await load_store_master(decode_csv(settings.store_master_path.read_bytes()))
    queue = InProcessQueue()
    if settings.amqp_url is None:
        events: JobEvents = InProcessEvents()
    else:
        events = AmqpEvents()
    services = Services(settings, client, queue, events, JobService(queue, events))
    if settings.amqp_url is None:
        await start_runner(services, stack, processor or network)
    else:
        start_dispatcher(services, stack, settings.amqp_url)
    await services.jobs.resume()
    return services


async def start_runner(
    services: Services, stack: AsyncExitStack, processor: ImageProcessor | Network
) -> None:
    """Process images in this process."""
    settings = services.settings
    if isinstance(processor, Network):
        processor = await open_pipeline(settings, stack, processor)
    runner = JobRunner(
        services.queue,
        services.events,
        processor,
        retry_policy(settings),
        settings.concurrency,
    )
    runner.start()
    stack.push_async_callback(
        stop_processing, services.queue, runner, settings.shutdown_grace
    )
    services.runner = runner


def start_dispatcher(services: Services, stack: AsyncExitStack, url: str) -> None:
    """Hand images to worker nodes through RabbitMQ."""
    assert isinstance(services.events, AmqpEvents)
    dispatcher = BrokerDispatcher(
        url,
        Topology(services.settings.amqp_prefix),
        services.queue,
        services.events,
        services.settings.dispatch_window,
    )
    dispatcher.start()
    stack.push_async_callback(dispatcher.stop)
    services.dispatcher = dispatcher
    services.readiness_checks["broker"] = dispatcher.is_ready


def create_app(
    settings: Settings,
    *,
    db_client: Any = None,
    processor: ImageProcessor | None = None,
    network: Network = DIRECT,
) -> Starlette:
    """The whole service as one ASGI app; start-up happens in its lifespan.

    Raises :class:`~graph.auth.StartupRefused` when the settings are unsafe.
    """
    check_startup(settings)

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

    graphql = GraphQLApp(
        build_schema(debug=settings.debug, limits=graphql_extensions(settings)),
        graphql_ide="graphiql" if settings.graphiql else None,
    )
    routes = [
        *rest.routes,
        *samples.routes,
        *ops.routes,
        Route("/graphql", graphql, methods=["GET", "POST"]),
        WebSocketRoute("/graphql", graphql),
        *dashboard_routes(),
    ]
    return Starlette(routes=routes, middleware=middleware(settings), lifespan=lifespan)


def middleware(settings: Settings) -> list[Middleware]:
    """Outermost first: who is calling, whether they may, how much they send."""
    return [
        Middleware(AuthenticationMiddleware, backend=TokenBackend(settings)),
        Middleware(RequireTokenOnHTTP, settings=settings),
        Middleware(BodyLimit, max_bytes=settings.max_body_bytes),
    ]
