from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import pytest
from starlette.testclient import TestClient

from tests.conftest import graphql

GOOD_URL = "http://127.0.0.1:9/a.jpg"


def good_job() -> dict[str, Any]:
    return {
        "count": 2,
        "visits": [
            {"store_id": "RP00001", "image_url": [GOOD_URL], "visit_time": "t1"},
            {
                "store_id": "RP00002",
                "image_url": [GOOD_URL, GOOD_URL],
                "visit_time": "t2",
            },
        ],
    }


def edit(change: Callable[[dict[str, Any]], None]) -> dict[str, Any]:
    job = good_job()
    change(job)
    return job


def set_path(job: dict[str, Any], path: list[Any], value: Any) -> None:
    target: Any = job
    for key in path[:-1]:
        target = target[key]
    if value is DROP:
        del target[path[-1]]
    else:
        target[path[-1]] = value


DROP = object()

# (id, REST edits, expected GraphQL field path, code, words in the REST message)
CASES: list[tuple[str, list[tuple[list[Any], Any]], list[str] | None, str, str]] = [
    (
        "no visits",
        [(["visits"], []), (["count"], 0)],
        ["visits"],
        "NO_VISITS",
        "visits: a job needs at least one visit",
    ),
    (
        "count mismatch",
        [(["count"], 3)],
        ["count"],
        "COUNT_MISMATCH",
        "count: is 3 but the job has 2 visits",
    ),
    (
        "missing store id",
        [(["visits", 1, "store_id"], DROP)],
        None,
        "MISSING_FIELD",
        "visits[1].store_id: is required",
    ),
    (
        "empty store id",
        [(["visits", 0, "store_id"], "")],
        ["visits", "0", "storeId"],
        "MISSING_FIELD",
        "visits[0].store_id: must be a non-empty string",
    ),
    (
        "empty visit time",
        [(["visits", 0, "visit_time"], "  ")],
        ["visits", "0", "visitTime"],
        "MISSING_FIELD",
        "visits[0].visit_time: must be a non-empty string",
    ),
    (
        "no images",
        [(["visits", 1, "image_url"], [])],
        ["visits", "1", "imageUrls"],
        "NO_IMAGES",
        "visits[1].image_url: a visit needs at least one image URL",
    ),
    (
        "ftp url",
        [(["visits", 1, "image_url", 1], "ftp://example.com/a.jpg")],
        ["visits", "1", "imageUrls", "1"],
        "INVALID_URL",
        "visits[1].image_url[1]: 'ftp://example.com/a.jpg' is not an http or https URL",
    ),
    (
        "file url",
        [(["visits", 0, "image_url", 0], "file:///etc/hostname")],
        ["visits", "0", "imageUrls", "0"],
        "INVALID_URL",
        "is not an http or https URL",
    ),
    (
        "data url",
        [(["visits", 0, "image_url", 0], "data:image/png;base64,iVBO")],
        ["visits", "0", "imageUrls", "0"],
        "INVALID_URL",
        "is not an http or https URL",
    ),
    (
        "relative url",
        [(["visits", 0, "image_url", 0], "/images/a.jpg")],
        ["visits", "0", "imageUrls", "0"],
        "INVALID_URL",
        "is not an http or https URL",
    ),
    (
        "port 0",
        [(["visits", 0, "image_url", 0], "http://127.0.0.1:0/a.jpg")],
        ["visits", "0", "imageUrls", "0"],
        "INVALID_URL",
        "names port 0",
    ),
    (
        "no host",
        [(["visits", 0, "image_url", 0], "http:///a.jpg")],
        ["visits", "0", "imageUrls", "0"],
        "INVALID_URL",
        "has no host",
    ),
    (
        "url too long",
        [(["visits", 0, "image_url", 0], "http://a.com/" + "x" * 2100)],
        ["visits", "0", "imageUrls", "0"],
        "URL_TOO_LONG",
        "longer than 2048",
    ),
]


