"""Following a job live over the ``jobProgress`` subscription.

The client speaks ``graphql-transport-ws`` on the service's ``/graphql``
WebSocket and draws a progress bar from each snapshot the service sends.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any, TextIO

import websockets
from websockets.asyncio.client import ClientConnection
from websockets.typing import Subprotocol

from imagejobs.cli import CommandError

PROTOCOL = Subprotocol("graphql-transport-ws")
PROGRESS = """
subscription Progress($id: ID!) {
  jobProgress(id: $id) { id status progress { total done failed cancelled } }
}
"""
BAR_WIDTH = 30


def websocket_url(url: str) -> str:
    """The service's GraphQL WebSocket address for its base ``url``."""
    base = url.rstrip("/")
    for http, ws in (("https://", "wss://"), ("http://", "ws://")):
        if base.startswith(http):
            return ws + base.removeprefix(http) + "/graphql"
    raise CommandError(f"the service URL must be http or https, not {url!r}")


async def follow(url: str, token: str | None, job_id: str) -> AsyncIterator[Any]:
    """Each snapshot of the job, the terminal one last.

    Raises :class:`CommandError` when the service cannot be reached, refuses
    the subscription, or goes away before the job ends.
    """
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    try:
        async with websockets.connect(
            websocket_url(url), subprotocols=[PROTOCOL], additional_headers=headers
        ) as ws:
            await _start(ws, token, job_id)
            async for job in _snapshots(ws):
                yield job
    except (OSError, websockets.InvalidHandshake, TimeoutError) as error:
        raise CommandError(f"cannot reach the service at {url}: {error}") from None
    except websockets.ConnectionClosed:
        raise CommandError("the service closed the connection mid-job") from None


async def _start(ws: ClientConnection, token: str | None, job_id: str) -> None:
    init: dict[str, Any] = {"type": "connection_init"}
    if token:
        init["payload"] = {"Authorization": f"Bearer {token}"}
    await ws.send(json.dumps(init))
    reply = json.loads(await ws.recv())
    if reply.get("type") != "connection_ack":
        raise CommandError(f"the service refused the subscription: {reply}")
    payload = {"query": PROGRESS, "variables": {"id": job_id}}
    await ws.send(json.dumps({"id": "1", "type": "subscribe", "payload": payload}))


async def _snapshots(ws: ClientConnection) -> AsyncIterator[Any]:
    async for raw in ws:
        message = json.loads(raw)
        kind = message.get("type")
        if kind == "ping":
            await ws.send(json.dumps({"type": "pong"}))
        elif kind == "next":
            yield _job_of(message["payload"])
        elif kind == "error":
            raise CommandError(_messages(message.get("payload") or []))
        elif kind == "complete":
            return
    raise CommandError("the service closed the connection before the job ended")


def _job_of(payload: dict[str, Any]) -> Any:
    if payload.get("errors"):
        raise CommandError(_messages(payload["errors"]))
    return payload["data"]["jobProgress"]


def _messages(errors: list[dict[str, Any]]) -> str:
    return "; ".join(e.get("message", "?") for e in errors) or "unknown error"


@dataclass
class ProgressBar:
    """Draws ``[####----] done/total images, failed, rate`` as snapshots come.

    On a terminal the bar is redrawn in place; elsewhere (a pipe, a log) each
    drawing is its own line.
    """

    out: TextIO = field(default_factory=lambda: sys.stdout)
    started: float = field(default_factory=time.monotonic)
    first_finished: int | None = None
    drawn: bool = False

    def draw(self, job: Any) -> None:
        line = self.render(job["progress"])
        if self.out.isatty():
            self.out.write("\r" + line + "\x1b[K")  # clear what is left
        else:
            self.out.write(line + "\n")
        self.out.flush()
        self.drawn = True

    def close(self) -> None:
        if self.drawn and self.out.isatty():
            self.out.write("\n")
            self.out.flush()

    def render(self, progress: dict[str, int]) -> str:
        total = progress["total"]
        finished = progress["done"] + progress["failed"] + progress["cancelled"]
        filled = BAR_WIDTH * finished // total if total else BAR_WIDTH
        bar = "#" * filled + "-" * (BAR_WIDTH - filled)
        return (
            f"[{bar}] {progress['done']}/{total} images, "
            f"{progress['failed']} failed, {self.rate(finished)}"
        )

    def rate(self, finished: int) -> str:
        if self.first_finished is None:
            self.first_finished = finished
            self.started = time.monotonic()
        elapsed = time.monotonic() - self.started
        if elapsed < 0.2:
            return "-- images/s"
        return f"{(finished - self.first_finished) / elapsed:.1f} images/s"
