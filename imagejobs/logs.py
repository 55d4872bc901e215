"""Log handlers for the entry point: plain text for people, JSON for machines.

Only the ``imagejobs`` command calls :func:`configure_logging`; every module
just logs through ``logging.getLogger(__name__)``. With ``LOG_FORMAT=json``
each record is one JSON object on one line: ``time``, ``level``, ``logger``,
``message``, then the fields the call passed in ``extra`` (``job_id``,
``store_id``, ``url_host``...), and ``exception`` when there is a traceback.
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime

TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"

# Attributes every LogRecord has; anything else on a record came from ``extra``
# (but for uvicorn's copy of its message with terminal colours).
STANDARD_ATTRIBUTES = frozenset(
    vars(logging.LogRecord("", 0, "", 0, "", None, None)).keys()
) | {"message", "asctime", "taskName", "color_message"}

# httpx logs every request's full URL at INFO, an image URL's query string
# (a signed link's secret) included.
QUIET_LOGGERS = ("httpx", "httpcore")


class JsonFormatter(logging.Formatter):
    """One JSON object per record, on one line."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, object] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        entry.update(extra_fields(record))
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str, ensure_ascii=False)


def extra_fields(record: logging.LogRecord) -> dict[str, object]:
    """The fields a logging call added through ``extra``."""
    return {
        key: value
        for key, value in vars(record).items()
        if key not in STANDARD_ATTRIBUTES and not key.startswith("_")
    }


def configure_logging(level: str, log_format: str = "text") -> None:
    """Send every log record to standard error, as text or as JSON lines."""
    handler = logging.StreamHandler()
    if log_format == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter(TEXT_FORMAT))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level.upper())
    for name in QUIET_LOGGERS:
        logging.getLogger(name).setLevel(logging.WARNING)
