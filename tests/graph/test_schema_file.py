from __future__ import annotations

from graph.schema import build_schema
from tests.conftest import REPO


def test_checked_in_schema_matches_the_code() -> None:
    checked_in = (REPO / "schema.graphql").read_text()

    assert checked_in == build_schema().as_str() + "\n", (
        "schema.graphql is stale: run `imagejobs schema > schema.graphql`"
    )


def test_contract_types_are_in_the_schema() -> None:
    sdl = build_schema().as_str()

    for line in [
        "enum JobStatus {",
        "submitJob(input: SubmitJobInput!): SubmitJobPayload!",
        "loadStores(csv: String!): LoadStoresPayload!",
        "job(id: ID!): Job",
        "store(id: String!): Store",
        "priority: JobPriority = NORMAL",
    ]:
        assert line in sdl
