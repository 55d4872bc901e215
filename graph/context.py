"""What every resolver and REST handler can reach: the running service."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from strawberry.dataloader import DataLoader

from graph.auth import Principal
from graph.limits import SubmitRate
from graph.validation import Limits
from imagejobs.settings import Settings
from models.stores import Store
from processing.dispatch import BrokerDispatcher
from processing.events import JobEvents
from processing.jobs import JobService
from processing.queue import InProcessQueue
from processing.runner import JobRunner

ReadinessCheck = Callable[[], Awaitable[bool]]
"""Answers whether one dependency (the broker...) is reachable now."""


@dataclass
class Services:
    """The parts of one running service, built at start-up.

    ``readiness_checks`` are named checks ``/readyz`` runs besides the
    database's; the broker dispatcher registers its own as ``"broker"``.
    """

    settings: Settings
    db_client: Any
    queue: InProcessQueue
    events: JobEvents
    jobs: JobService
    runner: JobRunner | None = None
    dispatcher: BrokerDispatcher | None = None
    readiness_checks: dict[str, ReadinessCheck] = field(default_factory=dict)
    submit_rate: SubmitRate = field(init=False)

    def __post_init__(self) -> None:
        self.submit_rate = SubmitRate(self.settings.submit_rate)

    @property
    def limits(self) -> Limits:
        return Limits(
            max_visits=self.settings.max_visits,
            max_images=self.settings.max_images,
            max_url_length=self.settings.max_url_length,
        )


async def load_stores(ids: list[str]) -> list[Store | None]:
    found = {s.id: s for s in await Store.find({"_id": {"$in": ids}}).to_list()}
    return [found.get(i) for i in ids]


@dataclass
class Context:
    """Per-request GraphQL context."""

    services: Services
    request: Any = None
    principal: Principal | None = None
    connection_params: dict[str, object] | None = None
    store_loader: DataLoader[str, Store | None] = field(
        default_factory=lambda: DataLoader(load_fn=load_stores)
    )
