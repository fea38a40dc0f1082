"""The ``claimflow`` command line.

Each subcommand lives in ``claimflow.commands.<name>`` and exposes ``add_arguments(parser)`` and
``run(args) -> int``. Modules are imported only when their subcommand runs, so ``claimflow decode`` never pays
for boto3, moto or Snowflake imports.

An expected failure (no AWS credentials, an unreachable endpoint, a missing table, an unknown Snowflake connection,
an unreadable input file, ...) ends in one line on stderr, ``claimflow <command>: <what is wrong>: <what to do>``,
and exit status 2 (``claimflow.commands.errors``). ``--debug``, anywhere on the command line, shows the traceback.
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
    "backfill": "Load a table's existing items (DynamoDB export to S3, or a parallel Scan) through the same merge.",
    "flow": "Export the NiFi / Openflow flow definitions.",
}

DEBUG_FLAG = "--debug"
DEBUG_HELP = "show the full traceback of a failure (otherwise: one line saying what is wrong and what to do)"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="claimflow",
        description="ClaimFlow: healthcare-claims change data capture for Apache NiFi and Snowflake Openflow.",
    )
    parser.add_argument(DEBUG_FLAG, action="store_true", help=DEBUG_HELP)
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, help_text in SUBCOMMANDS.items():
        sub.add_parser(name, help=help_text, description=help_text, add_help=False)
    return parser


def _split_debug(args: list[str]) -> tuple[list[str], bool]:
    """``args`` without ``--debug`` (before a ``--``), and whether it was there."""
    end = args.index("--") if "--" in args else len(args)
    kept = [a for a in args[:end] if a != DEBUG_FLAG] + args[end:]
    return kept, len(kept) != len(args)


def main(argv: Sequence[str] | None = None) -> int:
    args, debug = _split_debug(list(sys.argv[1:] if argv is None else argv))
    top = build_parser()
    if not args or args[0] not in SUBCOMMANDS:
        top.parse_args(args)  # prints usage / help and exits
        return 2
    name = args[0]
    module = importlib.import_module(f"claimflow.commands.{name}")
    parser = argparse.ArgumentParser(prog=f"claimflow {name}", description=SUBCOMMANDS[name])
    module.add_arguments(parser)
    parser.add_argument(DEBUG_FLAG, action="store_true", help=DEBUG_HELP)  # taken out above; listed in --help
    parsed = parser.parse_args(args[1:])
    parsed.debug = debug  # taken out before parsing; a command may show a record's traceback
    try:
        return int(module.run(parsed))
    except KeyboardInterrupt:
        if debug:
            raise
        print(f"claimflow {name}: interrupted", file=sys.stderr)
        return 130
    except Exception as error:
        from claimflow.commands.errors import explain

        line = None if debug else explain(error)
        if line is None:
            raise
        print(f"claimflow {name}: {line}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
