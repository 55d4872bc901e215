"""The API side of distributed mode: hand images to workers, record results.

The fair in-process queue still decides what runs next (priorities, then
jobs taking turns); :class:`BrokerDispatcher` publishes from it to RabbitMQ,
keeping at most ``window`` images on the broker at once, so a job submitted
later is never stuck behind the whole of an earlier one. RabbitMQ's message
priority lets a HIGH job's images overtake those already waiting there.
MongoDB stays the source of truth: an image not yet published is PENDING in
the database and is queued again when the API restarts.
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from collections.abc import Coroutine
from typing import Any

from aio_pika.abc import (
    AbstractChannel,
    AbstractExchange,
    AbstractIncomingMessage,
    AbstractRobustConnection,
)

from processing.amqp import AmqpEvents, Topology, connect, read_result, work_message
from processing.images import record_outcome, start_job
from processing.queue import InProcessQueue, WorkItem

logger = logging.getLogger(__name__)


class BrokerDispatcher:
    """Publishes queued images to workers and records what comes back."""

    def __init__(
        self,
        url: str,
        topology: Topology,
        queue: InProcessQueue,
        events: AmqpEvents,
        window: int,
    ) -> None:
        self.url = url
        self.topology = topology
        self.queue = queue
        self.events = events
        self._window = asyncio.Semaphore(window)
        self._outstanding: Counter[str] = Counter()
        self._connection: AbstractRobustConnection | None = None
        self._ready = asyncio.Event()
        self._tasks: set[asyncio.Task[None]] = set()

    @property
    def outstanding(self) -> int:
        """Images published and not yet come back."""
        return sum(self._outstanding.values())

    def start(self) -> None:
        self._spawn(self._run(), "broker-dispatcher")

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self.events.close()
        if self._connection is not None:
            await self._connection.close()

    async def is_ready(self) -> bool:
        return self._connection is not None and not self._connection.is_closed

    def _spawn(self, work: Coroutine[Any, Any, None], name: str) -> None:
        task = asyncio.create_task(work, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _run(self) -> None:
        self._connection = await connect(self.url)
        publish = await self._connection.channel(publisher_confirms=True)
        declared = await self.topology.declare(publish)
        await self.events.attach(await self._connection.channel(), declared.events)
        consume = await self._connection.channel()
        await consume.set_qos(prefetch_count=64)
        results = await consume.get_queue(self.topology.results, ensure=False)
        await results.consume(self._on_result)
        logger.info("broker connected: dispatching to %s", self.topology.work)
        await self._feed(publish)

    async def _feed(self, channel: AbstractChannel) -> None:
        exchange = channel.default_exchange
        while True:
            await self._window.acquire()
            item = await self.queue.get()
            await start_job(item, self.events)
            await self._publish(exchange, item)
            self._outstanding[item.image_id] += 1

    async def _publish(self, exchange: AbstractExchange, item: WorkItem) -> None:
        while True:
            try:
                await exchange.publish(
                    work_message(item), routing_key=self.topology.work
                )
                return
            except Exception as error:  # the robust connection reconnects
                logger.warning("publish failed, retrying: %s", error)
                await asyncio.sleep(1)

    async def _on_result(self, message: AbstractIncomingMessage) -> None:
        item, outcome = read_result(message.body)
        try:
            await record_outcome(item, outcome, self.events)
        except Exception:
            logger.exception("result not recorded, requeued: job %s", item.job_id)
            await asyncio.sleep(1)
            await message.nack(requeue=True)
            return
        await message.ack()
        self._release(item.image_id)

    def _release(self, image_id: str) -> None:
        if self._outstanding[image_id] > 0:
            self._outstanding[image_id] -= 1
            if not self._outstanding[image_id]:
                del self._outstanding[image_id]
            self._window.release()
