"""The GraphQL schema: queries, mutations and the extensions guarding them."""

from __future__ import annotations

import base64
import binascii
import logging
import re
from collections.abc import Callable, Sequence
from typing import Any

import strawberry
from beanie import PydanticObjectId
from bson.errors import InvalidId
from graphql import GraphQLError
from strawberry.extensions import MaskErrors, SchemaExtension
from strawberry.types import Info

from graph import types
from graph.auth import ANONYMOUS, IsAdmin, RequireToken, caller, job_scope, visible_job
from graph.context import Context
from graph.stats import Stats, read_stats
from graph.submission import Outcome, submit
from graph.subscriptions import Subscription
from graph.tokens import TokenMutation, TokenQuery
from graph.validation import GRAPHQL_NAMES, Problem
from models import jobs as docs
from models.jobs import JobStatus
from models.store_master import InvalidStoreMaster, load_store_master
from models.stores import Store as StoreDocument

logger = logging.getLogger(__name__)

MAX_PAGE = 100
EXPOSED_CODES = frozenset(
    {
        "BAD_USER_INPUT",
        "UNAUTHENTICATED",
        "FORBIDDEN",
        "NOT_FOUND",
        "RATE_LIMITED",
        "PAYLOAD_TOO_LARGE",
    }
)


def bad_input(message: str) -> GraphQLError:
    return GraphQLError(message, extensions={"code": "BAD_USER_INPUT"})


def encode_cursor(value: str) -> str:
    return base64.urlsafe_b64encode(value.encode()).decode()


def decode_cursor(cursor: str | None) -> str | None:
    if cursor is None:
        return None
    try:
        return base64.urlsafe_b64decode(cursor.encode()).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise bad_input(f"'after' is not a cursor this API gave: {cursor!r}") from None


def page_size(first: int | None) -> int:
    size = 20 if first is None else first
    if not 1 <= size <= MAX_PAGE:
        raise bad_input(f"'first' must be between 1 and {MAX_PAGE}, not {size}")
    return size


def parse_job_id(value: str) -> PydanticObjectId | None:
    try:
        return PydanticObjectId(value)
    except (InvalidId, TypeError, ValueError):
        return None


def job_problem(code: str, message: str) -> types.JobPayload:
    error = types.UserError(field=["id"], message=message, code=code)
    return types.JobPayload(job=None, user_errors=[error])


def user_errors(problems: list[Problem]) -> list[types.UserError]:
    return [
        types.UserError(field=list(p.path) or None, message=p.message, code=p.code)
        for p in problems
    ]


@strawberry.type
class Query(TokenQuery):
    @strawberry.field(
        description="A job by id; null when there is no such job (or it is another "
        "user's)."
    )
    async def job(
        self, info: Info[Context, None], id: strawberry.ID
    ) -> types.Job | None:
        found = await visible_job(info, id)
        return None if found is None else types.Job(document=found)

    @strawberry.field(description="Jobs, newest first.")
    async def jobs(
        self,
        info: Info[Context, None],
        status: JobStatus | None = None,
        store_id: str | None = None,
        first: int | None = 20,
        after: str | None = None,
    ) -> types.JobConnection:
        size = page_size(first)
        query: dict[str, Any] = job_scope(caller(info))
        if status is not None:
            query["status"] = status.value
        if store_id is not None:
            query["visits.store_id"] = store_id
        start = decode_cursor(after)
        if start is not None:
            start_id = parse_job_id(start)
            if start_id is None:
                raise bad_input(f"'after' is not a cursor this API gave: {after!r}")
            query["_id"] = {"$lt": start_id}
        found = await docs.Job.find(query).sort("-_id").limit(size + 1).to_list()
        edges = [
            types.JobEdge(cursor=encode_cursor(str(j.id)), node=types.Job(document=j))
            for j in found[:size]
        ]
        return types.JobConnection(
            edges=edges, page_info=_page_info(edges, found, size)
        )

    @strawberry.field(description="A store by its exact id; null when unknown.")
    async def store(self, id: str) -> types.Store | None:
        found = await StoreDocument.get(id)
        return None if found is None else types.Store.from_document(found)

    @strawberry.field(description="Stores by id; search matches id or name, any case.")
    async def stores(
        self,
        area_code: str | None = None,
        search: str | None = None,
        first: int | None = 20,
        after: str | None = None,
    ) -> types.StoreConnection:
        size = page_size(first)
        query: dict[str, Any] = {}
        if area_code:  # an empty filter filters nothing
            query["area_code"] = area_code
        if search:
            pattern = {"$regex": re.escape(search), "$options": "i"}
            query["$or"] = [{"_id": pattern}, {"name": pattern}]
        start = decode_cursor(after)
        if start is not None:
            query["_id"] = {"$gt": start}
        found = await StoreDocument.find(query).sort("_id").limit(size + 1).to_list()
        edges = [
            types.StoreEdge(
                cursor=encode_cursor(s.id), node=types.Store.from_document(s)
            )
            for s in found[:size]
        ]
        return types.StoreConnection(
            edges=edges, page_info=_page_info(edges, found, size)
        )

    stats: Stats = strawberry.field(
        resolver=read_stats,
        description="Queue depth, images in flight and images finished per minute.",
    )


