"""The GraphQL object types, each a view over a Beanie document."""

from __future__ import annotations

from datetime import datetime
from itertools import groupby
from typing import Annotated

import strawberry
from strawberry.types import Info

from graph.context import Context
from models import jobs as docs
from models.jobs import ImageStatus, JobPriority, JobStatus
from models.stores import Store as StoreDocument

# The documents' enums are the GraphQL enums: registering them adds the
# descriptions, and the Python types stay the ones the models use.
strawberry.enum(
    JobStatus,
    description="Where a job stands: PENDING until its first image starts, "
    "ONGOING while any image is pending, then COMPLETED, FAILED or CANCELLED.",
)
strawberry.enum(JobPriority, description="Higher priority jobs start first.")
strawberry.enum(ImageStatus, description="One image's outcome.")


@strawberry.type(description="A store of the store master.")
class Store:
    id: str = strawberry.field(description="The StoreID, exactly as in the master.")
    name: str
    area_code: str

    @classmethod
    def from_document(cls, store: StoreDocument) -> Store:
        return cls(id=store.id, name=store.name, area_code=store.area_code)


@strawberry.type(description="One image of a visit and what was measured.")
class Image:
    url: str
    status: ImageStatus
    width: int | None = strawberry.field(description="As displayed: rotation applied.")
    height: int | None
    perimeter: int | None = strawberry.field(description="2 * (width + height)")
    format: str | None = strawberry.field(description="Read from the file's bytes.")
    orientation: int | None = strawberry.field(
        description="The EXIF orientation tag 1-8; null when the file has none."
    )
    frames: int | None = strawberry.field(
        description="Animation frames or TIFF pages; 1 for a still image."
    )
    attempts: int = strawberry.field(description="Downloads tried.")
    error: str | None = strawberry.field(description="Why it failed, for people.")
    error_code: str | None = strawberry.field(
        description="Why it failed, for programs (see the contract's error codes)."
    )

    @classmethod
    def from_document(cls, image: docs.JobImage) -> Image:
        return cls(
            url=image.url,
            status=image.status,
            width=image.width,
            height=image.height,
            perimeter=image.perimeter,
            format=image.format,
            orientation=image.orientation,
            frames=image.frames,
            attempts=image.attempts,
            error=image.error,
            error_code=image.error_code,
        )


@strawberry.type(description="One store visit of a job.")
class Visit:
    store_id: str
    visit_time: str = strawberry.field(description="Exactly as the client sent it.")
    visited_at: datetime | None = strawberry.field(
        description="visitTime read as ISO 8601 (no zone means UTC); null otherwise."
    )
    images: list[Image] = strawberry.field(description="In the order submitted.")

    @strawberry.field(description="Null when the store id is not in the master.")
    async def store(self, info: Info[Context, None]) -> Store | None:
        found = await info.context.store_loader.load(self.store_id)
        return None if found is None else Store.from_document(found)


@strawberry.type(
    description="Image counts; total = done + failed + cancelled + pending."
)
class JobProgress:
    total: int
    done: int
    failed: int
    cancelled: int
    pending: int


@strawberry.type(description="The first error of a store that failed.")
class StoreError:
    store_id: str
    error: str


@strawberry.type(description="A submitted job of store visits.")
class Job:
    document: strawberry.Private[docs.Job]

    @strawberry.field(description="The same id the REST API returns as job_id.")
    def id(self) -> strawberry.ID:
        return strawberry.ID(str(self.document.id))

    @strawberry.field
    def status(self) -> JobStatus:
        return self.document.status

    @strawberry.field(description="The number of visits.")
    def count(self) -> int:
        return self.document.visit_count

    @strawberry.field
    def priority(self) -> JobPriority:
        return self.document.priority

    @strawberry.field
    def created_at(self) -> datetime:
        return self.document.created_at

    @strawberry.field
    def finished_at(self) -> datetime | None:
        return self.document.finished_at

    @strawberry.field
    def progress(self) -> JobProgress:
        p = self.document.progress
        return JobProgress(
            total=p.total,
            done=p.done,
            failed=p.failed,
            cancelled=p.cancelled,
            pending=p.pending,
        )

    @strawberry.field(description="One entry per failed store.")
    def errors(self) -> list[StoreError]:
        return [
            StoreError(store_id=e.store_id, error=e.error) for e in self.document.errors
        ]

    @strawberry.field
    async def visits(self) -> list[Visit]:
        images = (
            await docs.JobImage.find(docs.JobImage.job_id == self.document.id)
            .sort("visit", "position")
            .to_list()
        )
        by_visit = {v: list(group) for v, group in groupby(images, lambda i: i.visit)}
        return [
            Visit(
                store_id=visit.store_id,
                visit_time=visit.visit_time,
                visited_at=visit.visited_at,
                images=[Image.from_document(i) for i in by_visit.get(index, [])],
            )
            for index, visit in enumerate(self.document.visits)
        ]


@strawberry.type
class PageInfo:
    has_next_page: bool
    end_cursor: str | None


@strawberry.type
class JobEdge:
    cursor: str
    node: Job


@strawberry.type
class JobConnection:
    edges: list[JobEdge]
    page_info: PageInfo


@strawberry.type
class StoreEdge:
    cursor: str
    node: Store


@strawberry.type
class StoreConnection:
    edges: list[StoreEdge]
    page_info: PageInfo


@strawberry.type(description="A rule the input broke.")
class UserError:
    field: list[str] | None = strawberry.field(
        description='Path into the input, e.g. ["visits", "2", "imageUrls", "0"].'
    )
    message: str
    code: str


@strawberry.type
class SubmitJobPayload:
    job: Job | None = strawberry.field(description="Null when userErrors is not empty.")
    user_errors: list[UserError]


@strawberry.type
class JobPayload:
    job: Job | None = strawberry.field(description="Null when userErrors is not empty.")
    user_errors: list[UserError]


@strawberry.type
class LoadStoresPayload:
    loaded: int = strawberry.field(description="Stores new to the master.")
    updated: int = strawberry.field(description="Stores whose name or area changed.")
    skipped: int = strawberry.field(description="Rows that name no store.")
    user_errors: list[UserError]


@strawberry.input
class VisitInput:
    store_id: str
    image_urls: list[str]
    visit_time: str = strawberry.field(
        description="Free text as the client has it; ISO 8601 is also read."
    )


@strawberry.input
class SubmitJobInput:
    count: int = strawberry.field(description="Must equal the number of visits.")
    visits: list[VisitInput]
    priority: JobPriority | None = JobPriority.NORMAL
    idempotency_key: str | None = strawberry.field(
        default=None,
        description="A repeat with the same key and input returns the first job.",
    )


JobID = Annotated[strawberry.ID, strawberry.argument(description="A job id.")]
