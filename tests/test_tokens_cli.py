from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import REPO, run_live_server
from tests.graph.access import ADMIN_TOKEN, rest_job


@pytest.fixture
def secure_server() -> Iterator[str]:
    """The service under uvicorn with auth on, for the CLI."""
    yield from run_live_server(auth_required=True, admin_token=ADMIN_TOKEN)


def imagejobs(*args: str, token: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "IMAGEJOBS_TOKEN"}
    if token is not None:
        env["IMAGEJOBS_TOKEN"] = token
    return subprocess.run(
        [sys.executable, "-m", "imagejobs", *args],
        capture_output=True,
        text=True,
        timeout=90,
        cwd=REPO,
        env=env,
    )


def test_tokens_create_list_and_revoke(secure_server: str, tmp_path: Path) -> None:
    url = ["--url", secure_server]
    admin = ["--token", ADMIN_TOKEN]
    job = tmp_path / "job.json"
    job.write_text(json.dumps(rest_job()))

    created = imagejobs(
        "tokens", "create", "--role", "user", "--name", "app", *url, *admin
    )
    secret = created.stdout.strip().splitlines()[-1]
    taken = imagejobs(
        "tokens", "create", "--role", "admin", "--name", "app", *url, *admin
    )
    listed = imagejobs("tokens", "list", *url, token=ADMIN_TOKEN)
    submitted = imagejobs("submit", str(job), *url, token=secret)
    as_user = imagejobs("tokens", "list", *url, "--token", secret)
    revoked = imagejobs("tokens", "revoke", "app", *url, *admin)
    again = imagejobs("tokens", "revoke", "app", *url, *admin)
    after = imagejobs("submit", str(job), *url, "--token", secret)

    assert created.returncode == 0, created.stderr
    assert secret.startswith("ij_") and " " not in secret
    assert taken.returncode == 2
    assert "NAME_TAKEN" in taken.stderr
    assert listed.stdout.startswith("app\tuser\t")
    assert secret not in listed.stdout
    assert submitted.returncode == 0, submitted.stderr
    assert as_user.returncode == 2
    assert "admin token" in as_user.stderr
    assert revoked.stdout.strip() == "token 'app' revoked"
    assert again.returncode == 2
    assert after.returncode == 2
    assert "Bearer" in after.stderr


def test_tokens_without_a_token_are_refused(secure_server: str) -> None:
    result = imagejobs("tokens", "list", "--url", secure_server)

    assert result.returncode == 2
    assert result.stderr.startswith("error: a valid API token is required")
