"""Connecting Beanie to MongoDB, or to the embedded in-memory database."""

from __future__ import annotations

import logging
from typing import Any

from beanie import init_beanie
from pymongo import AsyncMongoClient

from models import DOCUMENT_MODELS, embedded

logger = logging.getLogger(__name__)

EMBEDDED_WARNING = (
    "MONGODB_URL is not set: using the embedded in-memory database; "
    "jobs and stores do not survive a restart"
)


def connect(url: str | None) -> Any:
    """A client for ``url``, or an embedded in-memory one when it is ``None``."""
    if url is None:
        from mongomock_motor import AsyncMongoMockClient

        logger.warning(EMBEDDED_WARNING)
        return AsyncMongoMockClient(tz_aware=True)
    return AsyncMongoClient(url, tz_aware=True)


async def init_database(client: Any, name: str) -> None:
    """Bind every document model to database ``name`` and create indexes."""
    if embedded.is_embedded(client):
        embedded.speed_up()  # before the client makes (and wraps) collections
    await init_beanie(database=client[name], document_models=DOCUMENT_MODELS)
    if embedded.is_embedded(client):
        await embedded.drop_unique_image_index(client[name]["images"])


async def ping(client: Any) -> bool:
    try:
        await client.admin.command("ping")
    except Exception:  # any failure to answer means not ready
        return False
    return True
