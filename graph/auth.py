"""Who is calling, and what they may see.

Every HTTP request and WebSocket connection gets a :class:`Principal` from
Starlette's ``AuthenticationMiddleware`` with :class:`TokenBackend`: the
owner of the bearer token it sent, or ``None`` (no token, or an unknown
one). With auth off everyone is :data:`ANONYMOUS`, an admin who owns nothing,
so the service works as if there were no access control.

What each role may do:

- ``USER`` submits jobs and sees (follows, cancels, retries) only its own;
  another user's job is reported exactly like an unknown id.
- ``ADMIN`` does all of that on every job and manages stores and tokens.

For GraphQL resolvers: :class:`RequireToken` refuses any operation without a
principal (``UNAUTHENTICATED``), :class:`IsAdmin` guards admin-only fields
(``FORBIDDEN``), and :func:`visible_job` finds a job the caller may see.
"""

from __future__ import annotations

import hmac
import logging
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from beanie import PydanticObjectId
from bson.errors import InvalidId
from graphql import GraphQLError
from starlette.authentication import (
    AuthCredentials,
    AuthenticationBackend,
    BaseUser,
)
from starlette.requests import HTTPConnection
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send
from strawberry.exceptions import ConnectionRejectionError
from strawberry.extensions import SchemaExtension
from strawberry.permission import BasePermission
from strawberry.types import Info

from imagejobs.settings import Settings
from models.jobs import Job
from models.tokens import Role, find_token

logger = logging.getLogger(__name__)

# "/" only redirects to the dashboard, whose data needs a token of its own.
OPEN_PATHS = frozenset({"/", "/healthz", "/readyz", "/metrics", "/dashboard"})
OPEN_PREFIXES = ("/static/", "/dashboard/")
GRAPHQL_PATH = "/graphql"
ADMIN_TOKEN_OWNER = "admin-token"
UNAUTHENTICATED_MESSAGE = (
    "a valid API token is required: send Authorization: Bearer <token>"
)


class StartupRefused(Exception):
    """The settings leave the service unsafe to start; the message says why."""


@dataclass(frozen=True)
class Principal(BaseUser):
    """The caller: a token's name, its role, and the owner id its jobs carry."""

    name: str
    role: Role
    owner: str | None

    @property
    def is_authenticated(self) -> bool:
        return True

    @property
    def display_name(self) -> str:
        return self.name

    @property
    def is_admin(self) -> bool:
        return self.role is Role.ADMIN


ANONYMOUS = Principal(name="anonymous", role=Role.ADMIN, owner=None)


def check_startup(settings: Settings) -> None:
    """Refuse to run with auth on and no ``ADMIN_TOKEN`` to manage it with."""
    if settings.auth_required and not settings.admin_token:
        raise StartupRefused(
            f"auth is on (AUTH_REQUIRED, or HOST {settings.host} is not loopback) "
            "but ADMIN_TOKEN is not set: set ADMIN_TOKEN to a long random secret"
        )


def bearer_token(value: str | None) -> str | None:
    """The token of an ``Authorization`` value (``Bearer`` is optional)."""
    if not value:
        return None
    scheme, _, rest = value.strip().partition(" ")
    token = rest.strip() if scheme.lower() == "bearer" else value.strip()
    return token or None


async def authenticate(settings: Settings, token: str | None) -> Principal | None:
    """The principal a token stands for; ``None`` when it is missing or unknown."""
    if not settings.auth_required:
        return ANONYMOUS
    if token is None:
        return None
    admin = settings.admin_token
    if admin and hmac.compare_digest(token.encode(), admin.encode()):
        return Principal(name="ADMIN_TOKEN", role=Role.ADMIN, owner=ADMIN_TOKEN_OWNER)
    found = await find_token(token)
    if found is None:
        logger.info("request refused: unknown token")
        return None
    return Principal(name=found.name, role=found.role, owner=str(found.id))


