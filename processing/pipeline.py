"""One image from URL to result: fetch it, then measure it off the event loop."""

from __future__ import annotations

import asyncio

from processing import metrics
from processing.errors import ProcessingError
from processing.fetch import Fetcher
from processing.jobs import ImageResult
from processing.measure import measure


class ImagePipeline:
    """Callable turning a URL into an :class:`ImageResult`.

    Raises :class:`ProcessingError` carrying ``attempts``, the downloads tried.
    """

    def __init__(self, fetcher: Fetcher, max_pixels: int) -> None:
        self.fetcher = fetcher
        self.max_pixels = max_pixels

    async def __call__(self, url: str) -> ImageResult:
        with metrics.DOWNLOAD_SECONDS.time():
            fetched = await self.fetcher.fetch(url)
        attempts = fetched.attempts
        try:
            found = await asyncio.to_thread(
                measure, fetched.data, max_pixels=self.max_pixels, url=url
            )
        except ProcessingError as error:
            error.attempts = attempts
            raise
        finally:
            del fetched  # the bytes are not needed past measuring
        return ImageResult(
            width=found.width,
            height=found.height,
            format=found.format,
            orientation=found.orientation,
            frames=found.frames,
            attempts=attempts,
        )
