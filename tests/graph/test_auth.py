from __future__ import annotations

import itertools
import os
import subprocess
import sys
from collections.abc import Callable
from typing import Any

import pytest
from starlette.testclient import TestClient
from starlette.websockets import WebSocketDisconnect

from graph.app import create_app
from graph.auth import StartupRefused, bearer_token, connection_token
from tests.conftest import REPO, service_settings
from tests.graph.access import (
    ADMIN_TOKEN,
    SUBMIT,
    Service,
    bearer,
    error_codes,
    gql,
    graphql_job,
    rest_job,
    start_secure_service,
)

ROLES = ["none", "unknown", "user", "admin", "admin2"]
ADMIN_ONLY = {"loadStores", "createApiToken", "revokeApiToken", "apiTokens"}
NAMES = (f"token-{n}" for n in itertools.count())

JOB = "query Job($id: ID!) { job(id: $id) { id } }"
JOBS = "query { jobs(first: 100) { edges { node { id } } } }"
JOB_STATUS = "query Job($id: ID!) { job(id: $id) { status } }"
OPERATIONS: dict[str, tuple[str, Callable[[], dict[str, Any]]]] = {
    "job": (JOB, lambda: {"id": "0123456789abcdef01234567"}),
    "jobs": (JOBS, dict),
    "store": ('query { store(id: "RP00001") { id name } }', dict),
    "stores": ("query { stores(first: 1) { edges { node { id } } } }", dict),
    "submitJob": (SUBMIT, lambda: {"input": graphql_job()}),
    "loadStores": (
        "mutation L($csv: String!) { loadStores(csv: $csv) { loaded userErrors "
        "{ code } } }",
        lambda: {"csv": "AreaCode,StoreName,StoreID\nA1,Shop,ZZ001\n"},
    ),
    "createApiToken": (
        "mutation C($input: CreateApiTokenInput!) { createApiToken(input: $input) "
        "{ token userErrors { code } } }",
        lambda: {"input": {"name": next(NAMES), "role": "USER"}},
    ),
    "revokeApiToken": (
        "mutation R($name: String!) { revokeApiToken(name: $name) { revoked } }",
        lambda: {"name": "nobody"},
    ),
    "apiTokens": ("query { apiTokens { name role createdAt } }", dict),
    "cancelJob": (
        "mutation C($id: ID!) { cancelJob(id: $id) { userErrors { code } } }",
        lambda: {"id": "0123456789abcdef01234567"},
    ),
    "retryJob": (
        "mutation R($id: ID!) { retryJob(id: $id) { userErrors { code } } }",
        lambda: {"id": "0123456789abcdef01234567"},
    ),
}
JOB_WS_QUERY = "query { jobs { edges { node { id } } } }"


@pytest.fixture
def service(make_client: Callable[..., TestClient]) -> Service:
    return start_secure_service(make_client)


def expected_codes(role: str, operation: str) -> list[str]:
    if role in ("none", "unknown"):
        return ["UNAUTHENTICATED"]
    if role == "user" and operation in ADMIN_ONLY:
        return ["FORBIDDEN"]
    return []


def test_every_role_against_every_graphql_operation(service: Service) -> None:
    outcomes = {}
    expected = {}
    for role, (name, (query, variables)) in itertools.product(
        ROLES, OPERATIONS.items()
    ):
        body = gql(service.client, query, variables(), service.tokens[role])
        outcomes[role, name] = error_codes(body)
        expected[role, name] = expected_codes(role, name)

    assert outcomes == expected


@pytest.mark.parametrize("role", ROLES)
def test_every_role_against_every_rest_operation(service: Service, role: str) -> None:
    headers = bearer(service.tokens[role])
    job_id = service.submit(ADMIN_TOKEN)

    submitted = service.client.post("/api/submit/", json=rest_job(), headers=headers)
    status = service.client.get(f"/api/status?jobid={job_id}", headers=headers)
    detail = service.client.get(f"/api/jobs/{job_id}", headers=headers)

    codes = [submitted.status_code, status.status_code, detail.status_code]
    if role in ("none", "unknown"):
        assert codes == [401, 401, 401]
        assert "Bearer" in submitted.json()["error"]
        assert submitted.headers["www-authenticate"] == "Bearer"
    elif role == "user":
        assert codes == [201, 400, 404]  # the admin's job is not the user's
    else:
        assert codes == [201, 200, 200]


def test_a_user_sees_only_its_own_jobs(service: Service) -> None:
    mine = service.submit(service.tokens["user"])
    theirs = service.submit(service.tokens["other"])
    user, other = service.tokens["user"], service.tokens["other"]

    def listed(token: str | None) -> set[str]:
        edges = gql(service.client, JOBS, token=token)["data"]["jobs"]["edges"]
        return {e["node"]["id"] for e in edges}

    assert listed(user) == {mine}
    assert listed(other) == {theirs}
    assert listed(ADMIN_TOKEN) == {mine, theirs}
    assert gql(service.client, JOB, {"id": theirs}, user)["data"]["job"] is None
    assert gql(service.client, JOB, {"id": mine}, user)["data"]["job"]["id"] == mine
    get = service.client.get
    assert get(f"/api/jobs/{theirs}", headers=bearer(user)).json() == {
        "error": "job not found"
    }
    assert get(f"/api/status?jobid={theirs}", headers=bearer(user)).json() == {}
    assert get(f"/api/jobs/{mine}", headers=bearer(user)).status_code == 200


