from __future__ import annotations

import asyncio
import itertools
import json
import time
from collections.abc import Callable
from typing import Any

import httpx
import pytest
import websockets
from starlette.testclient import TestClient

from processing.events import InProcessEvents
from tests.conftest import graphql
from tests.subscribing import PROGRESS, PROTOCOLS, follow, receive, subscribe

SUBMIT = """
mutation Submit($input: SubmitJobInput!) {
  submitJob(input: $input) { job { id } userErrors { message } }
}
"""
BAR = """
subscription Bar($id: ID!) {
  jobProgress(id: $id) { status progress { total done failed } }
}
"""


def submit(client: TestClient, visits: dict[str, list[str]]) -> str:
    variables = {
        "input": {
            "count": len(visits),
            "visits": [
                {"storeId": store, "imageUrls": urls, "visitTime": "2024-06-01"}
                for store, urls in visits.items()
            ],
        }
    }
    payload = graphql(client, SUBMIT, variables)["submitJob"]
    assert payload["userErrors"] == [], payload
    job_id: str = payload["job"]["id"]
    return job_id


def events_of(client: TestClient) -> InProcessEvents:
    events = client.app.state.services.events  # type: ignore[attr-defined]
    assert isinstance(events, InProcessEvents)
    return events


def task_count(client: TestClient) -> int:
    async def count() -> int:
        return len(asyncio.all_tasks())

    assert client.portal is not None
    return client.portal.call(count)


def settle(condition: Callable[[], bool], timeout: float = 5) -> bool:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True


@pytest.mark.timeout(30)
@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_a_job_is_followed_from_its_first_state_to_completed(
    make_client: Callable[..., TestClient], image_server: str, protocol: str
) -> None:
    client = make_client(processing_delay="0.05-0.3", concurrency=2)
    urls = [
        f"{image_server}/{name}"
        for name in [
            "png_palette_interlaced_toucan_162x150.png",
            "jpeg_exif_orient6_canon300d_150x91.jpg",
            "gif_interlaced_treescap_40x40.gif",
            "png_1x1_palette.png",
            "webp_lossy_vp8_128x128.webp",
            "bmp_os2v1_pal8_127x64.bmp",
        ]
    ]
    job_id = submit(client, {"RP00001": urls[:3], "RP00002": urls[3:]})

    with subscribe(client, protocol, job_id) as ws:
        jobs, ending = follow(ws, protocol)

    done = [j["progress"]["done"] for j in jobs]
    assert ending == "complete"
    assert len(jobs) >= 3, done
    assert done == sorted(done)
    assert {j["status"] for j in jobs[:-1]} <= {"PENDING", "ONGOING"}
    last = jobs[-1]
    assert last["status"] == "COMPLETED"
    assert last["progress"] == {
        "total": 6,
        "done": 6,
        "failed": 0,
        "cancelled": 0,
        "pending": 0,
    }
    sizes = [(i["width"], i["height"]) for v in last["visits"] for i in v["images"]]
    assert sizes == [(162, 150), (91, 150), (40, 40), (1, 1), (128, 128), (127, 64)]


@pytest.mark.timeout(30)
@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_an_image_error_arrives_as_data_and_the_stream_still_ends(
    make_client: Callable[..., TestClient], case_server: str, protocol: str
) -> None:
    # shared/cases h18: store B fails at once, store A's slow images follow
    client = make_client()
    slow = [f"{case_server}/h18/slow-a.png", f"{case_server}/h18/slow-b.png"]
    job_id = submit(
        client, {"RP00101": slow, "RP00102": [f"{case_server}/h15/empty.jpg"]}
    )

    with subscribe(client, protocol, job_id) as ws:
        jobs, ending = follow(ws, protocol)

    assert ending == "complete"
    failed_b = [j for j in jobs if j["errors"]]
    assert failed_b and failed_b[0]["progress"]["done"] < 2
    last = jobs[-1]
    assert last["status"] == "FAILED"
    assert [e["storeId"] for e in last["errors"]] == ["RP00102"]
    store_a, store_b = last["visits"]
    assert [(i["width"], i["height"], i["perimeter"]) for i in store_a["images"]] == [
        (30, 20, 100),
        (44, 22, 132),
    ]
    assert store_b["images"][0]["errorCode"] == "NOT_AN_IMAGE"


@pytest.mark.timeout(30)
@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_a_subscriber_that_disconnects_leaves_nothing_behind(
    make_client: Callable[..., TestClient], case_server: str, protocol: str
) -> None:
    # shared/cases h19: drop the connection after the first message
    client = make_client()
    events = events_of(client)
    tasks_before = task_count(client)
    slow = [f"{case_server}/h18/slow-a.png", f"{case_server}/h18/slow-b.png"]
    job_id = submit(
        client, {"RP00101": slow, "RP00001": [f"{case_server}/files/control_ok.png"]}
    )

    with subscribe(client, protocol, job_id) as ws:
        first = receive(ws, protocol)
        assert events.listener_count == 1

    assert first[0] == "data"
    assert settle(lambda: events.listener_count == 0)
    assert settle(lambda: task_count(client) <= tasks_before)
    with subscribe(client, "graphql-transport-ws", job_id) as ws:
        jobs, ending = follow(ws, "graphql-transport-ws")
    assert ending == "complete"
    assert jobs[-1]["status"] == "COMPLETED"
    assert jobs[-1]["progress"]["done"] == 3
    assert settle(lambda: events.listener_count == 0)


