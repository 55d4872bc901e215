from __future__ import annotations

import json

import pytest
from starlette.testclient import TestClient

from tests.conftest import REPO

SAMPLE_JOB = REPO / "examples" / "sample-job.json"


@pytest.mark.parametrize(
    ("name", "content_type"),
    [
        ("toucan.png", "image/png"),
        ("cmyk.jpg", "image/jpeg"),
        ("fire.gif", "image/gif"),
    ],
)
def test_the_service_serves_its_sample_images(
    client: TestClient, name: str, content_type: str
) -> None:
    response = client.get(f"/samples/{name}")

    assert response.status_code == 200
    assert response.headers["content-type"] == content_type
    assert response.content == (REPO / "imagejobs" / "samples" / name).read_bytes()


@pytest.mark.parametrize("name", ["CREDITS.md", "nothing.png", "..%2Fcli.py", "%2E%2E"])
def test_only_the_sample_images_are_served(client: TestClient, name: str) -> None:
    assert client.get(f"/samples/{name}").status_code == 404


def test_the_sample_job_uses_only_images_the_default_service_serves(
    client: TestClient,
) -> None:
    payload = json.loads(SAMPLE_JOB.read_text())
    urls = [url for visit in payload["visits"] for url in visit["image_url"]]

    assert payload["count"] == len(payload["visits"])
    for url in urls:
        assert url.startswith("http://127.0.0.1:8000/samples/")
        assert client.get(url.removeprefix("http://127.0.0.1:8000")).status_code == 200
