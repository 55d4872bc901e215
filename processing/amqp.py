"""What travels over RabbitMQ: queue names, message bodies, change events.

Topology, all durable, names under one prefix (``AMQP_PREFIX``)::

    <prefix>.work     images to process; a priority queue (x-max-priority 10)
    <prefix>.retry    images waiting out a backoff delay (per-message TTL),
                      dead-lettered back to <prefix>.work when it expires
    <prefix>.results  outcomes on their way back to the API processes
    <prefix>.events   fanout exchange: "job X changed", for every API process

Delivery is at least once: a message may arrive twice after a crash, so
every consumer's effect is idempotent (a result is recorded only while its
image is still PENDING).
"""

from __future__ import annotations

import asyncio
import json
import logging
import uuid
from contextlib import AbstractAsyncContextManager
from dataclasses import asdict, dataclass

import aio_pika
from aio_pika.abc import (
    AbstractChannel,
    AbstractExchange,
    AbstractIncomingMessage,
    AbstractQueue,
    AbstractRobustConnection,
)

from models.jobs import ImageStatus, JobPriority
from processing.events import InProcessEvents
from processing.images import Outcome
from processing.queue import WorkItem

logger = logging.getLogger(__name__)

MAX_PRIORITY = 10
MESSAGE_PRIORITY = {JobPriority.HIGH: 9, JobPriority.NORMAL: 5, JobPriority.LOW: 1}


@dataclass(frozen=True)
class Topology:
    prefix: str = "imagejobs"

    @property
    def work(self) -> str:
        return f"{self.prefix}.work"

    @property
    def retry(self) -> str:
        return f"{self.prefix}.retry"

    @property
    def results(self) -> str:
        return f"{self.prefix}.results"

    @property
    def events(self) -> str:
        return f"{self.prefix}.events"

    async def declare(self, channel: AbstractChannel) -> Declared:
        """Declare every queue and the exchange on ``channel`` (idempotent)."""
        work = await channel.declare_queue(
            self.work, durable=True, arguments={"x-max-priority": MAX_PRIORITY}
        )
        await channel.declare_queue(
            self.retry,
            durable=True,
            arguments={
                "x-dead-letter-exchange": "",
                "x-dead-letter-routing-key": self.work,
            },
        )
        results = await channel.declare_queue(self.results, durable=True)
        events = await channel.declare_exchange(
            self.events, aio_pika.ExchangeType.FANOUT, durable=True
        )
        return Declared(work, results, events)


@dataclass(frozen=True)
class Declared:
    work: AbstractQueue
    results: AbstractQueue
    events: AbstractExchange


async def connect(url: str, *, retry_every: float = 2.0) -> AbstractRobustConnection:
    """A self-healing connection; waits for the broker when it is down."""
    while True:
        try:
            return await aio_pika.connect_robust(url)
        except (OSError, aio_pika.exceptions.AMQPError) as error:
            logger.warning(
                "broker unreachable, retrying in %.0fs: %s", retry_every, error
            )
            await asyncio.sleep(retry_every)


def work_message(item: WorkItem, *, delay: float | None = None) -> aio_pika.Message:
    return aio_pika.Message(
        json.dumps(asdict(item)).encode(),
        content_type="application/json",
        delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
        priority=MESSAGE_PRIORITY[item.priority],
        expiration=delay,
    )


def read_work(body: bytes) -> WorkItem:
    raw = json.loads(body)
    raw["priority"] = JobPriority(raw["priority"])
    return WorkItem(**raw)


def result_message(item: WorkItem, outcome: Outcome) -> aio_pika.Message:
    body = {
        "item": asdict(item),
        "status": outcome.status.value,
        "fields": outcome.fields,
    }
    return aio_pika.Message(
        json.dumps(body).encode(),
        content_type="application/json",
        delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
    )


def read_result(body: bytes) -> tuple[WorkItem, Outcome]:
    raw = json.loads(body)
    item = raw["item"]
    item["priority"] = JobPriority(item["priority"])
    return WorkItem(**item), Outcome(ImageStatus(raw["status"]), raw["fields"])


class AmqpEvents:
    """Job change events for this process and, over the fanout, all others.

    Local listeners hear every change at once. Other processes hear of a job
    at most every ``interval`` seconds: listeners re-read the whole state, so
    one message per burst carries as much as one per change.
    """

    def __init__(self, interval: float = 0.1) -> None:
        self.local = InProcessEvents()
        self.origin = uuid.uuid4().hex
        self.interval = interval
        self._exchange: AbstractExchange | None = None
        self._changed: set[str] = set()
        self._flusher: asyncio.Task[None] | None = None

    @property
    def listener_count(self) -> int:
        return self.local.listener_count

    def listen(self, job_id: str) -> AbstractAsyncContextManager[asyncio.Event]:
        return self.local.listen(job_id)

    def publish(self, job_id: str) -> None:
        self.local.publish(job_id)
        if self._exchange is not None:
            self._changed.add(job_id)

    async def attach(
        self, channel: AbstractChannel, exchange: AbstractExchange
    ) -> None:
        """Start sending to and hearing from the other processes."""
        queue = await channel.declare_queue(exclusive=True, auto_delete=True)
        await queue.bind(exchange)
        await queue.consume(self._heard, no_ack=True)
        self._exchange = exchange
        self._flusher = asyncio.create_task(self._flush_forever(exchange))

    async def close(self) -> None:
        if self._flusher is not None:
            self._flusher.cancel()
            await asyncio.gather(self._flusher, return_exceptions=True)

    async def _flush_forever(self, exchange: AbstractExchange) -> None:
        while True:
            await asyncio.sleep(self.interval)
            changed, self._changed = self._changed, set()
            for job_id in changed:
                await self._broadcast(exchange, job_id)

    async def _broadcast(self, exchange: AbstractExchange, job_id: str) -> None:
        message = aio_pika.Message(job_id.encode(), app_id=self.origin)
        try:
            await exchange.publish(message, routing_key="")
        except Exception as error:  # a lost event only delays a subscriber
            logger.warning("event not sent for job %s: %s", job_id, error)

    async def _heard(self, message: AbstractIncomingMessage) -> None:
        if message.app_id != self.origin:
            self.local.publish(message.body.decode())
