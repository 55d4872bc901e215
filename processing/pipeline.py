"""One image from URL to result: fetch it, then measure it off the event loop."""

from __future__ import annotations

import asyncio
from contextlib import AsyncExitStack
from dataclasses import dataclass, replace

import httpx

from imagejobs.settings import Settings
from processing import metrics
from processing.addresses import Resolver
from processing.errors import ProcessingError
from processing.fetch import Fetcher, FetchLimits
from processing.images import ImageResult, RetryPolicy
from processing.measure import measure


@dataclass(frozen=True)
class Network:
    """How the fetcher reaches image servers; tests swap in recording stubs."""

    transport: httpx.AsyncBaseTransport | None = None
    resolver: Resolver | None = None


DIRECT = Network()
"""The real network: system DNS, aiohttp transport."""


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
                measure, memoryview(fetched.data), max_pixels=self.max_pixels, url=url
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


def retry_policy(settings: Settings) -> RetryPolicy:
    limits = FetchLimits.from_settings(settings)
    return RetryPolicy(
        attempts=settings.fetch_attempts,
        backoff_base=limits.backoff_base,
        max_retry_after=limits.max_retry_after,
        delay=settings.processing_delay,
    )


async def open_pipeline(
    settings: Settings, stack: AsyncExitStack, network: Network = DIRECT
) -> ImagePipeline:
    """A pipeline whose fetcher lives as long as ``stack``.

    The fetcher tries each download once: retries are the caller's, so that
    waiting out a backoff holds no processing slot.
    """
    limits = replace(FetchLimits.from_settings(settings), attempts=1)
    fetcher = Fetcher(limits, transport=network.transport, resolver=network.resolver)
    await stack.enter_async_context(fetcher)
    return ImagePipeline(fetcher, settings.max_image_pixels)