def test_open_paths_need_no_token(service: Service) -> None:
    client = service.client

    page = client.get("/graphql", headers={"Accept": "text/html"})

    assert client.get("/healthz").status_code == 200
    assert client.get("/readyz").status_code == 200
    assert client.get("/metrics").status_code != 401
    assert client.get("/dashboard").status_code != 401
    assert page.status_code == 200
    assert "graphiql" in page.text.lower()
    assert client.get("/api/jobs/x").status_code == 401


def test_a_revoked_token_stops_working(service: Service) -> None:
    token = service.create_token("short-lived", "USER")
    revoke = "mutation R($name: String!) { revokeApiToken(name: $name) { revoked } }"

    before = gql(service.client, JOBS, token=token)
    revoked = gql(service.client, revoke, {"name": "short-lived"}, ADMIN_TOKEN)
    after = gql(service.client, JOBS, token=token)

    assert error_codes(before) == []
    assert revoked["data"]["revokeApiToken"] == {"revoked": True}
    assert error_codes(after) == ["UNAUTHENTICATED"]


def test_token_names_are_unique_and_checked(service: Service) -> None:
    create = OPERATIONS["createApiToken"][0]

    def codes(name: str) -> list[str]:
        variables = {"input": {"name": name, "role": "ADMIN"}}
        payload = gql(service.client, create, variables, ADMIN_TOKEN)
        return [e["code"] for e in payload["data"]["createApiToken"]["userErrors"]]

    assert codes("field-app") == ["NAME_TAKEN"]
    assert codes("") == ["INVALID_NAME"]
    assert codes("has space") == ["INVALID_NAME"]
    assert codes("x" * 65) == ["INVALID_NAME"]
    assert codes("x" * 64) == []


def test_token_listing_shows_no_secrets(service: Service) -> None:
    body = gql(service.client, OPERATIONS["apiTokens"][0], token=ADMIN_TOKEN)

    tokens = body["data"]["apiTokens"]
    assert [(t["name"], t["role"]) for t in tokens] == [
        ("field-app", "USER"),
        ("ops", "ADMIN"),
        ("other-app", "USER"),
    ]
    assert not any(secret in str(body) for secret in service.tokens.values() if secret)


def test_with_auth_off_everything_is_open_and_unowned(client: TestClient) -> None:
    job_id = client.post("/api/submit/", json=rest_job()).json()["job_id"]
    stores = "mutation L($csv: String!) { loadStores(csv: $csv) { loaded } }"

    listed = gql(client, JOBS)["data"]["jobs"]["edges"]
    loaded = gql(client, stores, {"csv": "AreaCode,StoreName,StoreID\nA,B,C\n"})

    assert [e["node"]["id"] for e in listed] == [job_id]
    assert loaded["data"]["loadStores"]["loaded"] == 1
    assert client.get(f"/api/jobs/{job_id}").status_code == 200


def test_a_bad_token_is_ignored_with_auth_off(client: TestClient) -> None:
    response = client.post("/api/submit/", json=rest_job(), headers=bearer("junk"))

    assert response.status_code == 201


def test_auth_on_without_admin_token_refuses_to_start() -> None:
    settings = service_settings(host="0.0.0.0", admin_token=None)

    with pytest.raises(StartupRefused, match="ADMIN_TOKEN is not set"):
        create_app(settings)


def test_serve_refuses_in_one_line_without_admin_token() -> None:
    env = {k: v for k, v in os.environ.items() if k != "ADMIN_TOKEN"}
    env.update(HOST="0.0.0.0", PORT="0", PYTHONPATH=str(REPO))

    result = subprocess.run(
        [sys.executable, "-m", "imagejobs", "serve"],
        capture_output=True,
        text=True,
        env=env,
        cwd=REPO,
        timeout=60,
    )

    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert lines[-1].startswith("error: refusing to start: auth is on")
    assert "ADMIN_TOKEN" in lines[-1]
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize(
    ("value", "token"),
    [
        ("Bearer abc", "abc"),
        ("bearer  abc ", "abc"),
        ("abc", "abc"),
        ("Bearer ", None),
        ("", None),
        (None, None),
    ],
)
def test_bearer_token_is_read_from_the_header(value: str | None, token: str) -> None:
    assert bearer_token(value) == token


@pytest.mark.parametrize(
    ("payload", "token"),
    [
        ({"Authorization": "Bearer abc"}, "abc"),
        ({"authorization": "Bearer abc"}, "abc"),
        ({"token": "abc"}, "abc"),
        ({"token": 5}, None),
        ({}, None),
        (None, None),
    ],
)
def test_connection_token_is_read_from_the_payload(
    payload: dict[str, object] | None, token: str | None
) -> None:
    assert connection_token(payload) == token


