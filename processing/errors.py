"""Why an image could not be processed.

Every failure of one image is a :class:`ProcessingError`; each subclass maps
to one stable ``Image.errorCode`` from CONTRACT.md and says whether trying
again may help::

    ProcessingError                 DOWNLOAD_FAILED (transient)
    ├── UnknownStore                UNKNOWN_STORE
    ├── InvalidUrl                  INVALID_URL
    ├── BlockedSource               BLOCKED_SOURCE
    ├── HttpStatusError             HTTP_ERROR (transient for 429 and 5xx)
    ├── TooManyRedirects            TOO_MANY_REDIRECTS
    ├── FetchTimeout                TIMEOUT (transient)
    │   └── DeadlineExceeded        TIMEOUT: the whole attempt ran past
    │                               FETCH_DEADLINE (a slow drip; not retried)
    ├── TooLarge                    TOO_LARGE
    ├── NotAnImage                  NOT_AN_IMAGE
    ├── UnsupportedFormat           UNSUPPORTED_FORMAT
    └── CorruptImage                CORRUPT_IMAGE
"""

from __future__ import annotations

from typing import ClassVar


class ProcessingError(Exception):
    """One image failed; ``code`` is its contract error code."""

    code: ClassVar[str] = "DOWNLOAD_FAILED"
    transient: ClassVar[bool] = True

    def __init__(self, message: str, *, url: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.url = url
        self.retry_after: float | None = None
        self.attempts = 0  # downloads tried, set by the fetcher

    @property
    def is_transient(self) -> bool:
        return self.transient


class DownloadFailed(ProcessingError):
    code = "DOWNLOAD_FAILED"


class UnknownStore(ProcessingError):
    code = "UNKNOWN_STORE"
    transient = False


class InvalidUrl(ProcessingError):
    code = "INVALID_URL"
    transient = False


class BlockedSource(ProcessingError):
    code = "BLOCKED_SOURCE"
    transient = False


class HttpStatusError(ProcessingError):
    code = "HTTP_ERROR"

    def __init__(self, status: int, *, url: str | None = None) -> None:
        super().__init__(f"the server answered HTTP {status}", url=url)
        self.status = status

    @property
    def is_transient(self) -> bool:
        return self.status == 429 or self.status >= 500


class TooManyRedirects(ProcessingError):
    code = "TOO_MANY_REDIRECTS"
    transient = False


class FetchTimeout(ProcessingError):
    code = "TIMEOUT"


class DeadlineExceeded(FetchTimeout):
    # A server that dribbles bytes for the whole deadline will do it again:
    # retrying would only hold a download slot attempts times as long.
    transient = False


class TooLarge(ProcessingError):
    code = "TOO_LARGE"
    transient = False


class NotAnImage(ProcessingError):
    code = "NOT_AN_IMAGE"
    transient = False


class UnsupportedFormat(ProcessingError):
    code = "UNSUPPORTED_FORMAT"
    transient = False


class CorruptImage(ProcessingError):
    code = "CORRUPT_IMAGE"
    transient = False
