"""`studio serve`: the web studio on uvicorn; prints its URL, and warns when it listens beyond this machine."""

from __future__ import annotations

import argparse
import ipaddress
import os
import secrets
import sys

from studio.cli.common import OneLineParser, resolve_device
from studio.errors import StudioError


def build_parser() -> argparse.ArgumentParser:
    """The `studio serve` arguments."""
    parser = OneLineParser(prog="studio serve", description="Generate, listen and watch training in the browser.")
    parser.add_argument("--checkpoints", default="checkpoints", help="the folder of runs (checkpoints/<run>/)")
    parser.add_argument("--samples", default="samples", help="generations are saved under SAMPLES/<run>/")
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default: this machine only)")
    parser.add_argument("--port", type=int, default=8000, help="port to listen on")
    parser.add_argument(
        "--token",
        default=os.environ.get("STUDIO_TOKEN"),
        help="require this bearer token on every request (default: $STUDIO_TOKEN); "
        "`--token random` makes one up and prints it",
    )
    parser.add_argument("--device", default="cpu", help="cpu, cuda, or cuda:N")
    parser.add_argument(
        "--request_seconds",
        type=float,
        default=300.0,
        help="the time a generation request may take, its wait included; past it, a 503 (default 300)",
    )
    return parser


def loopback(host: str) -> bool:
    """Whether `host` is reachable from this machine only."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def serve_main(argv: list[str]) -> None:
    """Parse the arguments and serve until Ctrl-C."""
    args = build_parser().parse_args(argv)
    if not 0 < args.port < 65536:
        raise StudioError(f"--port {args.port} must be from 1 to 65535")
    if not 0 < args.request_seconds <= 86400:  # NaN too
        raise StudioError(f"--request_seconds {args.request_seconds} must be above 0 and at most 86400 (a day)")
    token = secrets.token_urlsafe(16) if args.token == "random" else args.token
    if not loopback(args.host):
        print(
            f"studio: warning: listening on {args.host} lets other machines reach this studio"
            + ("" if token else "; anyone who can reach it can use it: pass --token (or set STUDIO_TOKEN)"),
            file=sys.stderr,
        )
    import uvicorn

    from studio.server import create_app

    app = create_app(args.checkpoints, args.samples, token, resolve_device(args.device), args.request_seconds)
    shown = "localhost" if args.host in ("0.0.0.0", "::") else args.host
    url = f"http://{shown}:{args.port}/" + (f"?token={token}" if token else "")
    print(f"Studio is at {url}  (Ctrl-C stops it)", file=sys.stderr, flush=True)
    uvicorn.run(app, host=args.host, port=args.port, log_level="warning")
