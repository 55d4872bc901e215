"""Cancel, retry and backoff, in-process, through GraphQL."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from starlette.testclient import TestClient

from tests.conftest import JOB_STATUS, ScriptedServer, graphql, wait_for_job

CANCEL = """
mutation Cancel($id: ID!) {
  cancelJob(id: $id) {
    job { status finishedAt progress { total done failed cancelled pending } }
    userErrors { field code message }
  }
}
"""
LOAD = "mutation Load($csv: String!) { loadStores(csv: $csv) { loaded } }"
RETRY = """
mutation Retry($id: ID!) {
  retryJob(id: $id) {
    job { status progress { total done failed cancelled pending } errors { storeId } }
    userErrors { field code message }
  }
}
"""


def png(shared: Path) -> bytes:
    return (shared / "cases" / "files" / "control_ok.png").read_bytes()


def submit(client: TestClient, urls: list[str], store_id: str = "RP00001") -> str:
    visit = {"store_id": store_id, "image_url": urls, "visit_time": "t"}
    response = client.post("/api/submit/", json={"count": 1, "visits": [visit]})
    job_id: str = response.json()["job_id"]
    return job_id


def wait_until(check: Callable[[], bool], timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


def test_cancel_stops_the_remaining_images_and_keeps_results(
    make_client: Callable[..., TestClient],
    scripted_server: ScriptedServer,
    shared: Path,
) -> None:
    client = make_client(concurrency=1)
    scripted_server.script["/a.png"] = [(200, png(shared), {})]
    scripted_server.delay["/slow.png"] = 0.5
    scripted_server.script["/slow.png"] = [(200, png(shared), {})]
    job_id = submit(
        client,
        [f"{scripted_server.base}/a.png"] + [f"{scripted_server.base}/slow.png"] * 6,
    )

    def done() -> int:
        job = graphql(client, JOB_STATUS, {"id": job_id})["job"]
        result: int = job["progress"]["done"]
        return result

    wait_until(lambda: done() >= 1)
    payload = graphql(client, CANCEL, {"id": job_id})["cancelJob"]
    time.sleep(1.2)
    later = graphql(client, JOB_STATUS, {"id": job_id})["job"]

    assert payload["userErrors"] == []
    job = payload["job"]
    assert job["status"] == "CANCELLED"
    assert job["finishedAt"] is not None
    progress = job["progress"]
    assert progress["done"] >= 1
    assert progress["cancelled"] >= 4
    assert progress["pending"] == 0
    assert later["progress"] == progress
    again = graphql(client, CANCEL, {"id": job_id})["cancelJob"]
    assert [e["code"] for e in again["userErrors"]] == ["JOB_ENDED"]


def test_retry_runs_only_the_failed_images(
    client: TestClient, scripted_server: ScriptedServer, shared: Path
) -> None:
    scripted_server.script["/good.png"] = [(200, png(shared), {})]
    scripted_server.script["/late.png"] = [(404, b"no", {}), (200, png(shared), {})]
    job_id = submit(
        client, [f"{scripted_server.base}/good.png", f"{scripted_server.base}/late.png"]
    )
    first = wait_for_job(client, job_id)

    payload = graphql(client, RETRY, {"id": job_id})["retryJob"]
    final = wait_for_job(client, job_id)

    assert first["status"] == "FAILED"
    assert payload["userErrors"] == []
    assert payload["job"]["status"] == "ONGOING"
    assert payload["job"]["errors"] == []
    assert final["status"] == "COMPLETED"
    assert final["progress"] == {
        "total": 2,
        "done": 2,
        "failed": 0,
        "cancelled": 0,
        "pending": 0,
    }
    assert [(i["width"], i["height"]) for i in final["visits"][0]["images"]] == [
        (40, 30),
        (40, 30),
    ]
    assert scripted_server.hits == {"/good.png": 1, "/late.png": 2}


def test_retry_fetches_a_store_loaded_since(
    client: TestClient, scripted_server: ScriptedServer, shared: Path
) -> None:
    scripted_server.script["/a.png"] = [(200, png(shared), {})]
    job_id = submit(client, [f"{scripted_server.base}/a.png"], store_id="NEW-1")
    failed = wait_for_job(client, job_id)
    csv = "AreaCode,StoreName,StoreID\n1,New One,NEW-1\n"
    graphql(client, LOAD, {"csv": csv})

    graphql(client, RETRY, {"id": job_id})
    final = wait_for_job(client, job_id)

    assert failed["visits"][0]["images"][0]["errorCode"] == "UNKNOWN_STORE"
    assert scripted_server.hits["/a.png"] == 1
    assert final["status"] == "COMPLETED"
    assert final["visits"][0]["store"]["name"] == "New One"


def test_retry_and_cancel_say_why_they_cannot(
    client: TestClient, scripted_server: ScriptedServer, shared: Path
) -> None:
    scripted_server.script["/a.png"] = [(200, png(shared), {})]
    job_id = submit(client, [f"{scripted_server.base}/a.png"])
    wait_for_job(client, job_id)

    retry_completed = graphql(client, RETRY, {"id": job_id})["retryJob"]
    cancel_completed = graphql(client, CANCEL, {"id": job_id})["cancelJob"]
    retry_unknown = graphql(client, RETRY, {"id": "6b119e38ebf774a0993afaf6"})
    cancel_malformed = graphql(client, CANCEL, {"id": "nope"})

    assert retry_completed["job"] is None
    assert retry_completed["userErrors"][0]["code"] == "JOB_NOT_FAILED"
    assert retry_completed["userErrors"][0]["field"] == ["id"]
    assert cancel_completed["userErrors"][0]["code"] == "JOB_ENDED"
    assert retry_unknown["retryJob"]["userErrors"][0]["code"] == "NOT_FOUND"
    assert cancel_malformed["cancelJob"]["userErrors"][0]["code"] == "NOT_FOUND"


def test_a_retry_waits_without_holding_a_slot(
    make_client: Callable[..., TestClient],
    scripted_server: ScriptedServer,
    shared: Path,
) -> None:
    client = make_client(concurrency=1, fetch_attempts=3)
    busy = (503, b"busy", {"Retry-After": "1"})
    scripted_server.script["/flaky.png"] = [busy, (200, png(shared), {})]
    scripted_server.script["/ok.png"] = [(200, png(shared), {})]
    job_id = submit(
        client, [f"{scripted_server.base}/flaky.png", f"{scripted_server.base}/ok.png"]
    )

    job = wait_for_job(client, job_id)

    flaky, ok = job["visits"][0]["images"]
    assert job["status"] == "COMPLETED"
    assert (flaky["attempts"], flaky["width"]) == (2, 40)
    assert ok["attempts"] == 1
    assert scripted_server.hits["/flaky.png"] == 2


def test_transient_failures_give_up_after_the_configured_attempts(
    make_client: Callable[..., TestClient], scripted_server: ScriptedServer
) -> None:
    client = make_client(fetch_attempts=3)
    scripted_server.script["/down.png"] = [(500, b"oops", {})]

    job = wait_for_job(client, submit(client, [f"{scripted_server.base}/down.png"]))

    image = job["visits"][0]["images"][0]
    assert (image["status"], image["errorCode"], image["attempts"]) == (
        "FAILED",
        "HTTP_ERROR",
        3,
    )
    assert scripted_server.hits["/down.png"] == 3
