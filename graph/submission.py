"""Submitting a job, the same way for REST and GraphQL."""

from __future__ import annotations

from dataclasses import dataclass, field

from graph.context import Services
from graph.validation import FieldNames, Problem, validate_job
from models.jobs import Job, JobPriority
from processing.jobs import NewJob


@dataclass
class Outcome:
    job: Job | None = None
    problems: list[Problem] = field(default_factory=list)


async def submit(
    services: Services,
    payload: object,
    names: FieldNames,
    *,
    priority: JobPriority = JobPriority.NORMAL,
) -> Outcome:
    """Validate ``payload`` whole; store and queue it only when it is clean."""
    visits, problems = validate_job(payload, names, services.limits)
    if problems:
        return Outcome(problems=problems)
    new = NewJob(visits=visits, priority=priority)
    return Outcome(job=await services.jobs.submit(new))
