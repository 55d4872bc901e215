"""Connecting Beanie to MongoDB, or to the embedded in-memory database."""

from __future__ import annotations

import logging
from typing import Any

from beanie import Document, init_beanie
from mongomock_motor import AsyncMongoMockClient
from pymongo import AsyncMongoClient

from models import DOCUMENT_MODELS

logger = logging.getLogger(__name__)

EMBEDDED_WARNING = (
    "MONGODB_URL is not set: using the embedded in-memory database; "
    "jobs and stores do not survive a restart"
)


def connect(url: str | None) -> Any:
    """A client for ``url``, or an embedded in-memory one when it is ``None``."""
    if url is None:
        logger.warning(EMBEDDED_WARNING)
        return AsyncMongoMockClient(tz_aware=True)
    return AsyncMongoClient(url, tz_aware=True)


async def init_database(client: Any, name: str) -> None:
    """Bind every document model to database ``name`` and create indexes."""
    await init_beanie(database=client[name], document_models=DOCUMENT_MODELS)
    if isinstance(client, AsyncMongoMockClient):
        for model in DOCUMENT_MODELS:
            await restore_partial_indexes(model)


async def restore_partial_indexes(model: type[Document]) -> None:
    """Give the embedded database the partial filters its indexes lost.

    mongomock's ``create_indexes`` drops ``partialFilterExpression``, so a
    partial unique index becomes a plain one: every job without an
    idempotency key would collide with the first.
    """
    collection = model.get_pymongo_collection()
    for index in getattr(model.Settings, "indexes", []):
        spec = dict(index.document)
        if "partialFilterExpression" not in spec:
            continue
        await collection.drop_index(spec["name"])
        await collection.create_index(list(spec.pop("key").items()), **spec)


async def ping(client: Any) -> bool:
    try:
        await client.admin.command("ping")
    except Exception:  # any failure to answer means not ready
        return False
    return True
