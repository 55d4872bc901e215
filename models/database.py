"""Connecting Beanie to MongoDB, or to the embedded in-memory database."""

from __future__ import annotations

import logging
from typing import Any

from beanie import init_beanie
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
        from mongomock_motor import AsyncMongoMockClient

        logger.warning(EMBEDDED_WARNING)
        return AsyncMongoMockClient(tz_aware=True)
    return AsyncMongoClient(url, tz_aware=True)


async def init_database(client: Any, name: str) -> None:
    """Bind every document model to database ``name`` and create indexes."""
    from mongomock_motor import AsyncMongoMockClient

    if isinstance(client, AsyncMongoMockClient):
        index_embedded_ids()
    await init_beanie(database=client[name], document_models=DOCUMENT_MODELS)


def index_embedded_ids() -> None:
    """Let mongomock find a document by ``_id`` without scanning its collection.

    mongomock tests every document against every filter; recording one image's
    result (a write by ``_id``) then costs a pass over all images, and a large
    job becomes quadratic. Its documents are kept in a dict keyed by ``_id``,
    so an ``_id`` equality filter can go straight to the one candidate.
    """
    from mongomock.collection import Collection
    from mongomock.filtering import filter_applies

    scan = Collection._iter_documents
    if getattr(scan, "by_id", False):
        return

    def iter_documents(self: Any, filter: Any) -> Any:
        key = filter.get("_id") if isinstance(filter, dict) else None
        if key is None or isinstance(key, dict | list):
            return scan(self, filter)  # type: ignore[no-untyped-call]
        try:
            # the store has no get(): membership, then lookup
            found = self._store[key] if key in self._store else None  # noqa: SIM401
        except TypeError:  # an unhashable _id value: let mongomock decide
            return scan(self, filter)  # type: ignore[no-untyped-call]
        matches = found is not None and filter_applies(filter, found)  # type: ignore[no-untyped-call]
        return iter([found] if matches else [])

    iter_documents.by_id = True  # type: ignore[attr-defined]
    Collection._iter_documents = iter_documents  # type: ignore[method-assign]


async def ping(client: Any) -> bool:
    try:
        await client.admin.command("ping")
    except Exception:  # any failure to answer means not ready
        return False
    return True
