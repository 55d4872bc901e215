from __future__ import annotations

import io

import pytest

from imagejobs.cli import CommandError
from imagejobs.watch import ProgressBar, follow, websocket_url
from tests.conftest import free_port


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("http://127.0.0.1:8000", "ws://127.0.0.1:8000/graphql"),
        ("https://jobs.example.com/", "wss://jobs.example.com/graphql"),
    ],
)
def test_the_websocket_address_follows_the_service_url(url: str, expected: str) -> None:
    assert websocket_url(url) == expected


def test_a_service_url_must_be_http() -> None:
    with pytest.raises(CommandError, match="must be http or https"):
        websocket_url("ftp://127.0.0.1")


def test_the_bar_shows_done_of_total_and_failed() -> None:
    out = io.StringIO()
    bar = ProgressBar(out=out)

    bar.draw({"progress": {"total": 4, "done": 1, "failed": 1, "cancelled": 0}})
    bar.close()

    assert out.getvalue() == (
        "[###############---------------] 1/4 images, 1 failed, -- images/s\n"
    )


@pytest.mark.timeout(30)
async def test_following_an_unknown_job_says_so(live_server: str) -> None:
    with pytest.raises(CommandError, match="no job with id"):
        async for _ in follow(live_server, None, "0123456789abcdef01234567"):
            pass


@pytest.mark.timeout(30)
async def test_following_on_a_dead_server_cannot_reach_it() -> None:
    with pytest.raises(CommandError, match="cannot reach the service"):
        async for _ in follow(f"http://127.0.0.1:{free_port()}", None, "x"):
            pass
