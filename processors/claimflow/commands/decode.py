"""``claimflow decode [FILE|-]``: Kinesis-DynamoDB change records in, change events (NDJSON) out.

Each rejected record becomes one JSON line on stderr (``{"index": 3, "error": "..."}``); the good records are
still written. Exit status 0 when every record decoded, 1 when any was rejected, 2 for a usage error.
"""

from __future__ import annotations

import argparse
import sys

import orjson

from claimflow.events import ChangeEvent, decode_records


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "file",
        nargs="?",
        default="-",
        metavar="FILE",
        help="records: one JSON object, a JSON array, NDJSON or NiFi wrapper records ('-' or omitted: stdin)",
    )
    parser.add_argument(
        "--attributes",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="a FlowFile attribute to simulate, e.g. aws.kinesis.shard.id=shardId-000000000000 (repeatable)",
    )


def parse_attributes(pairs: list[str]) -> dict[str, str]:
    """``["a=b", "c=d=e"]`` -> ``{"a": "b", "c": "d=e"}``.

    Raises:
        ValueError: a pair without '=' or with an empty key.
    """
    attributes: dict[str, str] = {}
    for pair in pairs:
        key, separator, value = pair.partition("=")
        if not separator or not key:
            raise ValueError(f"--attributes expects KEY=VALUE, got {pair!r}")
        attributes[key] = value
    return attributes


def read_input(prog: str, path: str) -> bytes | None:
    """The bytes of FILE, or of stdin for '-'; None (after saying why on stderr) when it cannot be read."""
    try:
        if path == "-":
            return sys.stdin.buffer.read()
        with open(path, "rb") as handle:
            return handle.read()
    except OSError as error:
        print(f"{prog}: cannot read {path}: {error.strerror}; give a readable file, or '-' for stdin", file=sys.stderr)
        return None


def run(args: argparse.Namespace) -> int:
    try:
        attributes = parse_attributes(args.attributes)
    except ValueError as error:
        print(f"claimflow decode: {error}", file=sys.stderr)
        return 2
    data = read_input("claimflow decode", args.file)
    if data is None:
        return 2

    out = sys.stdout.buffer
    err = sys.stderr.buffer
    rejected = 0
    for item in decode_records(data, attributes or None):
        if isinstance(item, ChangeEvent):
            out.write(item.to_json())
            out.write(b"\n")
        else:
            rejected += 1
            err.write(orjson.dumps({"index": item.index, "error": item.error}))
            err.write(b"\n")
    out.flush()
    err.flush()
    return 1 if rejected else 0
