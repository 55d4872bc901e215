from __future__ import annotations

from starlette.testclient import TestClient

from tests.conftest import wait_for_job
from tests.shared import load_manifest

IMAGES = load_manifest("images")


def test_every_shared_image_measures_as_its_manifest_says(
    client: TestClient, image_server: str
) -> None:
    visits = [
        {
            "store_id": f"RP{n + 1:05d}",
            "image_url": [f"{image_server}/{e['file']}"],
            "visit_time": "2024-06-01",
        }
        for n, e in enumerate(IMAGES)
    ]

    response = client.post(
        "/api/submit/", json={"count": len(visits), "visits": visits}
    )
    job = wait_for_job(client, response.json()["job_id"], timeout=120)

    measured = {
        v["images"][0]["url"].rsplit("/", 1)[1]: v["images"][0] for v in job["visits"]
    }
    for entry in IMAGES:
        image = measured[entry["file"]]
        if entry["display_width"] is None:
            assert image["errorCode"] == "UNSUPPORTED_FORMAT", entry["file"]
            continue
        size = (image["width"], image["height"])
        assert size == (entry["display_width"], entry["display_height"]), entry["file"]
        assert image["perimeter"] == 2 * sum(size)
    assert {e["storeId"] for e in job["errors"]} == {
        f"RP{n + 1:05d}" for n, e in enumerate(IMAGES) if e["display_width"] is None
    }
