from __future__ import annotations

from collections.abc import Callable

from prometheus_client.parser import text_string_to_metric_families
from starlette.testclient import TestClient

from graph.context import Services
from graph.ops import tcp_reachable
from tests.conftest import free_port, wait_for_job

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def scrape(client: TestClient) -> Samples:
    response = client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
    }


def submit(client: TestClient, urls: list[str], store: str = "RP00001") -> str:
    visit = {"store_id": store, "visit_time": "2024-06-01", "image_url": urls}
    response = client.post("/api/submit/", json={"count": 1, "visits": [visit]})
    job_id: str = response.json()["job_id"]
    return job_id


def test_health_answers_while_the_process_runs(client: TestClient) -> None:
    response = client.get("/healthz")

    assert (response.status_code, response.json()) == (200, {"status": "ok"})


def test_ready_when_the_database_answers(client: TestClient) -> None:
    response = client.get("/readyz")

    assert (response.status_code, response.json()) == (200, {"database": True})


def test_not_ready_while_a_registered_check_fails(client: TestClient) -> None:
    async def broker_down() -> bool:
        return False

    services: Services = client.app.state.services  # type: ignore[attr-defined]
    services.readiness_checks["broker"] = broker_down

    response = client.get("/readyz")

    assert response.status_code == 503
    assert response.json() == {"database": True, "broker": False}


def test_a_check_that_raises_counts_as_failing(client: TestClient) -> None:
    async def broken() -> bool:
        raise ConnectionError("no route")

    services: Services = client.app.state.services  # type: ignore[attr-defined]
    services.readiness_checks["broker"] = broken

    assert client.get("/readyz").status_code == 503


async def test_a_closed_port_is_not_reachable() -> None:
    assert not await tcp_reachable(f"amqp://127.0.0.1:{free_port()}/", 5672)


def test_metrics_count_jobs_images_and_download_times(
    client: TestClient, image_server: str
) -> None:
    before = scrape(client)
    good = f"{image_server}/png_gray_alpha_16x16.png"
    done_job = submit(client, [good, good])
    failed_job = submit(client, [f"{image_server}/missing.png"])
    wait_for_job(client, done_job)
    wait_for_job(client, failed_job)

    after = scrape(client)

    def grew(name: str, **labels: str) -> float:
        key = (name, tuple(sorted(labels.items())))
        return after.get(key, 0) - before.get(key, 0)

    assert grew("imagejobs_jobs_finished_total", status="COMPLETED") == 1
    assert grew("imagejobs_jobs_finished_total", status="FAILED") == 1
    assert grew("imagejobs_images_total", outcome="done", code="") == 2
    assert grew("imagejobs_images_total", outcome="failed", code="HTTP_ERROR") == 1
    assert grew("imagejobs_image_download_seconds_count") == 3
    assert grew("imagejobs_image_seconds_count") == 3
    assert after[("imagejobs_queue_depth", ())] == 0
    assert ("imagejobs_images_in_flight", ()) in after
    assert ("imagejobs_subscribers", ()) in after


def test_unknown_store_images_count_as_failed(
    make_client: Callable[..., TestClient],
) -> None:
    client = make_client()
    before = scrape(client)
    key = ("imagejobs_images_total", (("code", "UNKNOWN_STORE"), ("outcome", "failed")))

    wait_for_job(client, submit(client, ["http://127.0.0.1:9/a.png"], store="NOPE"))

    assert scrape(client)[key] - before.get(key, 0) == 1
