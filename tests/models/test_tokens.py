from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from beanie import PydanticObjectId
from mongomock_motor import AsyncMongoMockClient

from models.database import init_database
from models.idempotency import (
    SubmissionKey,
    claim_key,
    find_claim,
    release_claim,
    settle_claim,
)
from models.tokens import (
    ApiToken,
    NameTaken,
    Role,
    create_token,
    digest,
    find_token,
    list_tokens,
    revoke_token,
)


@pytest.fixture
async def database() -> AsyncIterator[None]:
    await init_database(AsyncMongoMockClient(), "tokens")
    yield


async def test_only_the_digest_of_a_secret_is_stored(database: None) -> None:
    token, secret = await create_token("field-app", Role.USER)

    raw = await ApiToken.get_pymongo_collection().find_one({"name": "field-app"})

    assert secret.startswith("ij_") and len(secret) > 40
    assert raw is not None
    assert secret not in str(raw)
    assert raw["secret_hash"] == digest(secret)
    found = await find_token(secret)
    assert found is not None
    assert (found.id, found.name, found.role) == (token.id, "field-app", Role.USER)


async def test_secrets_are_different_each_time(database: None) -> None:
    _, first = await create_token("a", Role.USER)
    _, second = await create_token("b", Role.USER)

    assert first != second


async def test_a_name_is_taken_once(database: None) -> None:
    await create_token("ops", Role.ADMIN)

    with pytest.raises(NameTaken):
        await create_token("ops", Role.USER)


async def test_a_revoked_token_is_not_found(database: None) -> None:
    _, secret = await create_token("gone", Role.USER)

    assert await revoke_token("gone") is True
    assert await revoke_token("gone") is False
    assert await find_token(secret) is None
    assert await list_tokens() == []


async def test_unknown_secrets_are_not_found(database: None) -> None:
    await create_token("x", Role.USER)

    assert await find_token("") is None
    assert await find_token("ij_guess") is None


async def test_a_key_is_claimed_once_per_owner(database: None) -> None:
    assert await claim_key("owner-a", "k", "hash-1") is True
    assert await claim_key("owner-a", "k", "hash-2") is False
    assert await claim_key("owner-b", "k", "hash-1") is True
    assert await claim_key(None, "k", "hash-1") is True


async def test_a_claim_records_its_job(database: None) -> None:
    job_id = PydanticObjectId()
    await claim_key(None, "k", "h")

    await settle_claim(None, "k", job_id)
    await release_claim(None, "k")  # a settled claim is kept
    claim = await find_claim(None, "k")

    assert claim is not None
    assert (claim.job_id, claim.request_hash) == (job_id, "h")


async def test_a_released_claim_frees_the_key(database: None) -> None:
    await claim_key("o", "k", "h")

    await release_claim("o", "k")

    assert await find_claim("o", "k") is None
    assert await claim_key("o", "k", "h") is True
    assert await SubmissionKey.count() == 1