class TokenBackend(AuthenticationBackend):
    """Starlette authentication from the ``Authorization: Bearer`` header."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    async def authenticate(
        self, conn: HTTPConnection
    ) -> tuple[AuthCredentials, BaseUser] | None:
        token = bearer_token(conn.headers.get("authorization"))
        principal = await authenticate(self.settings, token)
        if principal is None:
            return None
        return AuthCredentials([principal.role.value.lower()]), principal


def principal_of(conn: HTTPConnection) -> Principal | None:
    user = conn.scope.get("user")
    return user if isinstance(user, Principal) else None


def is_open(path: str) -> bool:
    return path in OPEN_PATHS or path.startswith(OPEN_PREFIXES)


class RequireTokenOnHTTP:
    """Answer 401 to a request without a valid token, outside the open paths.

    GraphQL answers for itself (error code ``UNAUTHENTICATED``), and its
    GraphiQL page stays open; WebSocket connections are checked when they
    send ``connection_init``.
    """

    def __init__(self, app: ASGIApp, settings: Settings) -> None:
        self.app = app
        self.settings = settings

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self.refuses(scope):
            response = JSONResponse(
                {"error": UNAUTHENTICATED_MESSAGE},
                401,
                headers={"WWW-Authenticate": "Bearer"},
            )
            await response(scope, receive, send)
            return
        await self.app(scope, receive, send)

    def refuses(self, scope: Scope) -> bool:
        if scope["type"] != "http" or not self.settings.auth_required:
            return False
        path: str = scope["path"]
        if path == GRAPHQL_PATH or is_open(path):
            return False
        return not isinstance(scope.get("user"), Principal)


def connection_token(params: Mapping[str, object] | None) -> str | None:
    """The token in a WebSocket ``connection_init`` payload, if it has one."""
    if not params:
        return None
    for key in ("Authorization", "authorization"):
        value = params.get(key)
        if isinstance(value, str):
            return bearer_token(value)
    token = params.get("token")
    return token if isinstance(token, str) and token else None


async def authenticate_connection(context: Any) -> None:
    """Check a WebSocket's ``connection_init`` payload; refuse it without a token.

    ``context`` is the connection's GraphQL context: its ``principal`` comes
    from the upgrade request's headers and is replaced by the payload's token
    when there is one.
    """
    settings: Settings = context.services.settings
    token = connection_token(context.connection_params)
    if token is not None or not settings.auth_required:
        context.principal = await authenticate(settings, token)
    if context.principal is None:
        raise ConnectionRejectionError(
            {"message": UNAUTHENTICATED_MESSAGE, "code": "UNAUTHENTICATED"}
        )


def unauthenticated() -> GraphQLError:
    return GraphQLError(UNAUTHENTICATED_MESSAGE, extensions={"code": "UNAUTHENTICATED"})


class RequireToken(SchemaExtension):
    """No operation runs without a principal in the context."""

    def on_execute(self) -> Iterator[None]:
        if getattr(self.execution_context.context, "principal", None) is None:
            raise unauthenticated()
        yield


def caller(info: Info[Any, Any]) -> Principal | None:
    principal = getattr(info.context, "principal", None)
    return principal if isinstance(principal, Principal) else None


class IsAdmin(BasePermission):
    """Only an admin token may use this field."""

    message = "this needs an admin token"
    error_extensions = {"code": "FORBIDDEN"}  # noqa: RUF012 - as BasePermission declares it

    def has_permission(self, source: Any, info: Info[Any, Any], **kwargs: Any) -> bool:
        principal = caller(info)
        return principal is not None and principal.is_admin


def can_see(principal: Principal | None, job: Job) -> bool:
    """An admin sees every job; a user only the jobs it owns."""
    if principal is None:
        return False
    return principal.is_admin or job.owner == principal.owner


def job_scope(principal: Principal | None) -> dict[str, Any]:
    """A query filter for the jobs ``principal`` may see."""
    if principal is None:
        return {"_id": {"$in": []}}
    return {} if principal.is_admin else {"owner": principal.owner}


def parse_object_id(value: object) -> PydanticObjectId | None:
    if not isinstance(value, str):
        return None
    try:
        return PydanticObjectId(value)
    except (InvalidId, TypeError, ValueError):
        return None


async def find_visible_job(principal: Principal | None, raw_id: object) -> Job | None:
    """The job with id ``raw_id`` when ``principal`` may see it, else ``None``."""
    job_id = parse_object_id(raw_id)
    if job_id is None or principal is None:
        return None
    job = await Job.get(job_id)
    return job if job is not None and can_see(principal, job) else None


async def visible_job(info: Info[Any, Any], job_id: object) -> Job | None:
    """The job a resolver may show its caller: ``None`` when unknown or not theirs.

    Report ``None`` the same way as an unknown id (a null field, or a
    ``NOT_FOUND`` error), so nobody can probe for other users' job ids.
    """
    return await find_visible_job(caller(info), job_id)
