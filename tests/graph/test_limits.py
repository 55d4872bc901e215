from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from starlette.testclient import TestClient

from graph.limits import SubmitRate
from tests.graph.access import (
    ADMIN_TOKEN,
    SUBMIT,
    bearer,
    error_codes,
    gql,
    graphql_job,
    rest_job,
    start_secure_service,
)
from tests.stubs import RecordingTransport, StubResolver

JOB_COUNT = "query { jobs(first: 100) { edges { node { id } } } }"


@pytest.fixture
def offline(make_client: Callable[..., TestClient]) -> Callable[..., TestClient]:
    def make(**overrides: Any) -> TestClient:
        return make_client(
            transport=RecordingTransport({}), resolver=StubResolver(), **overrides
        )

    return make


def job_ids(client: TestClient, token: str | None = None) -> list[str]:
    edges = gql(client, JOB_COUNT, token=token)["data"]["jobs"]["edges"]
    return [e["node"]["id"] for e in edges]


def test_rest_body_over_the_limit_is_413(offline: Callable[..., TestClient]) -> None:
    client = offline(max_body_bytes=1000)
    job = rest_job(urls=["http://images.test/" + "a" * 1200])

    response = client.post("/api/submit/", json=job)

    assert response.status_code == 413
    assert response.json() == {"error": "the request body is larger than 1000 bytes"}
    assert job_ids(client) == []


def chunks(data: bytes, size: int) -> Iterator[bytes]:
    for start in range(0, len(data), size):
        yield data[start : start + size]


def test_chunked_body_without_length_is_stopped(
    offline: Callable[..., TestClient],
) -> None:
    client = offline(max_body_bytes=1000)
    body = json.dumps(rest_job(urls=["http://images.test/" + "a" * 5000])).encode()

    response = client.post(
        "/api/submit/",
        content=chunks(body, 100),
        headers={"Content-Type": "application/json"},
    )

    assert response.status_code == 413
    assert job_ids(client) == []


def test_chunked_body_within_the_limit_is_read_whole(
    offline: Callable[..., TestClient],
) -> None:
    client = offline(max_body_bytes=1000)
    body = json.dumps(rest_job()).encode()

    response = client.post("/api/submit/", content=chunks(body, 7))

    assert response.status_code == 201


def test_graphql_body_over_the_limit_is_payload_too_large(
    offline: Callable[..., TestClient],
) -> None:
    client = offline(max_body_bytes=1000)
    variables = {"input": graphql_job(idempotencyKey="k" * 2000)}

    response = client.post("/graphql", json={"query": SUBMIT, "variables": variables})

    assert response.status_code == 413
    assert error_codes(response.json()) == ["PAYLOAD_TOO_LARGE"]


@pytest.mark.parametrize(
    ("query", "words"),
    [
        ("query { jobs { edges { node { visits { images { url } } } } } }", "depth"),
        (
            "query { "
            + " ".join(f"a{i}: stores {{ edges {{ cursor }} }}" for i in range(21))
            + " }",
            "aliases",
        ),
        ("query { " + "__typename " * 10_001 + "}", "token"),
    ],
    ids=["depth", "aliases", "tokens"],
)
def test_graphql_shape_limits(
    offline: Callable[..., TestClient], query: str, words: str
) -> None:
    client = offline(graphql_max_depth=4)

    body = gql(client, query)

    assert body.get("data") is None
    assert words in body["errors"][0]["message"].lower()


def test_depth_limit_allows_the_documented_queries(client: TestClient) -> None:
    query = (
        "query { jobs { edges { node { visits { store { id } images { url } } } } } }"
    )

    assert "errors" not in gql(client, query)


def test_introspection_and_graphiql_can_be_switched_off(
    offline: Callable[..., TestClient],
) -> None:
    client = offline(graphql_introspection=False, graphiql=False)

    body = gql(client, "query { __schema { types { name } } }")
    page = client.get("/graphql", headers={"Accept": "text/html"})

    assert "introspection" in body["errors"][0]["message"].lower()
    assert page.status_code != 200 or "graphiql" not in page.text.lower()
    assert "errors" not in gql(client, JOB_COUNT)


def test_introspection_and_graphiql_are_on_by_default(client: TestClient) -> None:
    body = gql(client, "query { __schema { queryType { name } } }")
    page = client.get("/graphql", headers={"Accept": "text/html"})

    assert body["data"]["__schema"]["queryType"]["name"] == "Query"
    assert "graphiql" in page.text.lower()


def test_submit_rate_refills_evenly() -> None:
    now = [0.0]
    rate = SubmitRate(60, clock=lambda: now[0])

    spent = [rate.take("a") for _ in range(60)]
    waited = rate.take("a")
    other = rate.take("b")
    now[0] = 1.0

    assert spent == [0.0] * 60
    assert waited == pytest.approx(1.0)
    assert other == 0.0
    assert rate.take("a") == 0.0
    assert rate.take("a") > 0


