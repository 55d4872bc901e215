"""The original REST API, kept byte for byte for existing clients."""

from __future__ import annotations

import json
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from graph.auth import ANONYMOUS, find_visible_job, principal_of
from graph.context import Services
from graph.limits import retry_after_header
from graph.submission import Outcome, submit
from graph.validation import REST_NAMES
from models.jobs import Job, JobStatus

STATUS_WORDS = {
    JobStatus.PENDING: "ongoing",
    JobStatus.ONGOING: "ongoing",
    JobStatus.COMPLETED: "completed",
    JobStatus.FAILED: "failed",
    JobStatus.CANCELLED: "cancelled",
}
JOB_STATUS_WORDS = {
    **STATUS_WORDS,
    JobStatus.PENDING: "pending",
    JobStatus.ONGOING: "pending",
}


def services_of(request: Request) -> Services:
    services: Services = request.app.state.services
    return services


def read_json(data: str | bytes) -> Any:
    """``json.loads``, with nesting too deep to parse reported as bad JSON."""
    try:
        return json.loads(data)
    except RecursionError:
        raise json.JSONDecodeError("nested too deeply", "", 0) from None


async def submit_job(request: Request) -> Response:
    body = await request.body()
    try:
        payload: Any = read_json(body)
    except (ValueError, UnicodeDecodeError) as error:
        return JSONResponse({"error": f"the body is not valid JSON: {error}"}, 400)
    outcome = await submit(
        services_of(request),
        payload,
        REST_NAMES,
        principal=principal_of(request) or ANONYMOUS,
        idempotency_key=request.headers.get("idempotency-key"),
        key_path=("Idempotency-Key",),
    )
    return submit_response(outcome)


def submit_response(outcome: Outcome) -> Response:
    if outcome.retry_after:
        seconds = retry_after_header(outcome.retry_after)
        message = f"too many submissions: retry in {seconds} s"
        return JSONResponse({"error": message}, 429, {"Retry-After": seconds})
    if outcome.job is None:
        message = "; ".join(p.describe() for p in outcome.problems)
        return JSONResponse({"error": message}, 409 if outcome.is_conflict else 400)
    return JSONResponse({"job_id": str(outcome.job.id)}, 201)


def status_body(job: Job, words: dict[JobStatus, str]) -> dict[str, Any]:
    body: dict[str, Any] = {"status": words[job.status], "job_id": str(job.id)}
    if job.status is JobStatus.FAILED:
        body["error"] = [{"store_id": e.store_id, "error": e.error} for e in job.errors]
    return body


async def job_status(request: Request) -> Response:
    job = await find_visible_job(
        principal_of(request), request.query_params.get("jobid")
    )
    if job is None:
        return JSONResponse({}, 400)
    return JSONResponse(status_body(job, STATUS_WORDS))


async def job_detail(request: Request) -> Response:
    job = await find_visible_job(principal_of(request), request.path_params["job_id"])
    if job is None:
        return JSONResponse({"error": "job not found"}, 404)
    return JSONResponse(status_body(job, JOB_STATUS_WORDS))


routes = [
    Route("/api/submit/", submit_job, methods=["POST"]),
    Route("/api/submit", submit_job, methods=["POST"]),
    Route("/api/jobs", submit_job, methods=["POST"]),
    Route("/api/status", job_status, methods=["GET"]),
    Route("/api/jobs/{job_id}", job_detail, methods=["GET"]),
]
