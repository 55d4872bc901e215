"""API tokens: who may call the service, and with which role.

A token's secret is shown once, when it is created; only its SHA-256 digest
is stored, so a copy of the database does not give anyone access. Secrets are
32 random bytes, which makes a plain (unsalted) digest safe to look up by.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime
from enum import StrEnum

from beanie import Document
from pydantic import Field, field_validator
from pymongo import ASCENDING, IndexModel
from pymongo.errors import DuplicateKeyError

from models.jobs import as_utc, utcnow

TOKEN_PREFIX = "ij_"


class Role(StrEnum):
    USER = "USER"
    ADMIN = "ADMIN"


class NameTaken(Exception):
    """Another token already has this name."""

    def __init__(self, name: str) -> None:
        super().__init__(f"a token named {name!r} already exists")
        self.name = name


class ApiToken(Document):
    """One API token: its name, its role and the digest of its secret."""

    name: str
    role: Role
    secret_hash: str
    created_at: datetime = Field(default_factory=utcnow)

    _utc = field_validator("created_at")(as_utc)

    class Settings:
        name = "api_tokens"
        indexes = [
            IndexModel([("name", ASCENDING)], unique=True),
            IndexModel([("secret_hash", ASCENDING)], unique=True),
        ]


def digest(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8", "surrogatepass")).hexdigest()


async def create_token(name: str, role: Role) -> tuple[ApiToken, str]:
    """Store a new token; return it with its secret, which is not kept."""
    secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
    token = ApiToken(name=name, role=role, secret_hash=digest(secret))
    try:
        await token.insert()
    except DuplicateKeyError:
        raise NameTaken(name) from None
    return token, secret


async def find_token(secret: str) -> ApiToken | None:
    """The token whose secret this is, or ``None``."""
    return await ApiToken.find_one({"secret_hash": digest(secret)})


async def revoke_token(name: str) -> bool:
    """Delete the token called ``name``; ``False`` when there was none."""
    result = await ApiToken.get_pymongo_collection().delete_one({"name": name})
    return bool(result.deleted_count)


async def list_tokens() -> list[ApiToken]:
    return await ApiToken.find_all().sort("name").to_list()
