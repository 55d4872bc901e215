"""A worker node: takes images from RabbitMQ, sends results back.

Workers need no database. Each message is acknowledged only after its
result (or its retry) is confirmed by the broker, so a worker killed at any
point loses nothing: RabbitMQ redelivers what it had not acknowledged, and
the API records each image once.
"""

from __future__ import annotations

import asyncio
import logging
import signal
from contextlib import AsyncExitStack

from aio_pika.abc import AbstractChannel, AbstractIncomingMessage, AbstractQueue

from imagejobs.settings import Settings
from processing import metrics
from processing.amqp import Topology, connect, read_work, result_message, work_message
from processing.images import ImageProcessor, RetryPolicy, attempt_image
from processing.pipeline import open_pipeline, retry_policy

logger = logging.getLogger(__name__)


class Worker:
    """Processes up to ``concurrency`` images at once until stopped."""

    def __init__(
        self,
        url: str,
        topology: Topology,
        process_image: ImageProcessor,
        policy: RetryPolicy,
        concurrency: int,
    ) -> None:
        self.url = url
        self.topology = topology
        self.process_image = process_image
        self.policy = policy
        self.concurrency = concurrency
        self.in_flight = 0
        self._tasks: set[asyncio.Task[None]] = set()
        self._channel: AbstractChannel | None = None
        self._work_queue: AbstractQueue | None = None
        self._consumer_tag: str | None = None

    async def start(self, stack: AsyncExitStack) -> None:
        connection = await connect(self.url)
        stack.push_async_callback(connection.close)
        self._channel = await connection.channel(publisher_confirms=True)
        await self._channel.set_qos(prefetch_count=self.concurrency)
        declared = await self.topology.declare(self._channel)
        self._work_queue = declared.work
        self._consumer_tag = await declared.work.consume(self._on_message)
        logger.info(
            "worker consuming %s, %d at a time", self.topology.work, self.concurrency
        )

    async def drain(self, grace: float) -> int:
        """Stop taking work; wait up to ``grace`` s; return what was handed back."""
        if self._work_queue is not None and self._consumer_tag is not None:
            await self._work_queue.cancel(self._consumer_tag)
        if self._tasks:
            await asyncio.wait(self._tasks, timeout=grace)
        unfinished = len(self._tasks)
        for task in self._tasks:
            task.cancel()
        return unfinished

    async def _on_message(self, message: AbstractIncomingMessage) -> None:
        task = asyncio.current_task()
        if task is not None:
            self._tasks.add(task)
        self.in_flight += 1
        try:
            await self._handle(message)
        finally:
            self.in_flight -= 1
            if task is not None:
                self._tasks.discard(task)

    async def _handle(self, message: AbstractIncomingMessage) -> None:
        assert self._channel is not None
        item = read_work(message.body)
        outcome = await metrics.timed(
            attempt_image(item, self.process_image, self.policy)
        )
        exchange = self._channel.default_exchange
        if outcome.retry_in is not None:
            retry = work_message(
                item.next_attempt(), delay=max(outcome.retry_in, 0.001)
            )
            await exchange.publish(retry, routing_key=self.topology.retry)
        else:
            await exchange.publish(
                result_message(item, outcome), routing_key=self.topology.results
            )
        await message.ack()


async def run_worker(settings: Settings, grace: float = 20.0) -> int:
    """Run a worker node until SIGTERM or SIGINT; return how many images it
    handed back to the broker unfinished."""
    assert settings.amqp_url is not None
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    async with AsyncExitStack() as stack:
        process = await open_pipeline(settings, stack)
        worker = Worker(
            settings.amqp_url,
            Topology(settings.amqp_prefix),
            process,
            retry_policy(settings),
            settings.concurrency,
        )
        await worker.start(stack)
        await stop.wait()
        logger.info("worker stopping: %d images in flight", worker.in_flight)
        handed_back = await worker.drain(grace)
    logger.info("worker stopped: %d images handed back", handed_back)
    return handed_back