def test_rest_submissions_over_the_rate_are_429(
    make_client: Callable[..., TestClient],
) -> None:
    service = start_secure_service(make_client, submit_rate=2)
    user = bearer(service.tokens["user"])

    codes = [
        service.client.post("/api/submit/", json=rest_job(), headers=user).status_code
        for _ in range(2)
    ]
    limited = service.client.post("/api/submit/", json=rest_job(), headers=user)
    other = service.client.post(
        "/api/submit/", json=rest_job(), headers=bearer(service.tokens["other"])
    )

    assert codes == [201, 201]
    assert limited.status_code == 429
    assert int(limited.headers["retry-after"]) >= 1
    assert "too many submissions" in limited.json()["error"]
    assert other.status_code == 201


def test_graphql_submissions_over_the_rate_are_rate_limited(
    make_client: Callable[..., TestClient],
) -> None:
    service = start_secure_service(make_client, submit_rate=1)
    user = service.tokens["user"]
    variables = {"input": graphql_job()}

    first = gql(service.client, SUBMIT, variables, user)
    second = gql(service.client, SUBMIT, variables, user)

    assert error_codes(first) == []
    assert error_codes(second) == ["RATE_LIMITED"]
    assert second["errors"][0]["extensions"]["retryAfter"] >= 1
    assert job_ids(service.client, ADMIN_TOKEN) == [
        first["data"]["submitJob"]["job"]["id"]
    ]


@pytest.mark.parametrize(
    ("settings", "job", "code"),
    [
        (
            {"max_visits": 1},
            {"count": 2, "visits": [rest_job()["visits"][0]] * 2},
            "TOO_MANY_VISITS",
        ),
        (
            {"max_images": 2},
            rest_job(urls=["http://images.test/a.png"] * 3),
            "TOO_MANY_IMAGES",
        ),
        (
            {"max_url_length": 30},
            rest_job(urls=["http://images.test/" + "a" * 20]),
            "URL_TOO_LONG",
        ),
    ],
    ids=["visits", "images", "url length"],
)
def test_job_size_limits_answer_with_their_codes(
    offline: Callable[..., TestClient],
    settings: dict[str, int],
    job: dict[str, Any],
    code: str,
) -> None:
    client = offline(**settings)
    graphql_input = {
        "count": job["count"],
        "visits": [
            {"storeId": v["store_id"], "imageUrls": v["image_url"], "visitTime": "t"}
            for v in job["visits"]
        ],
    }

    rest = client.post("/api/submit/", json=job)
    payload = gql(client, SUBMIT, {"input": graphql_input})["data"]["submitJob"]

    assert rest.status_code == 400
    assert [e["code"] for e in payload["userErrors"]] == [code]
    assert job_ids(client) == []


def post_with_key(
    client: TestClient, key: str, job: dict[str, Any], token: str | None = None
) -> Any:
    headers = {"Idempotency-Key": key, **bearer(token)}
    return client.post("/api/submit/", json=job, headers=headers)


def test_repeated_rest_submission_with_a_key_makes_one_job(
    offline: Callable[..., TestClient],
) -> None:
    client = offline()

    first = post_with_key(client, "key-1", rest_job())
    again = post_with_key(client, "key-1", rest_job())
    changed = post_with_key(client, "key-1", rest_job(store_id="RP00002"))

    assert first.status_code == again.status_code == 201
    assert again.json() == first.json()
    assert changed.status_code == 409
    assert "Idempotency-Key" in changed.json()["error"]
    assert job_ids(client) == [first.json()["job_id"]]


def test_repeated_graphql_submission_with_a_key_makes_one_job(
    offline: Callable[..., TestClient],
) -> None:
    client = offline()
    same = {"input": graphql_job(idempotencyKey="k")}
    different = {"input": graphql_job("RP00003", idempotencyKey="k")}

    first = gql(client, SUBMIT, same)["data"]["submitJob"]
    again = gql(client, SUBMIT, same)["data"]["submitJob"]
    rest = post_with_key(client, "k", rest_job())
    conflict = gql(client, SUBMIT, different)["data"]["submitJob"]

    assert again == first
    assert rest.json() == {"job_id": first["job"]["id"]}
    assert conflict["job"] is None
    assert conflict["userErrors"] == [
        {
            "field": ["idempotencyKey"],
            "message": "was used before for a different job",
            "code": "IDEMPOTENCY_CONFLICT",
        }
    ]


def test_a_key_is_per_token(make_client: Callable[..., TestClient]) -> None:
    service = start_secure_service(make_client)
    client = service.client

    mine = post_with_key(client, "k", rest_job(), service.tokens["user"])
    theirs = post_with_key(client, "k", rest_job(), service.tokens["other"])

    assert mine.status_code == theirs.status_code == 201
    assert mine.json() != theirs.json()


def test_concurrent_repeats_make_one_job(offline: Callable[..., TestClient]) -> None:
    client = offline()

    with ThreadPoolExecutor(8) as pool:
        responses = list(
            pool.map(lambda _: post_with_key(client, "same", rest_job()), range(16))
        )

    assert {r.status_code for r in responses} == {201}
    assert len({r.json()["job_id"] for r in responses}) == 1
    assert len(job_ids(client)) == 1


def test_an_overlong_key_is_rejected(offline: Callable[..., TestClient]) -> None:
    client = offline()

    response = post_with_key(client, "k" * 256, rest_job())

    assert response.status_code == 400
    assert "Idempotency-Key: is longer than 255 characters" in response.json()["error"]
