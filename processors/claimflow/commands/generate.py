"""``claimflow generate``: write realistic synthetic claims, with their lifecycle, into a DynamoDB table.

Without ``--endpoint-url`` it talks to real AWS with the normal credential chain (environment, profile, instance
role) and fills a real table; with it (e.g. a local moto server) it uses fake credentials for that endpoint only.
The table must exist (``claimflow demo`` or infra/ creates it). Deterministic with ``--seed``.
"""

from __future__ import annotations

import argparse
import sys
from datetime import date
from typing import Any

from claimflow import names
from claimflow.commands.errors import CommandError


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--claims", type=int, default=100, help="claims to generate (default 100)")
    parser.add_argument("--seed", type=int, default=42, help="random seed (default 42)")
    parser.add_argument("--as-of", type=date.fromisoformat, help="business date the claims lead up to (2026-10-01)")
    parser.add_argument("--table", default=names.DYNAMODB_TABLE, help=f"DynamoDB table ({names.DYNAMODB_TABLE})")
    parser.add_argument("--region", default="us-east-1", help="AWS region (us-east-1)")
    parser.add_argument("--profile", help="AWS profile for real AWS")
    parser.add_argument("--endpoint-url", help="endpoint URL of an emulator (default: real AWS)")
    parser.add_argument("--create-table", action="store_true", help="create the table (and its stream) if missing")


def _require_table(dynamodb: Any, table: str, where: str) -> None:
    """Raises CommandError when ``table`` does not exist (before anything is generated)."""
    try:
        dynamodb.describe_table(TableName=table)
    except dynamodb.exceptions.ResourceNotFoundException:
        raise CommandError(
            f"DynamoDB table {table} does not exist at {where}: pass --create-table, or create it with infra/ "
            "(docs/infrastructure.md)"
        ) from None


def run(args: argparse.Namespace) -> int:
    from claimflow.demo.aws import ensure_resources, make_clients
    from claimflow.demo.generator import DEFAULT_AS_OF, GeneratorConfig, generate

    if args.claims < 1:
        print("claimflow generate: --claims must be at least 1", file=sys.stderr)
        return 2
    clients = make_clients(args.endpoint_url, args.region, args.profile)
    if args.create_table:
        ensure_resources(clients, args.table, shards=1)
    else:
        _require_table(clients.dynamodb, args.table, args.endpoint_url or f"AWS {args.region}")
    config = GeneratorConfig(claims=args.claims, seed=args.seed, as_of=args.as_of or DEFAULT_AS_OF)
    try:
        stats = generate(clients.dynamodb, args.table, config)
    except ValueError as exc:
        print(f"claimflow generate: {exc}", file=sys.stderr)
        return 2
    print(
        f"{stats.claims} claims: {stats.puts} puts, {stats.deletes} deletes "
        f"({stats.ttl_deletes} simulated TTL expiries) into {args.table}"
    )
    return 0
