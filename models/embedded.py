"""Keeping the embedded database (mongomock) usable for large jobs.

mongomock answers every query by testing the filter against every document
of the collection, and checks a unique index on insert the same way. A job
records each image with a write by ``_id``, so with N images stored each
write costs O(N) and a job O(N²); inserting a job's images against the
unique (job, visit, position) index is O(N²) as well. Both made a
10,000-image job take minutes (see ``bench/service.py``). Two remedies, for
the embedded database only (MongoDB uses its indexes):

- a query whose filter pins ``_id`` to one plain value looks that document up
  by key, then tests the rest of the filter on it alone;
- the unique index on images is not created: the service makes each image
  document once, with a fresh id, so it guards nothing there.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from mongomock import filtering
from mongomock.collection import Collection
from mongomock_motor import AsyncMongoMockClient

UNIQUE_IMAGE_INDEX = "job_id_1_visit_1_position_1"

_scan: Callable[[Collection, Any], Iterator[dict[str, Any]]] | None = None


def plain_id(query: Any) -> Any:
    """The ``_id`` a filter pins to one value, or ``None``."""
    if not isinstance(query, dict) or "_id" not in query:
        return None
    value = query["_id"]
    if value is None or isinstance(value, dict | list):
        return None
    return value


def _lookup(collection: Collection, query: Any) -> Iterator[dict[str, Any]]:
    key = plain_id(query)
    if key is None:
        assert _scan is not None
        return _scan(collection, query)
    store = collection._store
    if key not in store:
        return iter(())
    document = store[key]
    applies = filtering.filter_applies(query, document)  # type: ignore[no-untyped-call]
    return iter([document] if applies else [])


def speed_up() -> None:
    """Look documents up by ``_id`` instead of scanning (idempotent)."""
    global _scan
    if _scan is None:
        _scan = Collection._iter_documents
        Collection._iter_documents = _lookup  # type: ignore[method-assign]


async def drop_unique_image_index(images: Any) -> None:
    """Drop the unique index mongomock would check by scanning every insert."""
    if UNIQUE_IMAGE_INDEX in await images.index_information():
        await images.drop_index(UNIQUE_IMAGE_INDEX)


def is_embedded(client: Any) -> bool:
    # mongomock-motor's client class names motor's module as its own
    return isinstance(client, AsyncMongoMockClient)
