"""Submitting a job, the same way for REST and GraphQL.

A submission is rate-limited per caller, validated whole, and stored only
when it is clean. With an idempotency key, a repeat with the same job
returns the job the first submission made, and a repeat with a different
job is a conflict; the key is claimed in the database before the job is
stored, so two concurrent repeats still make one job.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import time
from dataclasses import dataclass, field

from graph.auth import ANONYMOUS, Principal
from graph.context import Services
from graph.validation import FieldNames, Problem, validate_job
from models.idempotency import claim_key, find_claim, release_claim, settle_claim
from models.jobs import Job, JobPriority
from processing.jobs import NewJob, NewVisit

MAX_KEY_LENGTH = 255
CLAIM_WAIT = 10.0


@dataclass
class Outcome:
    job: Job | None = None
    problems: list[Problem] = field(default_factory=list)
    retry_after: float = 0.0

    @property
    def is_conflict(self) -> bool:
        return any(p.code == "IDEMPOTENCY_CONFLICT" for p in self.problems)


def request_hash(visits: list[NewVisit], priority: JobPriority) -> str:
    """A digest of the job as it would be stored, whatever API sent it."""
    normal = {
        "priority": priority.value,
        "visits": [[v.store_id, v.visit_time, v.image_urls] for v in visits],
    }
    text = json.dumps(normal, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


def check_key(key: str | None, path: tuple[str, ...]) -> list[Problem]:
    if key is None or len(key) <= MAX_KEY_LENGTH:
        return []
    message = f"is longer than {MAX_KEY_LENGTH} characters"
    return [Problem(path, message, "INVALID_IDEMPOTENCY_KEY")]


async def submit(
    services: Services,
    payload: object,
    names: FieldNames,
    *,
    priority: JobPriority = JobPriority.NORMAL,
    principal: Principal = ANONYMOUS,
    idempotency_key: str | None = None,
    key_path: tuple[str, ...] = ("idempotencyKey",),
) -> Outcome:
    """Validate ``payload`` whole; store and queue it only when it is clean."""
    wait = services.submit_rate.take(principal.owner or principal.name)
    if wait:
        return Outcome(retry_after=wait)
    key = idempotency_key or None
    visits, problems = validate_job(payload, names, services.limits)
    problems += check_key(key, key_path)
    if problems:
        return Outcome(problems=problems)
    new = NewJob(
        visits=visits,
        priority=priority,
        owner=principal.owner,
        idempotency_key=key,
        request_hash=request_hash(visits, priority),
    )
    if key is None:
        return Outcome(job=await services.jobs.submit(new))
    return await submit_once(services, new, key, key_path)


async def submit_once(
    services: Services, new: NewJob, key: str, key_path: tuple[str, ...]
) -> Outcome:
    assert new.request_hash is not None
    if not await claim_key(new.owner, key, new.request_hash):
        return await earlier_job(new, key, key_path)
    try:
        job = await services.jobs.submit(new)
    except BaseException:
        await release_claim(new.owner, key)
        raise
    assert job.id is not None
    await settle_claim(new.owner, key, job.id)
    return Outcome(job=job)


async def earlier_job(new: NewJob, key: str, key_path: tuple[str, ...]) -> Outcome:
    """The job an earlier submission with this key made, once it is stored."""
    deadline = time.monotonic() + CLAIM_WAIT
    while time.monotonic() < deadline:
        claim = await find_claim(new.owner, key)
        if claim is None:
            return conflict(key_path, "was used by a submission that failed; retry")
        if claim.request_hash != new.request_hash:
            return conflict(key_path, "was used before for a different job")
        job = None if claim.job_id is None else await Job.get(claim.job_id)
        if job is not None:
            return Outcome(job=job)
        await asyncio.sleep(0.05)
    return conflict(key_path, "is still in use by a submission in progress")


def conflict(key_path: tuple[str, ...], message: str) -> Outcome:
    return Outcome(problems=[Problem(key_path, message, "IDEMPOTENCY_CONFLICT")])
