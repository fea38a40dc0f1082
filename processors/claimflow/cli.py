"""The ``claimflow`` command line.

Each subcommand lives in ``claimflow.commands.<name>`` and exposes ``add_arguments(parser)`` and
``run(args) -> int``. Modules are imported only when their subcommand runs, so ``claimflow decode`` never pays
for boto3, moto or Snowflake imports.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

# name -> one-line help; the module claimflow.commands.<name> implements it.
SUBCOMMANDS: dict[str, str] = {
    "decode": "Decode Kinesis-delivered DynamoDB change records into change events (NDJSON).",
    "transform": "Turn change records or change events into validated, enriched claim rows (NDJSON).",
    "generate": "Write realistic synthetic claims (with a lifecycle) into a DynamoDB table.",
    "demo": "Run the whole CDC pipeline locally (moto + fakesnow) and reconcile source and destination.",
    "flow": "Export the NiFi / Openflow flow definitions.",
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="claimflow",
        description="ClaimFlow: healthcare-claims change data capture for Apache NiFi and Snowflake Openflow.",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, help_text in SUBCOMMANDS.items():
        sub.add_parser(name, help=help_text, description=help_text, add_help=False)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    top = build_parser()
    if not args or args[0] not in SUBCOMMANDS:
        top.parse_args(args)  # prints usage / help and exits
        return 2
    name = args[0]
    module = importlib.import_module(f"claimflow.commands.{name}")
    parser = argparse.ArgumentParser(prog=f"claimflow {name}", description=SUBCOMMANDS[name])
    module.add_arguments(parser)
    return int(module.run(parser.parse_args(args[1:])))


if __name__ == "__main__":
    sys.exit(main())
