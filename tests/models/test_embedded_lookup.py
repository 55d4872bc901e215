from __future__ import annotations

from typing import Any

import pytest
from beanie import PydanticObjectId
from mongomock_motor import AsyncMongoMockClient

from models.database import init_database
from models.jobs import JobImage


@pytest.fixture
async def images() -> Any:
    client = AsyncMongoMockClient()
    await init_database(client, "test")
    collection = JobImage.get_pymongo_collection()
    job = PydanticObjectId()
    await collection.insert_many(
        [
            {"_id": n, "job_id": job, "visit": 0, "position": n, "status": "PENDING"}
            for n in range(5)
        ]
    )
    return collection


@pytest.mark.parametrize(
    ("query", "found"),
    [
        ({"_id": 3}, [3]),
        ({"_id": 3, "status": "PENDING"}, [3]),
        ({"_id": 3, "status": "DONE"}, []),
        ({"_id": 99}, []),
        ({"_id": {"$in": [1, 2]}}, [1, 2]),
        ({"_id": {"$in": [2, 2, 99]}, "status": "PENDING"}, [2]),
        ({"_id": {"$in": [{"a": 1}, 4]}}, [4]),
        ({"_id": {"$gt": 2}}, [3, 4]),
        ({"status": "PENDING", "position": {"$gte": 3}}, [3, 4]),
    ],
)
async def test_queries_by_id_find_what_a_scan_finds(
    images: Any, query: dict[str, Any], found: list[int]
) -> None:
    documents = await images.find(query).to_list()

    assert sorted(d["_id"] for d in documents) == found


async def test_a_write_by_id_changes_only_a_matching_document(images: Any) -> None:
    missed = await images.update_one({"_id": 1, "status": "DONE"}, {"$set": {"x": 1}})
    hit = await images.update_one({"_id": 1, "status": "PENDING"}, {"$set": {"x": 1}})

    assert (missed.modified_count, hit.modified_count) == (0, 1)
    assert (await images.find_one({"_id": 1}))["x"] == 1
