"""Idempotency keys: a repeated submission finds the job the first one made.

A claim's ``_id`` is a digest of the owner and the key, so the database's
own ``_id`` uniqueness decides which of two concurrent submissions wins, on
MongoDB and on the embedded database alike, in one process or many.
"""

from __future__ import annotations

import hashlib
from datetime import datetime

from beanie import Document, PydanticObjectId
from pydantic import Field
from pymongo.errors import DuplicateKeyError

from models.jobs import utcnow


class SubmissionKey(Document):
    """The job an (owner, idempotency key) pair made, and its request's hash."""

    id: str = Field(alias="_id")  # type: ignore[assignment]
    request_hash: str
    job_id: PydanticObjectId | None = None
    created_at: datetime = Field(default_factory=utcnow)

    class Settings:
        name = "submission_keys"


def claim_id(owner: str | None, key: str) -> str:
    text = f"{owner or ''}\x00{key}"
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


async def claim_key(owner: str | None, key: str, request_hash: str) -> bool:
    """Take the key for a new job; ``False`` when an earlier request holds it."""
    claim = SubmissionKey(id=claim_id(owner, key), request_hash=request_hash)
    try:
        await claim.insert()
    except DuplicateKeyError:
        return False
    return True


async def find_claim(owner: str | None, key: str) -> SubmissionKey | None:
    return await SubmissionKey.get(claim_id(owner, key))


async def settle_claim(owner: str | None, key: str, job_id: PydanticObjectId) -> None:
    """Record the job the claim made."""
    await SubmissionKey.get_pymongo_collection().update_one(
        {"_id": claim_id(owner, key)}, {"$set": {"job_id": job_id}}
    )


async def release_claim(owner: str | None, key: str) -> None:
    """Give the key up again after its job could not be stored."""
    await SubmissionKey.get_pymongo_collection().delete_one(
        {"_id": claim_id(owner, key), "job_id": None}
    )