def ws_init(
    client: TestClient,
    payload: dict[str, Any] | None,
    headers: dict[str, str] | None = None,
    protocol: str = "graphql-transport-ws",
) -> dict[str, Any]:
    """Send connection_init; return the answer, or the close code as type."""
    with client.websocket_connect(
        "/graphql", subprotocols=[protocol], headers=headers or {}
    ) as ws:
        message: dict[str, Any] = {"type": "connection_init"}
        if payload is not None:
            message["payload"] = payload
        ws.send_json(message)
        try:
            answer: dict[str, Any] = ws.receive_json()
        except WebSocketDisconnect as closed:
            return {"type": "closed", "code": closed.code}
        return answer


@pytest.mark.parametrize(
    "payload",
    [None, {}, {"token": "ij_unknown"}, {"Authorization": "Bearer nope"}],
    ids=["no payload", "empty", "unknown token", "unknown bearer"],
)
def test_websocket_without_a_valid_token_is_refused(
    service: Service, payload: dict[str, Any] | None
) -> None:
    answer = ws_init(service.client, payload)

    assert answer == {"type": "closed", "code": 4403}


def test_legacy_websocket_without_a_token_gets_a_connection_error(
    service: Service,
) -> None:
    answer = ws_init(service.client, {}, protocol="graphql-ws")

    assert answer["type"] == "connection_error"
    assert answer["payload"]["code"] == "UNAUTHENTICATED"


@pytest.mark.parametrize("shape", ["Authorization", "authorization", "token", "header"])
@pytest.mark.parametrize("role", ["user", "admin", "admin2"])
def test_websocket_with_a_token_is_accepted(
    service: Service, shape: str, role: str
) -> None:
    token = service.tokens[role]
    assert token is not None
    payloads = {
        "Authorization": {"Authorization": f"Bearer {token}"},
        "authorization": {"authorization": f"Bearer {token}"},
        "token": {"token": token},
        "header": {},
    }
    headers = bearer(token) if shape == "header" else {}

    answer = ws_init(service.client, payloads[shape], headers)

    assert answer["type"] == "connection_ack"


def ws_query(client: TestClient, payload: dict[str, Any]) -> dict[str, Any]:
    with client.websocket_connect(
        "/graphql", subprotocols=["graphql-transport-ws"]
    ) as ws:
        ws.send_json({"type": "connection_init", "payload": payload})
        assert ws.receive_json()["type"] == "connection_ack"
        ws.send_json(
            {"id": "1", "type": "subscribe", "payload": {"query": JOB_WS_QUERY}}
        )
        answer: dict[str, Any] = ws.receive_json()
        return answer


def test_operations_over_websocket_run_as_the_connection_token(
    service: Service,
) -> None:
    mine = service.submit(service.tokens["user"])
    service.submit(service.tokens["other"])

    answer = ws_query(service.client, {"token": service.tokens["user"]})

    edges = answer["payload"]["data"]["jobs"]["edges"]
    assert [e["node"]["id"] for e in edges] == [mine]


def test_legacy_websocket_operation_without_init_is_refused(
    service: Service,
) -> None:
    with service.client.websocket_connect(
        "/graphql", subprotocols=["graphql-ws"]
    ) as ws:
        ws.send_json({"id": "1", "type": "start", "payload": {"query": JOB_WS_QUERY}})
        with pytest.raises(WebSocketDisconnect) as closed:
            ws.receive_json()

    assert closed.value.code == 4401


def test_graphql_submission_is_owned_by_its_token(service: Service) -> None:
    user = service.tokens["user"]
    body = gql(service.client, SUBMIT, {"input": graphql_job()}, user)
    job_id = body["data"]["submitJob"]["job"]["id"]

    seen_by_other = gql(service.client, JOB, {"id": job_id}, service.tokens["other"])
    seen_by_admin = gql(service.client, JOB, {"id": job_id}, ADMIN_TOKEN)

    assert seen_by_other["data"]["job"] is None
    assert seen_by_admin["data"]["job"]["id"] == job_id


@pytest.mark.parametrize("operation", ["cancelJob", "retryJob"])
def test_a_user_cannot_cancel_or_retry_another_users_job(
    service: Service, operation: str
) -> None:
    theirs = service.submit(service.tokens["other"])
    query = OPERATIONS[operation][0]

    body = gql(service.client, query, {"id": theirs}, service.tokens["user"])
    state = gql(service.client, JOB_STATUS, {"id": theirs}, ADMIN_TOKEN)

    assert body["data"][operation]["userErrors"] == [{"code": "NOT_FOUND"}]
    assert state["data"]["job"]["status"] != "CANCELLED"


def test_a_user_can_cancel_its_own_job(service: Service) -> None:
    mine = service.submit(service.tokens["user"])
    query = OPERATIONS["cancelJob"][0]

    body = gql(service.client, query, {"id": mine}, service.tokens["user"])

    assert body["data"]["cancelJob"]["userErrors"] in ([], [{"code": "JOB_ENDED"}])
