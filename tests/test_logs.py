from __future__ import annotations

import json
import logging
from collections.abc import Iterator

import pytest

from imagejobs.logs import JsonFormatter, configure_logging
from processing.journal import url_host


@pytest.fixture
def restore_root() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


def record(message: str, *args: object, **extra: object) -> logging.LogRecord:
    made = logging.LogRecord(
        "processing.jobs", logging.INFO, "f", 1, message, args, None
    )
    made.__dict__.update(extra)
    return made


def test_a_json_line_has_time_level_logger_message_and_extra_fields() -> None:
    line = JsonFormatter().format(record("job started: %s", "j1", job_id="j1"))

    entry = json.loads(line)

    assert entry.pop("time").endswith("+00:00")
    assert entry == {
        "level": "INFO",
        "logger": "processing.jobs",
        "message": "job started: j1",
        "job_id": "j1",
    }


def test_a_json_line_carries_the_traceback() -> None:
    try:
        raise ValueError("boom")
    except ValueError as error:
        made = record("image failed")
        made.exc_info = (type(error), error, error.__traceback__)

    entry = json.loads(JsonFormatter().format(made))

    assert "ValueError: boom" in entry["exception"]


@pytest.mark.usefixtures("restore_root")
def test_json_format_installs_one_json_handler_and_quiets_httpx() -> None:
    configure_logging("debug", "json")

    root = logging.getLogger()
    assert len(root.handlers) == 1
    assert isinstance(root.handlers[0].formatter, JsonFormatter)
    assert root.level == logging.DEBUG
    assert logging.getLogger("httpx").level == logging.WARNING


@pytest.mark.parametrize(
    ("url", "host"),
    [
        ("https://cdn.example.com/a.jpg?X-Amz-Signature=abc", "cdn.example.com"),
        ("http://user:pw@127.0.0.1:8080/a.png?token=t", "127.0.0.1:8080"),
        ("http://[::1]:9/x", "[::1]:9"),
        ("not a url", "?"),
        ("http://host:99999999/", "?"),
    ],
)
def test_a_log_line_names_only_the_host_of_an_image_url(url: str, host: str) -> None:
    assert url_host(url) == host
