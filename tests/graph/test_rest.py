from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from tests.conftest import wait_for_job

PHONE = "jpeg_phone_sonyxperia_720x1280.jpg"
CAT = "png_rgb_chelsea_451x300.png"


def example_job(shared: Path, base: str) -> dict[str, Any]:
    job: dict[str, Any] = json.loads((shared / "data" / "example-job.json").read_text())
    local = {
        "https://www.gstatic.com/webp/gallery/2.jpg": f"{base}/{PHONE}",
        "https://www.gstatic.com/webp/gallery/3.jpg": f"{base}/{CAT}",
    }
    for visit in job["visits"]:
        visit["image_url"] = [local[url] for url in visit["image_url"]]
    return job


def mixed_job(base: str) -> dict[str, Any]:
    return {
        "count": 3,
        "visits": [
            {
                "store_id": "RP00001",
                "image_url": [f"{base}/{CAT}", f"{base}/{PHONE}", f"{base}/{CAT}"],
                "visit_time": "2024-06-01T10:15:00+05:30",
            },
            {
                "store_id": "NO-SUCH-STORE",
                "image_url": [f"{base}/{CAT}"],
                "visit_time": "yesterday afternoon",
            },
            {
                "store_id": "RP04944",
                "image_url": [f"{base}/missing.jpg", f"{base}/png_1x1_palette.png"],
                "visit_time": "2024-06-02",
            },
        ],
    }


def test_example_job_completes_with_measured_sizes(
    client: TestClient, shared: Path, image_server: str
) -> None:
    response = client.post("/api/submit/", json=example_job(shared, image_server))
    assert response.status_code == 201
    job_id = response.json()["job_id"]

    job = wait_for_job(client, job_id)

    status = client.get("/api/status", params={"jobid": job_id})
    assert status.json() == {"status": "completed", "job_id": job_id}
    sizes = [
        (i["width"], i["height"], i["perimeter"])
        for v in job["visits"]
        for i in v["images"]
    ]
    assert sizes == [(720, 1280, 4000), (451, 300, 1502), (451, 300, 1502)]


def test_mixed_job_fails_only_the_bad_stores(
    client: TestClient, image_server: str
) -> None:
    response = client.post("/api/jobs", json=mixed_job(image_server))
    job_id = response.json()["job_id"]

    job = wait_for_job(client, job_id)

    assert job["status"] == "FAILED"
    images = [
        (i["status"], i["width"], i["height"], i["perimeter"], i["errorCode"])
        for v in job["visits"]
        for i in v["images"]
    ]
    assert images == [
        ("DONE", 451, 300, 1502, None),
        ("DONE", 720, 1280, 4000, None),
        ("DONE", 451, 300, 1502, None),
        ("FAILED", None, None, None, "UNKNOWN_STORE"),
        ("FAILED", None, None, None, "HTTP_ERROR"),
        ("DONE", 1, 1, 4, None),
    ]
    assert job["progress"] == {
        "total": 6,
        "done": 4,
        "failed": 2,
        "cancelled": 0,
        "pending": 0,
    }
    assert sorted(e["storeId"] for e in job["errors"]) == ["NO-SUCH-STORE", "RP04944"]
    body = client.get("/api/status", params={"jobid": job_id}).json()
    assert body["status"] == "failed"
    assert sorted(e["store_id"] for e in body["error"]) == ["NO-SUCH-STORE", "RP04944"]
    assert "404" in next(
        e["error"] for e in body["error"] if e["store_id"] == "RP04944"
    )


def test_job_detail_says_pending_until_the_end(client: TestClient) -> None:
    job = {
        "count": 1,
        "visits": [
            {
                "store_id": "NOPE",
                "image_url": ["http://127.0.0.1:9/a.jpg"],
                "visit_time": "now",
            }
        ],
    }
    job_id = client.post("/api/submit", json=job).json()["job_id"]

    detail = client.get(f"/api/jobs/{job_id}")

    assert detail.status_code == 200
    assert detail.json() == {
        "status": "failed",
        "job_id": job_id,
        "error": [{"store_id": "NOPE", "error": "unknown store id"}],
    }


@pytest.mark.parametrize(
    "params",
    [{}, {"jobid": ""}, {"jobid": "not-an-id"}, {"jobid": "6b119e38ebf774a0993afaf6"}],
    ids=["missing", "empty", "malformed", "unknown"],
)
def test_status_of_no_job_is_400_with_empty_body(
    client: TestClient, params: dict[str, str]
) -> None:
    response = client.get("/api/status", params=params)

    assert (response.status_code, response.json()) == (400, {})


@pytest.mark.parametrize("job_id", ["nope", "6b119e38ebf774a0993afaf6"])
def test_detail_of_no_job_is_404(client: TestClient, job_id: str) -> None:
    response = client.get(f"/api/jobs/{job_id}")

    assert (response.status_code, response.json()) == (404, {"error": "job not found"})


@pytest.mark.parametrize(
    "body",
    [
        b"{not json",
        b"",
        b"\xff\xfe",
        b"[1, 2]",
        b'"text"',
        b"null",
        b"[" * 100_000 + b"]" * 100_000,
    ],
    ids=["broken", "empty", "binary", "list", "string", "null", "nested too deep"],
)
def test_malformed_body_is_400_with_a_message(client: TestClient, body: bytes) -> None:
    response = client.post(
        "/api/submit/", content=body, headers={"content-type": "application/json"}
    )

    assert response.status_code == 400
    assert response.json()["error"]


def test_graphql_variables_nested_too_deep_are_a_400(client: TestClient) -> None:
    body = b'{"query": "{ jobs { edges { cursor } } }", "variables": ' + (
        b"[" * 100_000 + b"]" * 100_000 + b"}"
    )

    response = client.post(
        "/graphql", content=body, headers={"content-type": "application/json"}
    )

    assert response.status_code == 400
