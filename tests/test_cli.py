from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests.conftest import REPO, free_port


def imagejobs(*args: str, timeout: float = 90) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "imagejobs", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=REPO,
    )


def write_job(tmp_path: Path, store_id: str, urls: list[str]) -> Path:
    path = tmp_path / "job.json"
    visit = {"store_id": store_id, "image_url": urls, "visit_time": "2024-06-01"}
    path.write_text(json.dumps({"count": 1, "visits": [visit]}))
    return path


def test_schema_prints_the_checked_in_sdl() -> None:
    result = imagejobs("schema")

    assert result.returncode == 0
    assert result.stdout == (REPO / "schema.graphql").read_text()


def test_stores_load_sends_the_csv_to_the_server(
    live_server: str, shared: Path
) -> None:
    legacy = shared / "data" / "StoreMasterAssignment_legacy_2020.csv"

    first = imagejobs("stores", "load", str(legacy), "--url", live_server)
    again = imagejobs("stores", "load", str(legacy), "--url", live_server)

    assert first.returncode == 0, first.stderr
    assert first.stdout.strip() == "stores loaded 4944, updated 0, rows skipped 0"
    assert again.stdout.strip() == "stores loaded 0, updated 0, rows skipped 0"


def test_stores_load_rejects_a_file_without_the_header(
    live_server: str, tmp_path: Path
) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text("id,name\n1,x\n")

    result = imagejobs("stores", "load", str(bad), "--url", live_server)

    assert result.returncode == 2
    assert "INVALID_CSV" in result.stderr


def test_submit_watch_exit_codes(
    live_server: str, image_server: str, tmp_path: Path
) -> None:
    good = write_job(tmp_path, "RP00001", [f"{image_server}/png_1x1_palette.png"])
    completed = imagejobs("submit", str(good), "--watch", "--url", live_server)
    bad = write_job(tmp_path, "RP00001", [f"{image_server}/nothing-here.png"])
    failed = imagejobs("submit", str(bad), "--watch", "--url", live_server)
    rejected_job = write_job(tmp_path, "RP00001", ["ftp://example.com/a.png"])
    rejected = imagejobs("submit", str(rejected_job), "--url", live_server)

    assert completed.returncode == 0, completed.stderr
    assert "completed: 1 done, 0 failed, 0 cancelled of 1 images" in completed.stdout
    assert failed.returncode == 1
    assert "failed: 0 done, 1 failed" in failed.stdout
    assert "store RP00001:" in failed.stdout
    assert rejected.returncode == 2
    assert "is not an http or https URL" in rejected.stderr


def test_submit_to_a_dead_server_exits_2(tmp_path: Path) -> None:
    job = write_job(tmp_path, "RP00001", ["http://127.0.0.1:9/a.png"])

    result = imagejobs("submit", str(job), "--url", f"http://127.0.0.1:{free_port()}")

    assert result.returncode == 2
    assert result.stderr.startswith("error: cannot reach the service")
