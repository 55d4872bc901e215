from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

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


@pytest.mark.timeout(60)
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
    assert completed.stdout.splitlines()[-1] == (
        "completed: 1 done, 0 failed, 0 cancelled of 1 images"
    )
    assert failed.returncode == 1, failed.stderr
    assert failed.stdout.splitlines()[-1] == (
        "failed: 0 done, 1 failed, 0 cancelled of 1 images"
    )
    assert "  store RP00001: " in failed.stdout
    assert "nothing-here.png" in failed.stdout and "HTTP_ERROR" in failed.stdout
    assert rejected.returncode == 2
    assert rejected.stdout == ""
    assert rejected.stderr.count("\n") == 1
    assert "is not an http or https URL" in rejected.stderr


@pytest.mark.timeout(60)
def test_submit_watch_draws_live_progress_then_the_results(
    live_server: str, case_server: str, tmp_path: Path
) -> None:
    slow = [f"{case_server}/h18/slow-a.png", f"{case_server}/h18/slow-b.png"]
    job = write_job(tmp_path, "RP00101", [*slow, f"{case_server}/h15/empty.jpg"])

    result = imagejobs("submit", str(job), "--watch", "--url", live_server)

    lines = result.stdout.splitlines()
    bars = [line for line in lines if line.startswith("[")]
    assert result.returncode == 1, result.stderr
    assert len(lines[0]) == 24  # the job id comes first, alone
    assert len(bars) >= 2 and "0/3 images" in bars[0]
    assert "[" + "#" * 30 + "] 2/3 images, 1 failed" in bars[-1]
    assert re.search(r"slow-a\.png +DONE +30x20 +100", result.stdout)
    assert re.search(r"empty\.jpg +FAILED +NOT_AN_IMAGE", result.stdout)
    assert lines[-1] == "failed: 2 done, 1 failed, 0 cancelled of 3 images"


@pytest.mark.timeout(60)
def test_submit_watch_exits_1_when_the_job_is_cancelled(
    live_server: str, case_server: str, tmp_path: Path
) -> None:
    slow = [f"{case_server}/h18/slow-a.png", f"{case_server}/h18/slow-b.png"]
    job = write_job(tmp_path, "RP00101", slow)
    command = [sys.executable, "-m", "imagejobs", "submit", str(job), "--watch"]
    with subprocess.Popen(
        [*command, "--url", live_server], stdout=subprocess.PIPE, text=True, cwd=REPO
    ) as watcher:
        assert watcher.stdout is not None
        job_id = watcher.stdout.readline().strip()
        cancel = {
            "query": "mutation($id: ID!) { cancelJob(id: $id) { job { status } } }",
            "variables": {"id": job_id},
        }
        httpx.post(f"{live_server}/graphql", json=cancel).raise_for_status()
        output, _ = watcher.communicate(timeout=30)

    assert watcher.returncode == 1
    assert output.splitlines()[-1] == (
        "cancelled: 0 done, 0 failed, 2 cancelled of 2 images"
    )


@pytest.mark.timeout(60)
def test_the_sample_job_completes_with_watch(live_server: str, tmp_path: Path) -> None:
    # The sample job names the default address; this service has its own port.
    sample = (REPO / "examples" / "sample-job.json").read_text()
    job = tmp_path / "sample-job.json"
    job.write_text(sample.replace("http://127.0.0.1:8000", live_server))

    result = imagejobs("submit", str(job), "--watch", "--url", live_server)

    assert result.returncode == 0, result.stderr
    assert re.search(r"RP00001 +toucan\.png +DONE +162x150 +624", result.stdout)
    assert re.search(r"RP00001 +cmyk\.jpg +DONE +100x100 +400", result.stdout)
    assert re.search(r"RP00002 +fire\.gif +DONE +30x60 +180", result.stdout)
    assert result.stdout.splitlines()[-1] == (
        "completed: 4 done, 0 failed, 0 cancelled of 4 images"
    )


def test_submit_to_a_dead_server_exits_2(tmp_path: Path) -> None:
    job = write_job(tmp_path, "RP00001", ["http://127.0.0.1:9/a.png"])

    result = imagejobs("submit", str(job), "--url", f"http://127.0.0.1:{free_port()}")

    assert result.returncode == 2
    assert result.stderr.startswith("error: cannot reach the service")


def test_submit_to_something_else_says_so(image_server: str, tmp_path: Path) -> None:
    job = write_job(tmp_path, "RP00001", ["http://127.0.0.1:9/a.png"])

    result = imagejobs("submit", str(job), "--url", image_server)

    assert result.returncode == 2
    assert "without a job id: is it an imagejobs service?" in result.stderr
