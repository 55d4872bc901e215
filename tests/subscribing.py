"""A WebSocket GraphQL client for tests, speaking either subscription protocol."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from starlette.testclient import TestClient
from starlette.testclient import WebSocketTestSession as Session

PROTOCOLS = ["graphql-transport-ws", "graphql-ws"]
PROGRESS = """
subscription Progress($id: ID!) {
  jobProgress(id: $id) {
    id status finishedAt
    progress { total done failed cancelled pending }
    errors { storeId error }
    visits { storeId images { url status width height perimeter errorCode } }
  }
}
"""
START = {"graphql-transport-ws": "subscribe", "graphql-ws": "start"}
DATA = {"graphql-transport-ws": "next", "graphql-ws": "data"}


@contextmanager
def subscribe(
    client: TestClient, protocol: str, job_id: str, query: str = PROGRESS
) -> Iterator[Session]:
    with client.websocket_connect("/graphql", subprotocols=[protocol]) as ws:
        ws.send_json({"type": "connection_init"})
        assert ws.receive_json()["type"] == "connection_ack"
        payload = {"query": query, "variables": {"id": job_id}}
        ws.send_json({"id": "1", "type": START[protocol], "payload": payload})
        yield ws


def receive(ws: Session, protocol: str) -> tuple[str, Any]:
    while True:
        message = ws.receive_json()
        if message["type"] != "ka":
            break
    kind = "data" if message["type"] == DATA[protocol] else message["type"]
    return kind, message.get("payload")


def follow(ws: Session, protocol: str) -> tuple[list[dict[str, Any]], str]:
    """Every job snapshot until the stream ends, and how it ended."""
    jobs = []
    while True:
        kind, payload = receive(ws, protocol)
        if kind != "data":
            return jobs, kind
        assert "errors" not in payload, payload
        jobs.append(payload["data"]["jobProgress"])