@pytest.mark.timeout(30)
@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_a_late_subscriber_gets_the_final_state_and_completion(
    make_client: Callable[..., TestClient], image_server: str, protocol: str
) -> None:
    client = make_client()
    job_id = submit(client, {"RP00001": [f"{image_server}/png_1x1_palette.png"]})
    assert settle(lambda: job_state(client, job_id) == "COMPLETED")

    with subscribe(client, protocol, job_id) as ws:
        jobs, ending = follow(ws, protocol)

    assert ending == "complete"
    assert [j["status"] for j in jobs] == ["COMPLETED"]
    assert events_of(client).listener_count == 0


def job_state(client: TestClient, job_id: str) -> str:
    status: str = graphql(
        client, "query($id: ID!) { job(id: $id) { status } }", {"id": job_id}
    )["job"]["status"]
    return status


@pytest.mark.timeout(30)
@pytest.mark.parametrize("protocol", PROTOCOLS)
@pytest.mark.parametrize("job_id", ["0123456789abcdef01234567", "not-an-id"])
def test_an_unknown_job_is_a_not_found_error(
    client: TestClient, protocol: str, job_id: str
) -> None:
    with subscribe(client, protocol, job_id) as ws:
        kind, payload = receive(ws, protocol)
    errors = payload if isinstance(payload, list) else [payload]

    assert kind == "error"
    assert errors[0]["extensions"]["code"] == "NOT_FOUND"
    assert events_of(client).listener_count == 0


async def watch_over_network(ws_url: str, job_id: str) -> dict[str, Any]:
    async with websockets.connect(
        ws_url, subprotocols=[websockets.Subprotocol("graphql-transport-ws")]
    ) as ws:
        await ws.send(json.dumps({"type": "connection_init"}))
        assert json.loads(await ws.recv())["type"] == "connection_ack"
        payload = {"query": PROGRESS, "variables": {"id": job_id}}
        await ws.send(json.dumps({"id": "1", "type": "subscribe", "payload": payload}))
        last: dict[str, Any] = {}
        async for raw in ws:
            message = json.loads(raw)
            if message["type"] != "next":
                assert message["type"] == "complete", message
                return last
            last = message["payload"]["data"]["jobProgress"]
    raise AssertionError("the connection closed before the subscription completed")


@pytest.mark.timeout(60)
async def test_a_hundred_subscribers_all_receive_the_terminal_state(
    live_server: str, case_server: str
) -> None:
    slow = [f"{case_server}/h18/slow-a.png", f"{case_server}/h18/slow-b.png"]
    visit = {"store_id": "RP00101", "image_url": slow, "visit_time": "2024-06-01"}
    async with httpx.AsyncClient() as http:
        response = await http.post(
            f"{live_server}/api/submit/", json={"count": 1, "visits": [visit]}
        )
    job_id = response.json()["job_id"]
    ws_url = live_server.replace("http://", "ws://") + "/graphql"

    finals = await asyncio.gather(
        *(watch_over_network(ws_url, job_id) for _ in range(100))
    )

    assert len(finals) == 100
    assert {f["status"] for f in finals} == {"COMPLETED"}
    assert {f["progress"]["done"] for f in finals} == {2}


@pytest.mark.timeout(60)
def test_a_burst_of_changes_is_coalesced_to_about_ten_messages_a_second(
    make_client: Callable[..., TestClient], image_server: str
) -> None:
    client = make_client(processing_delay="0.001-0.01", concurrency=8)
    url = f"{image_server}/png_1x1_palette.png"
    job_id = submit(client, {"RP00001": [url] * 300})

    with subscribe(client, "graphql-transport-ws", job_id, BAR) as ws:
        arrivals = []
        while True:
            kind, payload = receive(ws, "graphql-transport-ws")
            if kind != "data":
                break
            arrivals.append((time.monotonic(), payload["data"]["jobProgress"]))

    gaps = [later[0] - earlier[0] for earlier, later in itertools.pairwise(arrivals)]
    done = [job["progress"]["done"] for _, job in arrivals]
    assert arrivals[-1][1]["status"] == "COMPLETED"
    assert done[-1] == 300 and done == sorted(done)
    assert len(arrivals) <= (arrivals[-1][0] - arrivals[0][0]) * 10 + 2, gaps


@pytest.mark.timeout(30)
def test_a_cancelled_job_ends_the_stream_with_its_cancelled_state(
    make_client: Callable[..., TestClient], case_server: str
) -> None:
    client = make_client()
    slow = [f"{case_server}/h18/slow-a.png", f"{case_server}/h18/slow-b.png"]
    job_id = submit(client, {"RP00101": slow})
    cancel = "mutation($id: ID!) { cancelJob(id: $id) { userErrors { code } } }"

    with subscribe(client, "graphql-transport-ws", job_id) as ws:
        first = receive(ws, "graphql-transport-ws")
        graphql(client, cancel, {"id": job_id})
        jobs, ending = follow(ws, "graphql-transport-ws")

    assert first[1]["data"]["jobProgress"]["status"] in ("PENDING", "ONGOING")
    assert ending == "complete"
    assert jobs[-1]["status"] == "CANCELLED"
    assert jobs[-1]["progress"]["cancelled"] == 2
