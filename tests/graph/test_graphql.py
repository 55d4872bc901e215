from __future__ import annotations

from typing import Any

from starlette.testclient import TestClient

from tests.conftest import graphql, wait_for_job

SUBMIT = """
mutation Submit($input: SubmitJobInput!) {
  submitJob(input: $input) {
    job { id status count priority progress { total pending } }
    userErrors { field message code }
  }
}
"""
JOBS = """
query Jobs($status: JobStatus, $storeId: String, $first: Int, $after: String) {
  jobs(status: $status, storeId: $storeId, first: $first, after: $after) {
    edges { cursor node { id status } }
    pageInfo { hasNextPage endCursor }
  }
}
"""
STORES = """
query Stores($areaCode: String, $search: String, $first: Int, $after: String) {
  stores(areaCode: $areaCode, search: $search, first: $first, after: $after) {
    edges { node { id name areaCode } }
    pageInfo { hasNextPage endCursor }
  }
}
"""


def submit(client: TestClient, store_id: str, urls: list[str]) -> dict[str, Any]:
    variables = {
        "input": {
            "count": 1,
            "priority": "HIGH",
            "visits": [{"storeId": store_id, "imageUrls": urls, "visitTime": "t"}],
        }
    }
    payload: dict[str, Any] = graphql(client, SUBMIT, variables)["submitJob"]
    return payload


def test_submit_job_returns_the_stored_job(
    client: TestClient, image_server: str
) -> None:
    url = f"{image_server}/gif_static_solid2_640x400.gif"

    payload = submit(client, "RP00010", [url, url])
    job = wait_for_job(client, payload["job"]["id"])

    assert payload["userErrors"] == []
    assert payload["job"]["count"] == 1
    assert payload["job"]["priority"] == "HIGH"
    assert payload["job"]["progress"] == {"total": 2, "pending": 2}
    assert job["status"] == "COMPLETED"
    assert (
        job["visits"][0]["store"]
        == {"id": "RP00010", "name": "AL IMRAN STORE", "areaCode": "7100015"}
        or job["visits"][0]["store"]["id"] == "RP00010"
    )
    assert [
        (i["width"], i["height"], i["format"]) for i in job["visits"][0]["images"]
    ] == [(640, 400, "GIF"), (640, 400, "GIF")]


def test_visit_time_is_kept_as_sent_and_read_when_iso(client: TestClient) -> None:
    variables = {
        "input": {
            "count": 2,
            "visits": [
                {
                    "storeId": "X",
                    "imageUrls": ["http://127.0.0.1:9/a"],
                    "visitTime": "2024-06-01T10:15:00+05:30",
                },
                {
                    "storeId": "X",
                    "imageUrls": ["http://127.0.0.1:9/a"],
                    "visitTime": "Tuesday morning",
                },
            ],
        }
    }
    job_id = graphql(client, SUBMIT, variables)["submitJob"]["job"]["id"]

    visits = wait_for_job(client, job_id)["visits"]

    assert [(v["visitTime"], v["visitedAt"]) for v in visits] == [
        ("2024-06-01T10:15:00+05:30", "2024-06-01T04:45:00+00:00"),
        ("Tuesday morning", None),
    ]


def test_jobs_are_paged_newest_first_and_filtered(client: TestClient) -> None:
    ids = [
        submit(client, s, ["http://127.0.0.1:9/a"])["job"]["id"]
        for s in ("A", "B", "A")
    ]
    for job_id in ids:
        wait_for_job(client, job_id)

    first = graphql(client, JOBS, {"first": 2})["jobs"]
    rest = graphql(client, JOBS, {"first": 2, "after": first["pageInfo"]["endCursor"]})
    only_a = graphql(client, JOBS, {"storeId": "A"})["jobs"]
    completed = graphql(client, JOBS, {"status": "COMPLETED"})["jobs"]

    assert [e["node"]["id"] for e in first["edges"]] == ids[::-1][:2]
    assert first["pageInfo"]["hasNextPage"] is True
    assert [e["node"]["id"] for e in rest["jobs"]["edges"]] == [ids[0]]
    assert rest["jobs"]["pageInfo"] == {
        "hasNextPage": False,
        "endCursor": rest["jobs"]["edges"][0]["cursor"],
    }
    assert [e["node"]["id"] for e in only_a["edges"]] == [ids[2], ids[0]]
    assert completed["edges"] == []


