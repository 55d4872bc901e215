"""Arbitrary REST bodies and GraphQL variables never hurt the service.

Each example must be answered without a 500 or a traceback, and must leave
the database whole: every stored job has all of its images, no job is half
stored.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from starlette.testclient import TestClient

from models.jobs import Job, JobImage
from tests.graph.access import SUBMIT
from tests.stubs import RecordingTransport, StubResolver

URLS = st.sampled_from(
    [
        "http://images.test/a.png",
        "https://images.test/b.jpg?x=1",
        "ftp://images.test/c.png",
        "http://",
        "data:image/png;base64,AAAA",
        "http://[::1",
        "http://images.test:99999/",
        "",
    ]
) | st.text(max_size=40)
SCALARS = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20)
)
JSON = st.recursive(
    SCALARS,
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(st.text(max_size=10), inner, max_size=4)
    ),
    max_leaves=20,
)


def maybe(strategy: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return strategy | JSON


def visits(store: str, urls: str, time: str) -> st.SearchStrategy[Any]:
    visit = st.fixed_dictionaries(
        {},
        optional={
            store: maybe(st.sampled_from(["RP00001", "NOPE", "", " "])),
            urls: maybe(st.lists(maybe(URLS), max_size=4)),
            time: maybe(st.sampled_from(["2024-06-01", "t", "", "2024-13-45T99"])),
        },
    )
    return maybe(st.lists(maybe(visit), max_size=4))


GOOD_URLS = st.sampled_from(["http://images.test/a.png", "https://images.test/b"])


@st.composite
def whole_jobs(
    draw: st.DrawFn,
    names: tuple[str, str, str] = ("store_id", "image_url", "visit_time"),
) -> dict[str, Any]:
    """A job that passes every rule, sometimes with one field broken."""
    store, urls, time = names
    visit = st.fixed_dictionaries(
        {
            store: st.sampled_from(["RP00001", "RP00002", "NOPE"]),
            urls: st.lists(GOOD_URLS, min_size=1, max_size=3),
            time: st.sampled_from(["2024-06-01", "t"]),
        }
    )
    job_visits = draw(st.lists(visit, min_size=1, max_size=3))
    job: dict[str, Any] = {"count": len(job_visits), "visits": job_visits}
    if draw(st.booleans()):
        target = draw(st.sampled_from(job_visits))
        target[draw(st.sampled_from(sorted(target)))] = draw(JSON)
    return job


REST_BODIES = whole_jobs() | (
    st.fixed_dictionaries(
        {},
        optional={
            "count": maybe(st.integers(-2, 5)),
            "visits": visits("store_id", "image_url", "visit_time"),
        },
    )
    | JSON
)
GRAPHQL_INPUTS = whole_jobs(
    ("storeId", "imageUrls", "visitTime")
) | st.fixed_dictionaries(
    {},
    optional={
        "count": maybe(st.integers(-2, 5)),
        "visits": visits("storeId", "imageUrls", "visitTime"),
        "priority": maybe(st.sampled_from(["HIGH", "LOW", "NORMAL", "URGENT"])),
        "idempotencyKey": maybe(st.sampled_from(["k1", "k2", ""])),
    },
)
RAW_BODIES = st.binary(max_size=200) | st.text(max_size=200).map(str.encode)

FUZZ = settings(
    max_examples=150,
    deadline=None,
    # one service for all examples: starting one per example is far too slow,
    # and the checks below hold whatever earlier examples stored
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)


@pytest.fixture
def fuzz_client(make_client: Callable[..., TestClient]) -> Iterator[TestClient]:
    yield make_client(
        transport=RecordingTransport({}),
        resolver=StubResolver(),
        submit_rate=100_000,
        max_body_bytes=4096,
    )


def assert_clean(response: Any) -> None:
    assert response.status_code < 500, response.text
    assert "Traceback" not in response.text
    assert 'File "' not in response.text


def assert_jobs_whole(client: TestClient) -> None:
    async def counts() -> list[tuple[int, int]]:
        found = []
        for job in await Job.find_all().to_list():
            images = await JobImage.find(JobImage.job_id == job.id).count()
            found.append((job.progress.total, images))
        return found

    for total, images in client.portal.call(counts):
        assert total == images > 0


@FUZZ
@given(body=REST_BODIES, key=st.none() | st.sampled_from(["k1", "k2"]))
def test_rest_bodies_never_break_the_service(
    fuzz_client: TestClient, body: Any, key: str | None
) -> None:
    headers = {"Idempotency-Key": key} if key else {}

    response = fuzz_client.post("/api/submit/", json=body, headers=headers)

    assert_clean(response)
    assert response.status_code in (201, 400, 409, 413)
    assert_jobs_whole(fuzz_client)


@FUZZ
@given(body=RAW_BODIES)
def test_raw_bytes_never_break_the_service(
    fuzz_client: TestClient, body: bytes
) -> None:
    response = fuzz_client.post("/api/jobs", content=body)

    assert_clean(response)
    assert response.status_code == 400 or response.status_code == 201


@FUZZ
@given(variables=st.fixed_dictionaries({"input": GRAPHQL_INPUTS}) | JSON)
def test_graphql_variables_never_break_the_service(
    fuzz_client: TestClient, variables: Any
) -> None:
    response = fuzz_client.post(
        "/graphql",
        content=json.dumps({"query": SUBMIT, "variables": variables}),
        headers={"Content-Type": "application/json"},
    )

    assert_clean(response)
    if not response.headers["content-type"].startswith("application/json"):
        return  # strawberry's plain-text 400 for variables that are not an object
    for error in response.json().get("errors") or []:
        assert error.get("extensions", {}).get("code") != "INTERNAL_SERVER_ERROR"
    assert_jobs_whole(fuzz_client)


@FUZZ
@given(
    job_id=st.text(max_size=30) | st.sampled_from(["0" * 24, "f" * 24]),
)
def test_job_lookups_never_break_the_service(
    fuzz_client: TestClient, job_id: str
) -> None:
    rest = fuzz_client.get("/api/status", params={"jobid": job_id})
    query = "query J($id: ID!) { job(id: $id) { id } }"
    graph = fuzz_client.post(
        "/graphql", json={"query": query, "variables": {"id": job_id}}
    )

    assert_clean(rest)
    assert_clean(graph)
    assert rest.status_code == 400
    assert graph.json() == {"data": {"job": None}}
