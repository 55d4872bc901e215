"""The Dockerfile and docker-compose.yml agree with the service contract.

Docker cannot run here, so this reads both files: commands, ports and
variable names must be the contract's (or settings the service has).
"""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
import yaml

from imagejobs.cli import build_parser
from imagejobs.settings import Settings
from tests.conftest import REPO
from tests.shared import SHARED

CONTRACT = SHARED / "CONTRACT.md"


def contract_section(title: str) -> str:
    text = CONTRACT.read_text()
    start = text.index(f"## {title}")
    end = text.find("\n## ", start + 1)
    return text[start:end]


def contract_variables() -> set[str]:
    rows = contract_section("Configuration").splitlines()
    first_cells = [row.split("|")[1] for row in rows if row.startswith("| `")]
    return {name for cell in first_cells for name in re.findall(r"`(\w+)`", cell)}


def contract_commands() -> set[str]:
    rows = contract_section("Command line").splitlines()
    return set(re.findall(r"^\| `(imagejobs \w+)", "\n".join(rows), re.MULTILINE))


def setting_variables() -> set[str]:
    return {name.upper() for name in Settings.model_fields}


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((REPO / "docker-compose.yml").read_text())
    return loaded


@pytest.fixture(scope="module")
def dockerfile() -> dict[str, list[str]]:
    """Instructions by keyword, continuation lines joined."""
    text = (REPO / "Dockerfile").read_text().replace("\\\n", " ")
    instructions: dict[str, list[str]] = {}
    for line in text.splitlines():
        if line.strip() and not line.startswith("#"):
            keyword, _, rest = line.strip().partition(" ")
            instructions.setdefault(keyword.upper(), []).append(rest.strip())
    return instructions


def service(compose: dict[str, Any], name: str) -> dict[str, Any]:
    found: dict[str, Any] = compose["services"][name]
    return found


def test_the_contract_tables_were_read() -> None:
    assert {"MONGODB_URL", "AMQP_URL", "ADMIN_TOKEN", "PORT"} <= contract_variables()
    assert {"imagejobs serve", "imagejobs worker"} <= contract_commands()


def test_every_contract_variable_is_a_setting() -> None:
    assert contract_variables() <= setting_variables()


@pytest.mark.parametrize(
    ("name", "command"), [("api", "imagejobs serve"), ("worker", "imagejobs worker")]
)
def test_compose_runs_the_contract_commands(
    compose: dict[str, Any], name: str, command: str
) -> None:
    argv = service(compose, name)["command"]

    assert " ".join(argv) == command
    assert command in contract_commands()
    assert build_parser().parse_args(argv[1:]).command == argv[1]


def test_compose_sets_only_known_variables(compose: dict[str, Any]) -> None:
    known = contract_variables() | setting_variables()
    for name in ("api", "worker"):
        assert set(service(compose, name)["environment"]) <= known, name


def test_the_api_needs_an_admin_token_and_the_broker(compose: dict[str, Any]) -> None:
    env = service(compose, "api")["environment"]

    assert env["HOST"] not in ("127.0.0.1", "::1", "localhost")
    assert env["ADMIN_TOKEN"].startswith("${ADMIN_TOKEN:?")
    assert env.get("AUTH_REQUIRED", "true") == "true"
    assert env["MONGODB_URL"].startswith("mongodb://mongodb:")
    assert "@rabbitmq:" in env["AMQP_URL"]
    assert service(compose, "worker")["environment"]["AMQP_URL"] == env["AMQP_URL"]


def test_the_published_port_is_the_one_the_api_and_image_use(
    compose: dict[str, Any], dockerfile: dict[str, list[str]]
) -> None:
    api = service(compose, "api")
    published = {mapping.split(":")[-1] for mapping in api["ports"]}

    assert published == {api["environment"]["PORT"]}
    assert dockerfile["EXPOSE"] == [api["environment"]["PORT"]]
    assert f"PORT={api['environment']['PORT']}" in dockerfile["ENV"][0].split()


def test_stopping_waits_longer_than_the_shutdown_grace(
    compose: dict[str, Any],
) -> None:
    for name in ("api", "worker"):
        config = service(compose, name)
        grace = float(config["environment"]["SHUTDOWN_GRACE"])
        assert float(config["stop_grace_period"].removesuffix("s")) > grace


def test_the_stack_starts_after_its_database_and_broker_are_healthy(
    compose: dict[str, Any],
) -> None:
    api = service(compose, "api")

    assert set(api["depends_on"]) == {"mongodb", "rabbitmq"}
    assert all(d["condition"] == "service_healthy" for d in api["depends_on"].values())
    assert "healthcheck" in service(compose, "mongodb")
    assert "healthcheck" in service(compose, "rabbitmq")


def test_the_image_runs_the_api_as_a_user_with_a_health_check(
    dockerfile: dict[str, list[str]],
) -> None:
    assert json.loads(dockerfile["CMD"][-1]) == ["imagejobs", "serve"]
    assert dockerfile["USER"][-1] not in ("root", "0")
    assert "/healthz" in dockerfile["HEALTHCHECK"][-1]
    assert dockerfile["STOPSIGNAL"] == ["SIGTERM"]


def test_the_image_holds_every_package_the_project_installs(
    dockerfile: dict[str, list[str]],
) -> None:
    copied = {line.split()[0] for line in dockerfile["COPY"]}
    packages = {path.parent.name for path in REPO.glob("*/__init__.py")}

    assert packages - {"tests"} <= copied