def to_graphql(job: dict[str, Any]) -> dict[str, Any]:
    names = {"store_id": "storeId", "image_url": "imageUrls", "visit_time": "visitTime"}
    return {
        "count": job["count"],
        "visits": [{names[k]: v for k, v in visit.items()} for visit in job["visits"]],
    }


SUBMIT = """
mutation Submit($input: SubmitJobInput!) {
  submitJob(input: $input) { job { id } userErrors { field message code } }
}
"""
JOB_COUNT = "{ jobs(first: 100) { edges { cursor } } }"


@pytest.mark.parametrize(
    ("edits", "field", "code", "words"),
    [case[1:] for case in CASES],
    ids=[case[0] for case in CASES],
)
def test_each_rule_is_a_user_error_and_a_rest_400(
    client: TestClient,
    edits: list[tuple[list[Any], Any]],
    field: list[str] | None,
    code: str,
    words: str,
) -> None:
    job = good_job()
    for path, value in edits:
        set_path(job, path, value if value is DROP else copy.deepcopy(value))

    rest = client.post("/api/submit/", json=job)
    variables = {"input": to_graphql(job)}
    body = client.post("/graphql", json={"query": SUBMIT, "variables": variables})

    assert rest.status_code == 400
    assert words in rest.json()["error"]
    if field is None:  # a field missing from GraphQL input fails GraphQL validation
        assert body.json()["data"] is None
        assert body.json()["errors"]
    else:
        payload = body.json()["data"]["submitJob"]
        assert payload["job"] is None
        errors = [(e["field"], e["code"]) for e in payload["userErrors"]]
        assert errors == [(field, code)]
    assert graphql(client, JOB_COUNT)["jobs"]["edges"] == []


def test_every_problem_is_reported_at_once(client: TestClient) -> None:
    job = good_job()
    job["count"] = 5
    job["visits"][0]["store_id"] = ""
    job["visits"][1]["image_url"] = ["mailto:a@b.c", "https://ok.example/x.png"]

    rest = client.post("/api/submit/", json=job)
    payload = graphql(client, SUBMIT, {"input": to_graphql(job)})["submitJob"]

    assert rest.json()["error"].count("; ") == 2
    assert sorted(e["code"] for e in payload["userErrors"]) == [
        "COUNT_MISMATCH",
        "INVALID_URL",
        "MISSING_FIELD",
    ]


@pytest.mark.parametrize(
    ("count", "code"),
    [
        (None, "MISSING_FIELD"),
        ("2", "COUNT_MISMATCH"),
        (2.0, "COUNT_MISMATCH"),
        (True, "COUNT_MISMATCH"),
    ],
    ids=["missing", "string", "float", "bool"],
)
def test_count_must_be_a_json_integer(
    client: TestClient, count: Any, code: str
) -> None:
    job = good_job()
    if count is None:
        del job["count"]
    else:
        job["count"] = count

    response = client.post("/api/submit/", json=job)

    assert response.status_code == 400
    assert response.json()["error"].startswith("count: ")


def test_limits_on_visits_and_images(make_client: Callable[..., TestClient]) -> None:
    client = make_client(max_visits=1, max_images=2)

    too_many_visits = client.post("/api/submit/", json=good_job())
    one_visit = {
        "count": 1,
        "visits": [{"store_id": "RP1", "image_url": [GOOD_URL] * 3, "visit_time": "t"}],
    }
    too_many_images = client.post("/api/submit/", json=one_visit)

    assert "2 visits is more than the 1 allowed" in too_many_visits.json()["error"]
    assert "3 images is more than the 2 allowed" in too_many_images.json()["error"]


def test_missing_graphql_field_is_a_graphql_validation_error(
    client: TestClient,
) -> None:
    variables = {
        "input": {"count": 1, "visits": [{"storeId": "RP1", "visitTime": "t"}]}
    }

    body = client.post(
        "/graphql", json={"query": SUBMIT, "variables": variables}
    ).json()

    assert body["data"] is None
    assert "imageUrls" in body["errors"][0]["message"]