def _page_info(edges: list[Any], found: list[Any], size: int) -> types.PageInfo:
    return types.PageInfo(
        has_next_page=len(found) > size,
        end_cursor=edges[-1].cursor if edges else None,
    )


def rate_limited(outcome: Outcome) -> GraphQLError:
    seconds = max(1, round(outcome.retry_after))
    return GraphQLError(
        f"too many submissions: retry in {seconds} s",
        extensions={"code": "RATE_LIMITED", "retryAfter": seconds},
    )


@strawberry.type
class Mutation(TokenMutation):
    @strawberry.mutation(description="Submit a job; every broken rule is a userError.")
    async def submit_job(
        self, info: Info[Context, None], input: types.SubmitJobInput
    ) -> types.SubmitJobPayload:
        payload = {
            "count": input.count,
            "visits": [
                {
                    "storeId": v.store_id,
                    "imageUrls": v.image_urls,
                    "visitTime": v.visit_time,
                }
                for v in input.visits
            ],
        }
        outcome = await submit(
            info.context.services,
            payload,
            GRAPHQL_NAMES,
            priority=input.priority or docs.JobPriority.NORMAL,
            principal=caller(info) or ANONYMOUS,
            idempotency_key=input.idempotency_key,
        )
        if outcome.retry_after:
            raise rate_limited(outcome)
        if outcome.job is None:
            return types.SubmitJobPayload(
                job=None, user_errors=user_errors(outcome.problems)
            )
        return types.SubmitJobPayload(
            job=types.Job(document=outcome.job), user_errors=[]
        )

    @strawberry.mutation(
        description="Stop a job: its pending images become CANCELLED, results so "
        "far are kept, and the job is CANCELLED."
    )
    async def cancel_job(
        self, info: Info[Context, None], id: strawberry.ID
    ) -> types.JobPayload:
        job = await visible_job(info, id)
        if job is None:
            return job_problem("NOT_FOUND", f"no job {id!r}")
        cancelled = await info.context.services.jobs.cancel(job)
        if cancelled is None:
            return job_problem("JOB_ENDED", f"the job is already {job.status.value}")
        return types.JobPayload(job=types.Job(document=cancelled), user_errors=[])

    @strawberry.mutation(
        description="Run a FAILED job's failed images again; the job is ONGOING again."
    )
    async def retry_job(
        self, info: Info[Context, None], id: strawberry.ID
    ) -> types.JobPayload:
        job = await visible_job(info, id)
        if job is None:
            return job_problem("NOT_FOUND", f"no job {id!r}")
        retried = await info.context.services.jobs.retry(job)
        if retried is None:
            message = (
                f"only a FAILED job can be retried; this one is {job.status.value}"
            )
            return job_problem("JOB_NOT_FAILED", message)
        return types.JobPayload(job=types.Job(document=retried), user_errors=[])

    @strawberry.mutation(
        description="Load a store master CSV (admin).", permission_classes=[IsAdmin]
    )
    async def load_stores(self, csv: str) -> types.LoadStoresPayload:
        try:
            report = await load_store_master(csv)
        except InvalidStoreMaster as error:
            problem = Problem(("csv",), str(error), "INVALID_CSV")
            return types.LoadStoresPayload(
                loaded=0, updated=0, skipped=0, user_errors=user_errors([problem])
            )
        return types.LoadStoresPayload(
            loaded=report.loaded,
            updated=report.updated,
            skipped=report.skipped_total,
            user_errors=[],
        )


def is_unexpected(error: GraphQLError) -> bool:
    """A fault of the service, not an error about the request."""
    code = (error.extensions or {}).get("code")
    if code in EXPOSED_CODES or error.path is None:
        return False  # raised on purpose, or about the request's text or variables
    original = error.original_error
    return original is not None and not isinstance(original, GraphQLError)


class Schema(strawberry.Schema):
    def process_errors(
        self, errors: list[GraphQLError], execution_context: Any = None
    ) -> None:
        # Errors about the request are the client's to read; only faults
        # of the service are logged, with their traceback.
        for error in errors:
            if is_unexpected(error):
                logger.error(
                    "resolver failed: %s", error, exc_info=error.original_error
                )


def build_schema(
    debug: bool = False,
    limits: Sequence[Callable[[], SchemaExtension]] = (),
) -> strawberry.Schema:
    """The schema; unless ``debug``, unexpected errors reach clients masked.

    Every operation needs a principal in its context (see ``graph/auth.py``);
    ``limits`` are the extensions that bound a request's shape.
    """
    extensions: list[Callable[[], SchemaExtension]] = [RequireToken, *limits]
    if not debug:
        extensions.append(lambda: MaskErrors(should_mask_error=is_unexpected))
    return Schema(
        query=Query,
        mutation=Mutation,
        subscription=Subscription,
        extensions=extensions,
    )
