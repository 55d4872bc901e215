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
    so an ``_id`` equality or ``$in`` filter can go straight to its candidates.
    """
    from mongomock.collection import Collection
    from mongomock.filtering import filter_applies

    scan = Collection._iter_documents
    if getattr(scan, "by_id", False):
        return

    def iter_documents(self: Any, filter: Any) -> Any:
        try:
            candidates = _id_candidates(filter)
            # the store has no get(): membership, then lookup
            found = [self._store[key] for key in candidates if key in self._store]
        except TypeError:  # no _id named, or an unhashable one: mongomock decides
            return scan(self, filter)  # type: ignore[no-untyped-call]
        if len(filter) == 1:  # the _id test alone: every candidate found matches
            return iter(found)
        return (doc for doc in found if filter_applies(filter, doc))  # type: ignore[no-untyped-call]

    iter_documents.by_id = True  # type: ignore[attr-defined]
    Collection._iter_documents = iter_documents  # type: ignore[method-assign]


def _id_candidates(filter: Any) -> list[Any]:
    """The ``_id`` values a filter can match; TypeError unless it names them."""
    key = filter.get("_id") if isinstance(filter, dict) else None
    if key is None or isinstance(key, list):
        raise TypeError("no _id equality")
    if not isinstance(key, dict):
        return [key]
    if set(key) == {"$in"} and isinstance(key["$in"], list):
        return list(dict.fromkeys(key["$in"]))
    raise TypeError("no _id equality")


async def ping(client: Any) -> bool:
    try:
        await client.admin.command("ping")
    except Exception:  # any failure to answer means not ready
        return False
    return True
