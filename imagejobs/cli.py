"""The ``imagejobs`` command.

Commands that change a running service talk to it over its GraphQL API, so
they work the same whatever database the service uses.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
from pathlib import Path
from types import FrameType
from typing import Any

import httpx

from imagejobs.logs import configure_logging
from imagejobs.settings import Settings

EXIT_OK, EXIT_FAILED, EXIT_REJECTED = 0, 1, 2
DEFAULT_URL = "http://127.0.0.1:8000"

LOAD_STORES = """
mutation LoadStores($csv: String!) {
  loadStores(csv: $csv) { loaded updated skipped userErrors { field message code } }
}
"""


class CommandError(Exception):
    """A command could not do its work; the message says why, in one line."""


def graphql(
    url: str, token: str | None, query: str, variables: dict[str, Any]
) -> dict[str, Any]:
    """Run one GraphQL operation against the service at ``url``."""
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    try:
        response = httpx.post(
            url.rstrip("/") + "/graphql",
            json={"query": query, "variables": variables},
            headers=headers,
            timeout=120,
        )
    except httpx.HTTPError as error:
        raise CommandError(f"cannot reach the service at {url}: {error}") from None
    try:
        body: dict[str, Any] = response.json()
    except ValueError:
        raise CommandError(
            f"the service answered HTTP {response.status_code}"
        ) from None
    if body.get("errors"):
        raise CommandError("; ".join(e.get("message", "?") for e in body["errors"]))
    data: dict[str, Any] = body["data"]
    return data


def run_serve(args: argparse.Namespace) -> int:
    import uvicorn

    from graph.app import create_app
    from graph.auth import StartupRefused

    overrides = {k: v for k, v in (("host", args.host), ("port", args.port)) if v}
    settings = Settings(**overrides)
    configure_logging(settings.log_level, settings.log_format)
    try:
        app = create_app(settings)
    except StartupRefused as error:
        raise CommandError(f"refusing to start: {error}") from None
    exit_zero_on_sigterm()
    uvicorn.run(
        app,
        host=settings.host,
        port=settings.port,
        log_config=None,
        timeout_graceful_shutdown=max(1, round(settings.shutdown_grace)),
        ws_max_size=settings.max_body_bytes,
    )
    return EXIT_OK


def exit_zero_on_sigterm() -> None:
    """Make SIGTERM a clean exit (status 0) once the server has stopped.

    uvicorn catches SIGTERM, shuts down (the app drains its images within
    ``SHUTDOWN_GRACE``), then raises the signal again for the handler that
    was there before it: this one.
    """

    def exit_ok(signum: int, frame: FrameType | None) -> None:
        raise SystemExit(EXIT_OK)

    signal.signal(signal.SIGTERM, exit_ok)


def run_worker(args: argparse.Namespace) -> int:
    import asyncio

    from processing.worker import run_worker as work

    settings = Settings()
    if settings.amqp_url is None:
        raise CommandError("a worker needs AMQP_URL: the broker it takes work from")
    configure_logging(settings.log_level, settings.log_format)
    asyncio.run(work(settings, settings.shutdown_grace))
    return EXIT_OK


def run_stores_load(args: argparse.Namespace) -> int:
    from models.store_master import decode_csv

    try:
        text = decode_csv(Path(args.file).read_bytes())
    except OSError as error:
        raise CommandError(f"cannot read {args.file}: {error.strerror}") from None
    data = graphql(args.url, args.token, LOAD_STORES, {"csv": text})["loadStores"]
    for problem in data["userErrors"]:
        print(f"error: {problem['message']} ({problem['code']})", file=sys.stderr)
    if data["userErrors"]:
        return EXIT_REJECTED
    print(
        f"stores loaded {data['loaded']}, updated {data['updated']}, "
        f"rows skipped {data['skipped']}"
    )
    return EXIT_OK


def run_submit(args: argparse.Namespace) -> int:
    from imagejobs.submit import submit_file

    return submit_file(args.url, args.token, Path(args.file), watch=args.watch)


def run_schema(args: argparse.Namespace) -> int:
    from graph.schema import build_schema

    print(build_schema().as_str())
    return EXIT_OK


def add_client_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--url", default=DEFAULT_URL, help="the service's base URL")
    parser.add_argument(
        "--token",
        default=os.environ.get("IMAGEJOBS_TOKEN"),
        help="API token, when auth is on (default: IMAGEJOBS_TOKEN)",
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="imagejobs", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    serve = commands.add_parser("serve", help="run the API server and processing")
    serve.add_argument("--host", default=None, help="listen address (HOST)")
    serve.add_argument("--port", type=int, default=None, help="listen port (PORT)")
    serve.set_defaults(func=run_serve)

    worker = commands.add_parser("worker", help="process images from the broker")
    worker.set_defaults(func=run_worker)

    stores = commands.add_parser("stores", help="manage the store master")
    store_commands = stores.add_subparsers(dest="stores_command", required=True)
    load = store_commands.add_parser("load", help="send a store master CSV")
    load.add_argument("file")
    add_client_options(load)
    load.set_defaults(func=run_stores_load)

    submit = commands.add_parser("submit", help="submit a job file (REST shape)")
    submit.add_argument("file")
    submit.add_argument("--watch", action="store_true", help="follow the job live")
    add_client_options(submit)
    submit.set_defaults(func=run_submit)

    schema = commands.add_parser("schema", help="print the GraphQL SDL")
    schema.set_defaults(func=run_schema)

    from imagejobs.tokens import add_token_commands

    add_token_commands(commands, add_client_options)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        code: int = args.func(args)
    except CommandError as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_REJECTED
    return code


if __name__ == "__main__":
    sys.exit(main())
