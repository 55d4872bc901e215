"""Managing API tokens over GraphQL (admin only)."""

from __future__ import annotations

import logging
import re
from datetime import datetime

import strawberry

from graph.auth import IsAdmin
from graph.types import UserError
from models.tokens import NameTaken, Role, create_token, list_tokens, revoke_token

logger = logging.getLogger(__name__)

TOKEN_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@-]{0,63}")

strawberry.enum(
    Role, description="USER submits and sees its own jobs; ADMIN does everything."
)


@strawberry.input
class CreateApiTokenInput:
    name: str = strawberry.field(
        description="Unique; letters, digits and . _ @ -, at most 64 characters."
    )
    role: Role


@strawberry.type
class CreateApiTokenPayload:
    token: str | None = strawberry.field(
        description="The secret, shown only this once; null when userErrors is not "
        "empty."
    )
    user_errors: list[UserError]


@strawberry.type
class RevokeApiTokenPayload:
    revoked: bool
    user_errors: list[UserError]


@strawberry.type(description="An API token; its secret is never shown again.")
class ApiToken:
    name: str
    role: Role
    created_at: datetime


def name_error(name: str, message: str, code: str) -> list[UserError]:
    return [UserError(field=["name"], message=f"{name!r} {message}", code=code)]


@strawberry.type
class TokenQuery:
    @strawberry.field(
        description="Every API token, by name (admin).", permission_classes=[IsAdmin]
    )
    async def api_tokens(self) -> list[ApiToken]:
        return [
            ApiToken(name=t.name, role=t.role, created_at=t.created_at)
            for t in await list_tokens()
        ]


@strawberry.type
class TokenMutation:
    @strawberry.mutation(
        description="Create an API token (admin); its secret is shown once.",
        permission_classes=[IsAdmin],
    )
    async def create_api_token(
        self, input: CreateApiTokenInput
    ) -> CreateApiTokenPayload:
        if not TOKEN_NAME.fullmatch(input.name):
            errors = name_error(input.name, "is not a valid token name", "INVALID_NAME")
            return CreateApiTokenPayload(token=None, user_errors=errors)
        try:
            token, secret = await create_token(input.name, input.role)
        except NameTaken:
            errors = name_error(input.name, "is taken by another token", "NAME_TAKEN")
            return CreateApiTokenPayload(token=None, user_errors=errors)
        logger.info("token created: %s (%s)", token.name, token.role.value)
        return CreateApiTokenPayload(token=secret, user_errors=[])

    @strawberry.mutation(
        description="Revoke an API token by name (admin); it stops working at once.",
        permission_classes=[IsAdmin],
    )
    async def revoke_api_token(self, name: str) -> RevokeApiTokenPayload:
        if not await revoke_token(name):
            errors = name_error(name, "is not the name of a token", "NOT_FOUND")
            return RevokeApiTokenPayload(revoked=False, user_errors=errors)
        logger.info("token revoked: %s", name)
        return RevokeApiTokenPayload(revoked=True, user_errors=[])
