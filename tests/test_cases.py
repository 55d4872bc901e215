"""Every input in shared/cases, submitted to the running service.

Each case's placeholder store ids (S1, CTRL, ...) get real ids from the store
master; ``{BASE}`` is shared/cases/case_server.py, run as its own process.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
from starlette.testclient import TestClient

from tests.conftest import wait_for_job
from tests.shared import load_manifest
from tests.stubs import RecordingTransport, StubResolver

CASES = {case["id"]: case for case in load_manifest("cases")}
ERROR_CODES = {
    "image_too_large": "TOO_LARGE",
    "download_too_large": "TOO_LARGE",
    "unsupported_format": "UNSUPPORTED_FORMAT",
    "not_an_image": "NOT_AN_IMAGE",
    "empty_body": "NOT_AN_IMAGE",
    "timeout": "TIMEOUT",
    "too_many_redirects": "TOO_MANY_REDIRECTS",
    "blocked_destination": "BLOCKED_SOURCE",
}
CONTROL = (40, 30, 140)
RUN_IN_SERVICE = [
    c
    for c in CASES
    if c not in ("h13-redirect-to-link-local-metadata", "h17-file-and-data-scheme-urls")
]


def real_ids() -> Iterator[str]:
    return (f"RP{n:05d}" for n in itertools.count(101))


def case_job(
    case: dict[str, Any], base: str, ids: Iterator[str]
) -> tuple[list[dict[str, Any]], dict[str, str]]:
    """The case's visits in the REST shape, and placeholder -> real store id."""
    names: dict[str, str] = {}
    visits = []
    for store in case["job"]["stores"]:
        names[store["store_id"]] = next(ids)
        visits.append(
            {
                "store_id": names[store["store_id"]],
                "image_url": [u.replace("{BASE}", base) for u in store["image_urls"]],
                "visit_time": "2024-06-01T10:00:00Z",
            }
        )
    return visits, names


def expected_images(case: dict[str, Any]) -> dict[tuple[str, int], tuple[int, ...]]:
    """Size of each image the case pins down, by (placeholder, position)."""
    expected = case["expected"]
    sizes: dict[tuple[str, int], tuple[int, ...]] = {}
    for store in case["job"]["stores"]:
        if store["store_id"] == "CTRL":
            for position in range(len(store["image_urls"])):
                sizes[("CTRL", position)] = CONTROL
    if "width" not in expected:
        return sizes
    size = (expected["width"], expected["height"], expected["perimeter"])
    case_id = case["id"]
    if case_id.startswith("h16"):
        sizes.update({("S1", 0): size, ("S1", 1): CONTROL, ("S1", 2): size})
    elif case_id.startswith("h19"):
        sizes.update({("A", 0): size, ("A", 1): (44, 22, 132)})
    else:
        sizes[("S1", 0)] = size
    if case_id.startswith("h14"):
        sizes[("S2", 0)] = (33, 21, 108)
    return sizes


def failing_store(case: dict[str, Any]) -> tuple[str, str] | None:
    expected = case["expected"]
    if "error_class" not in expected:
        return None
    return expected.get("store", "S1"), ERROR_CODES[expected["error_class"]]


def check_case(
    case: dict[str, Any], job: dict[str, Any], names: dict[str, str]
) -> None:
    by_store = {v["storeId"]: v["images"] for v in job["visits"]}
    for (placeholder, position), size in expected_images(case).items():
        image = by_store[names[placeholder]][position]
        assert image["status"] == "DONE", (case["id"], placeholder, image)
        assert (image["width"], image["height"], image["perimeter"]) == size
    failing = failing_store(case)
    errors = {e["storeId"] for e in job["errors"]}
    if failing is None:
        assert errors == set(), (case["id"], job["errors"])
        return
    placeholder, code = failing
    assert errors == {names[placeholder]}, (case["id"], job["errors"])
    codes = {i["errorCode"] for i in by_store[names[placeholder]]}
    assert codes == {code}, (case["id"], by_store[names[placeholder]])