def test_page_size_and_cursor_are_checked(client: TestClient) -> None:
    for variables in ({"first": 0}, {"first": 101}, {"after": "@@not-a-cursor"}):
        body = client.post("/graphql", json={"query": JOBS, "variables": variables})
        error = body.json()["errors"][0]
        assert error["extensions"]["code"] == "BAD_USER_INPUT"


def test_unknown_job_and_store_are_null(client: TestClient) -> None:
    data = graphql(
        client,
        '{ a: job(id: "nope") { id } b: job(id: "6b119e38ebf774a0993afaf6") { id }'
        ' store(id: "rp00001") { id } }',
    )

    assert data == {"a": None, "b": None, "store": None}


def test_store_is_found_by_its_exact_id(client: TestClient) -> None:
    store = graphql(client, '{ store(id: "RP03738") { id name areaCode } }')["store"]

    assert store == {"id": "RP03738", "name": "KHIBAR CAFÃ‰", "areaCode": "7100015"}


def test_stores_filter_by_area_and_search_any_case(client: TestClient) -> None:
    by_area = graphql(client, STORES, {"areaCode": "7000129", "first": 100})["stores"]
    search = graphql(client, STORES, {"search": "khibar caf", "first": 5})["stores"]
    by_id = graphql(client, STORES, {"search": "rp0000", "first": 3})["stores"]
    page2 = graphql(
        client,
        STORES,
        {"search": "rp0000", "first": 3, "after": by_id["pageInfo"]["endCursor"]},
    )["stores"]

    assert by_area["edges"]
    assert {e["node"]["areaCode"] for e in by_area["edges"]} == {"7000129"}
    assert [e["node"]["id"] for e in search["edges"]] == ["RP03738"]
    assert [e["node"]["id"] for e in by_id["edges"]] == [
        "RP00001",
        "RP00002",
        "RP00003",
    ]
    assert [e["node"]["id"] for e in page2["edges"]] == [
        "RP00004",
        "RP00005",
        "RP00006",
    ]


def test_load_stores_mutation_upserts(client: TestClient) -> None:
    mutation = """
    mutation Load($csv: String!) {
      loadStores(csv: $csv) { loaded updated skipped userErrors { field code } }
    }
    """
    csv = (
        "AreaCode,StoreName,StoreID\r\n"
        "1,New Store,NEW1\r\n2,Renamed,RP00001\r\n,,\r\nx\r\n"
    )

    result = graphql(client, mutation, {"csv": csv})["loadStores"]
    bad = graphql(client, mutation, {"csv": "nothing,here\n"})["loadStores"]

    assert result == {"loaded": 1, "updated": 1, "skipped": 1, "userErrors": []}
    assert graphql(client, '{ store(id: "NEW1") { name } }')["store"] == {
        "name": "New Store"
    }
    assert bad["userErrors"] == [{"field": ["csv"], "code": "INVALID_CSV"}]


def test_graphiql_opens_in_a_browser(client: TestClient) -> None:
    response = client.get("/graphql", headers={"accept": "text/html"})

    assert response.status_code == 200
    assert "graphiql" in response.text.lower()


def test_empty_store_filters_filter_nothing(client: TestClient) -> None:
    stores = graphql(client, STORES, {"areaCode": "", "search": "", "first": 2})

    assert [e["node"]["id"] for e in stores["stores"]["edges"]] == [
        "RP00001",
        "RP00002",
    ]
