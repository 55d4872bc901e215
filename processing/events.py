"""Job change notifications: processing publishes, subscribers listen.

The interface carries only a job id: a listener re-reads the job's state
from the database when notified, so a notification can come from any
process (a broker-backed implementation only needs ``publish`` and
``listen``) and a burst of changes can be folded into one read.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Protocol


class JobEvents(Protocol):
    def publish(self, job_id: str) -> None:
        """Say that job ``job_id`` changed."""

    def listen(self, job_id: str) -> AbstractAsyncContextManager[asyncio.Event]:
        """An async context giving an event set whenever the job changes."""


class InProcessEvents:
    """Notifies listeners in this process only."""

    def __init__(self) -> None:
        self._listeners: dict[str, set[asyncio.Event]] = {}

    @property
    def listener_count(self) -> int:
        return sum(len(events) for events in self._listeners.values())

    def publish(self, job_id: str) -> None:
        for event in self._listeners.get(job_id, ()):
            event.set()

    @asynccontextmanager
    async def listen(self, job_id: str) -> AsyncIterator[asyncio.Event]:
        event = asyncio.Event()
        self._listeners.setdefault(job_id, set()).add(event)
        try:
            yield event
        finally:
            listeners = self._listeners.get(job_id)
            if listeners is not None:
                listeners.discard(event)
                if not listeners:
                    del self._listeners[job_id]