@pytest.mark.parametrize("case_id", RUN_IN_SERVICE)
def test_case_gives_its_expected_result(
    client: TestClient, case_server: str, case_id: str
) -> None:
    case = CASES[case_id]
    visits, names = case_job(case, case_server, real_ids())

    response = client.post(
        "/api/submit/", json={"count": len(visits), "visits": visits}
    )
    job = wait_for_job(client, response.json()["job_id"], timeout=90)

    check_case(case, job, names)
    assert job["status"] == ("FAILED" if failing_store(case) else "COMPLETED")
    if case_id.startswith("h14"):  # a slow drip is not tried again
        drip = next(v for v in job["visits"] if v["storeId"] == names["S1"])
        assert drip["images"][0]["attempts"] == 1


def test_redirect_loop_is_not_retried(client: TestClient, case_server: str) -> None:
    before = httpx.get(f"{case_server}/_hits").json().get("/h12/loop.jpg", 0)
    visit = {
        "store_id": "RP00001",
        "image_url": [f"{case_server}/h12/loop.jpg"],
        "visit_time": "t",
    }

    job_id = client.post("/api/submit/", json={"count": 1, "visits": [visit]}).json()
    wait_for_job(client, job_id["job_id"])

    hits = httpx.get(f"{case_server}/_hits").json()["/h12/loop.jpg"] - before
    assert hits <= CASES["h12-redirect-loop"]["expected"]["max_server_hits"]


def test_every_case_in_one_job_fails_exactly_the_bad_stores(
    client: TestClient, case_server: str
) -> None:
    ids = real_ids()
    visits: list[dict[str, Any]] = []
    names_by_case = {}
    for case_id in RUN_IN_SERVICE:
        case_visits, names_by_case[case_id] = case_job(CASES[case_id], case_server, ids)
        visits += case_visits

    response = client.post(
        "/api/submit/", json={"count": len(visits), "visits": visits}
    )
    job = wait_for_job(client, response.json()["job_id"], timeout=120)

    bad = set()
    for case_id in RUN_IN_SERVICE:
        case, names = CASES[case_id], names_by_case[case_id]
        mine = {names[p] for p in names}
        check_case(
            case,
            {**job, "errors": [e for e in job["errors"] if e["storeId"] in mine]},
            names,
        )
        failing = failing_store(case)
        if failing:
            bad.add(names[failing[0]])
    assert job["status"] == "FAILED"
    assert {e["storeId"] for e in job["errors"]} == bad


def test_non_http_urls_are_rejected_before_anything_is_stored(
    client: TestClient, case_server: str
) -> None:
    case = CASES["h17-file-and-data-scheme-urls"]
    visits, _ = case_job(case, case_server, real_ids())

    rest = client.post("/api/submit/", json={"count": len(visits), "visits": visits})

    assert rest.status_code == 400
    assert "visits[1].image_url[0]: 'file:///etc/hostname'" in rest.json()["error"]
    assert "visits[1].image_url[1]: 'data:image/png" in rest.json()["error"]
    jobs = client.post("/graphql", json={"query": "{ jobs { edges { cursor } } }"})
    assert jobs.json()["data"]["jobs"]["edges"] == []


BASE = "http://images.test"
METADATA_HOSTS = {"169.254.169.254", "2852039166"}


def redirect_to(location: str) -> Callable[[httpx.Request], httpx.Response]:
    return lambda request: httpx.Response(302, headers={"Location": location})


def test_redirect_to_cloud_metadata_is_blocked_without_a_packet(
    make_client: Callable[..., TestClient], shared: Any
) -> None:
    control = (shared / "cases" / "files" / "control_ok.png").read_bytes()
    transport = RecordingTransport(
        {
            f"{BASE}/h13/redirect.jpg": redirect_to(
                "http://169.254.169.254/latest/meta-data/"
            ),
            f"{BASE}/h13/redirect-decimal.jpg": redirect_to(
                "http://2852039166/latest/meta-data/"
            ),
            f"{BASE}/files/control_ok.png": lambda r: httpx.Response(
                200, content=control, headers={"Content-Type": "image/png"}
            ),
        }
    )
    resolver = StubResolver({"images.test": [["93.184.216.34"]]})
    client = make_client(transport=transport, resolver=resolver)
    case = CASES["h13-redirect-to-link-local-metadata"]
    visits, names = case_job(case, BASE, real_ids())

    response = client.post(
        "/api/submit/", json={"count": len(visits), "visits": visits}
    )
    job = wait_for_job(client, response.json()["job_id"])

    check_case(case, job, names)
    assert not METADATA_HOSTS & set(transport.hosts())
    assert not METADATA_HOSTS & set(resolver.calls)
