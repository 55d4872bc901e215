from __future__ import annotations

from importlib.metadata import version

from mongomock_motor import AsyncMongoMockClient

from models.database import init_database, ping
from models.jobs import Job, JobImage
from models.stores import Store


async def test_beanie_initialises_on_the_embedded_database() -> None:
    client = AsyncMongoMockClient()

    await init_database(client, "test")

    assert await ping(client)
    await Store(id="X1", name="n", area_code="1").insert()
    assert (await Store.get("X1")).name == "n"  # type: ignore[union-attr]
    assert Job.get_settings().name == "jobs"
    assert JobImage.get_settings().name == "images"


def test_beanie_is_pinned_below_the_release_mongomock_motor_rejects() -> None:
    # beanie 2.1 and 2.2 call list_collection_names(authorizedCollections=...),
    # which mongomock-motor 0.0.36 does not accept: the embedded database
    # would fail at start-up.
    assert version("beanie") == "2.0.1"
