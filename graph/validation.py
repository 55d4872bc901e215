"""Checking a submitted job against the contract's rules, all at once.

REST and GraphQL send the same job under different field names; both are
read here into a :class:`NewJob`, or into the full list of problems, so a
client fixes everything in one round trip and nothing is stored on error.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from processing.jobs import NewVisit


@dataclass(frozen=True)
class FieldNames:
    count: str
    visits: str
    store_id: str
    image_urls: str
    visit_time: str


REST_NAMES = FieldNames("count", "visits", "store_id", "image_url", "visit_time")
GRAPHQL_NAMES = FieldNames("count", "visits", "storeId", "imageUrls", "visitTime")


@dataclass(frozen=True)
class Limits:
    max_visits: int = 10_000
    max_images: int = 100_000
    max_url_length: int = 2048


@dataclass(frozen=True)
class Problem:
    """One broken rule: where (a path into the input), what, and its code."""

    path: tuple[str, ...]
    message: str
    code: str

    def describe(self) -> str:
        where = ""
        for part in self.path:
            where += f"[{part}]" if part.isdigit() else f".{part}" if where else part
        return f"{where}: {self.message}" if where else self.message


def validate_job(
    payload: object, names: FieldNames, limits: Limits
) -> tuple[list[NewVisit], list[Problem]]:
    """Read the visits of a job payload; return them and every problem found."""
    if not isinstance(payload, Mapping):
        return [], [Problem((), "the job must be a JSON object", "MISSING_FIELD")]
    problems: list[Problem] = []
    raw_visits = payload.get(names.visits)
    visits = _read_visits(raw_visits, names, limits, problems)
    sent = len(raw_visits) if isinstance(raw_visits, list) else 0
    _check_count(payload, names, sent, problems)
    images = sum(len(v.image_urls) for v in visits)
    if images > limits.max_images:
        problems.append(
            Problem(
                (names.visits,),
                f"{images} images is more than the {limits.max_images} allowed per job",
                "TOO_MANY_IMAGES",
            )
        )
    return visits, problems


def _check_count(
    payload: Mapping[str, Any],
    names: FieldNames,
    sent: int,
    problems: list[Problem],
) -> None:
    if names.count not in payload or payload[names.count] is None:
        problems.append(Problem((names.count,), "is required", "MISSING_FIELD"))
        return
    count = payload[names.count]
    if isinstance(count, bool) or not isinstance(count, int):
        message = f"must be an integer, not {count!r}"
        problems.append(Problem((names.count,), message, "COUNT_MISMATCH"))
    elif sent and count != sent:
        message = f"is {count} but the job has {sent} visits"
        problems.append(Problem((names.count,), message, "COUNT_MISMATCH"))


def _read_visits(
    raw: object, names: FieldNames, limits: Limits, problems: list[Problem]
) -> list[NewVisit]:
    path = (names.visits,)
    if raw is None:
        problems.append(Problem(path, "is required", "MISSING_FIELD"))
        return []
    if not isinstance(raw, Sequence) or isinstance(raw, str | bytes):
        problems.append(Problem(path, "must be a list of visits", "MISSING_FIELD"))
        return []
    if not raw:
        problems.append(Problem(path, "a job needs at least one visit", "NO_VISITS"))
        return []
    if len(raw) > limits.max_visits:
        message = f"{len(raw)} visits is more than the {limits.max_visits} allowed"
        problems.append(Problem(path, message, "TOO_MANY_VISITS"))
        return []
    visits = []
    for index, item in enumerate(raw):
        visit = _read_visit(item, (names.visits, str(index)), names, limits, problems)
        if visit is not None:
            visits.append(visit)
    return visits


def _read_visit(
    raw: object,
    path: tuple[str, ...],
    names: FieldNames,
    limits: Limits,
    problems: list[Problem],
) -> NewVisit | None:
    if not isinstance(raw, Mapping):
        problems.append(Problem(path, "must be an object", "MISSING_FIELD"))
        return None
    before = len(problems)
    store_id = _required_text(raw, names.store_id, path, problems)
    visit_time = _required_text(raw, names.visit_time, path, problems)
    urls = _read_urls(raw.get(names.image_urls), (*path, names.image_urls), limits)
    problems.extend(urls[1])
    if len(problems) > before or store_id is None or visit_time is None:
        return None
    return NewVisit(store_id=store_id, visit_time=visit_time, image_urls=urls[0])


def _required_text(
    raw: Mapping[str, Any], name: str, path: tuple[str, ...], problems: list[Problem]
) -> str | None:
    value = raw.get(name)
    if value is None:
        problems.append(Problem((*path, name), "is required", "MISSING_FIELD"))
        return None
    if not isinstance(value, str) or not value.strip():
        message = "must be a non-empty string"
        problems.append(Problem((*path, name), message, "MISSING_FIELD"))
        return None
    return value


def _read_urls(
    raw: object, path: tuple[str, ...], limits: Limits
) -> tuple[list[str], list[Problem]]:
    if raw is None:
        return [], [Problem(path, "is required", "MISSING_FIELD")]
    if not isinstance(raw, Sequence) or isinstance(raw, str | bytes):
        return [], [Problem(path, "must be a list of image URLs", "MISSING_FIELD")]
    if not raw:
        return [], [Problem(path, "a visit needs at least one image URL", "NO_IMAGES")]
    problems = []
    for index, url in enumerate(raw):
        problem = check_url(url, limits.max_url_length)
        if problem is not None:
            message, code = problem
            problems.append(Problem((*path, str(index)), message, code))
    return [str(u) for u in raw], problems


def check_url(url: object, max_length: int) -> tuple[str, str] | None:
    """Why ``url`` is not an absolute http(s) URL, with the code; else None."""
    if not isinstance(url, str) or not url.strip():
        return "must be a non-empty URL string", "INVALID_URL"
    if len(url) > max_length:
        return f"is longer than {max_length} characters", "URL_TOO_LONG"
    shown = url if len(url) <= 80 else url[:77] + "..."
    if any(ch.isspace() or ord(ch) < 32 or ord(ch) == 127 for ch in url):
        return f"{shown!r} contains spaces or control characters", "INVALID_URL"
    try:
        parts = urlsplit(url)
        host = parts.hostname
        port = parts.port  # raises ValueError on a malformed port
    except ValueError:
        return f"{shown!r} is not a valid URL", "INVALID_URL"
    if port == 0:
        return f"{shown!r} names port 0, which no server listens on", "INVALID_URL"
    if parts.scheme.lower() not in ("http", "https"):
        return f"{shown!r} is not an http or https URL", "INVALID_URL"
    if not host:
        return f"{shown!r} has no host", "INVALID_URL"
    return None
