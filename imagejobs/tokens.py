"""``imagejobs tokens``: create, list and revoke API tokens on a running server."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from typing import Any

from imagejobs.cli import EXIT_OK, EXIT_REJECTED, graphql

CREATE = """
mutation CreateToken($input: CreateApiTokenInput!) {
  createApiToken(input: $input) { token userErrors { field message code } }
}
"""
LIST = "query Tokens { apiTokens { name role createdAt } }"
REVOKE = """
mutation RevokeToken($name: String!) {
  revokeApiToken(name: $name) { revoked userErrors { field message code } }
}
"""


def report(errors: list[dict[str, Any]]) -> int:
    for problem in errors:
        print(f"error: {problem['message']} ({problem['code']})", file=sys.stderr)
    return EXIT_REJECTED if errors else EXIT_OK


def run_create(args: argparse.Namespace) -> int:
    variables = {"input": {"name": args.name, "role": args.role.upper()}}
    data = graphql(args.url, args.token, CREATE, variables)["createApiToken"]
    if data["userErrors"]:
        return report(data["userErrors"])
    print(f"{args.role} token {args.name!r} created; it is shown only this once:")
    print(data["token"])
    return EXIT_OK


def run_list(args: argparse.Namespace) -> int:
    for token in graphql(args.url, args.token, LIST, {})["apiTokens"]:
        print(f"{token['name']}\t{token['role'].lower()}\t{token['createdAt']}")
    return EXIT_OK


def run_revoke(args: argparse.Namespace) -> int:
    data = graphql(args.url, args.token, REVOKE, {"name": args.name})
    payload = data["revokeApiToken"]
    if payload["userErrors"]:
        return report(payload["userErrors"])
    print(f"token {args.name!r} revoked")
    return EXIT_OK


def add_token_commands(
    commands: Any, add_client_options: Callable[[argparse.ArgumentParser], None]
) -> None:
    """Add ``tokens create|list|revoke`` to the ``imagejobs`` command."""
    tokens = commands.add_parser("tokens", help="manage API tokens (admin)")
    token_commands = tokens.add_subparsers(dest="tokens_command", required=True)

    create = token_commands.add_parser("create", help="create a token, shown once")
    create.add_argument("--role", choices=["user", "admin"], required=True)
    create.add_argument("--name", required=True)
    create.set_defaults(func=run_create)

    listing = token_commands.add_parser("list", help="list the tokens")
    listing.set_defaults(func=run_list)

    revoke = token_commands.add_parser("revoke", help="revoke a token by name")
    revoke.add_argument("name")
    revoke.set_defaults(func=run_revoke)

    for parser in (create, listing, revoke):
        add_client_options(parser)
