"""A service with auth on, its tokens, and calls made as each of them."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from starlette.testclient import TestClient

from tests.stubs import RecordingTransport, StubResolver

ADMIN_TOKEN = "admin-secret-for-tests-0123456789"
GOOD_URL = "http://images.test/a.png"

CREATE_TOKEN = """
mutation Create($input: CreateApiTokenInput!) {
  createApiToken(input: $input) { token userErrors { field message code } }
}
"""
SUBMIT = """
mutation Submit($input: SubmitJobInput!) {
  submitJob(input: $input) { job { id } userErrors { field message code } }
}
"""


def bearer(token: str | None) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"} if token else {}


def gql(
    client: TestClient,
    query: str,
    variables: dict[str, Any] | None = None,
    token: str | None = None,
) -> dict[str, Any]:
    """The whole GraphQL response body, errors included."""
    response = client.post(
        "/graphql",
        json={"query": query, "variables": variables},
        headers=bearer(token),
    )
    body: dict[str, Any] = response.json()
    return body


def error_codes(body: dict[str, Any]) -> list[str]:
    return [e.get("extensions", {}).get("code") for e in body.get("errors", [])]


def rest_job(
    store_id: str = "RP00001", urls: list[str] | None = None
) -> dict[str, Any]:
    visit = {"store_id": store_id, "image_url": urls or [GOOD_URL], "visit_time": "t"}
    return {"count": 1, "visits": [visit]}


def graphql_job(store_id: str = "RP00001", **extra: Any) -> dict[str, Any]:
    visit = {"storeId": store_id, "imageUrls": [GOOD_URL], "visitTime": "t"}
    return {"count": 1, "visits": [visit], **extra}


@dataclass
class Service:
    """A running service with auth on: its client and a token per role."""

    client: TestClient
    tokens: dict[str, str | None]

    def create_token(self, name: str, role: str) -> str:
        variables = {"input": {"name": name, "role": role}}
        body = gql(self.client, CREATE_TOKEN, variables, ADMIN_TOKEN)
        token: str = body["data"]["createApiToken"]["token"]
        return token

    def submit(self, token: str | None, job: dict[str, Any] | None = None) -> str:
        response = self.client.post(
            "/api/submit/", json=job or rest_job(), headers=bearer(token)
        )
        assert response.status_code == 201, response.text
        job_id: str = response.json()["job_id"]
        return job_id


def start_secure_service(
    make_client: Callable[..., TestClient], **overrides: Any
) -> Service:
    client = make_client(
        transport=RecordingTransport({}),
        resolver=StubResolver(),
        auth_required=True,
        admin_token=ADMIN_TOKEN,
        **overrides,
    )
    service = Service(client, {"none": None, "unknown": "ij_not-a-token"})
    service.tokens["admin"] = ADMIN_TOKEN
    service.tokens["user"] = service.create_token("field-app", "USER")
    service.tokens["other"] = service.create_token("other-app", "USER")
    service.tokens["admin2"] = service.create_token("ops", "ADMIN")
    return service
