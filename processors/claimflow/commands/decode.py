"""``claimflow decode [FILE|-]``: Kinesis-DynamoDB change records in, change events (NDJSON) out.

Each rejected record becomes one JSON line on stderr (``{"index": 3, "error": "..."}``); the good records are
still written, each as soon as it is decoded (NDJSON is read line by line: ``claimflow.commands.framing``). A record
that makes anything raise is rejected as ``record N: internal error (<type>)`` and the rest go on; ``--debug`` adds
its traceback without the message. The last line on stderr counts every record: ``{"in": n, "out": n,
"rejected": n}``. Exit status 0 when every record decoded, 1 when any was rejected, 2 for a usage error.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterable
from typing import BinaryIO

from claimflow.commands.framing import Input
from claimflow.commands.records import RecordStep, run_records
from claimflow.event_time import time_rules_from_strings
from claimflow.events import ChangeEvent, decode_framed
from claimflow.kinesis import FlowFilePosition


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
    add_time_arguments(parser)


def add_time_arguments(parser: argparse.ArgumentParser) -> None:
    """The event-time settings of the commands that decode Kinesis records (claimflow.event_time.EventTimeRules), the
    processors' "Maximum Clock Skew" and "Millisecond Precision Since"."""
    parser.add_argument(
        "--max-clock-skew", default="15 min", metavar="PERIOD",
        help="how far an event time may lie past its Kinesis arrival (without one: past now) before the record is "
        "rejected, a whole number and a unit from 1 sec to 24 hours (default: 15 min)",
    )
    parser.add_argument(
        "--millisecond-precision-since", default=None, metavar="TIME",
        help="only if the stream's ApproximateCreationDateTimePrecision was switched from MICROSECOND to "
        "MILLISECOND: an ISO 8601 UTC time at or before the switch; MILLISECOND times from then on are read as "
        "the last microsecond of their millisecond (docs/guarantees.md, Mixed precision)",
    )  # fmt: skip


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


def read_input(prog: str, path: str) -> BinaryIO | None:
    """FILE opened for reading, or stdin for '-'; None (after saying why on stderr) when it cannot be opened."""
    try:
        if path == "-":
            return sys.stdin.buffer
        return open(path, "rb")
    except OSError as error:
        print(f"{prog}: cannot read {path}: {error.strerror}; give a readable file, or '-' for stdin", file=sys.stderr)
        return None


def flowfile_position(prog: str, attributes: dict[str, str] | None) -> tuple[bool, FlowFilePosition | None]:
    """The simulated FlowFile's position read once; (False, None) after one line on stderr when it cannot be."""
    try:
        return True, FlowFilePosition.from_attributes(attributes)
    except Exception as error:  # the attributes are what the user typed: a usage error, never a record's
        print(f"{prog}: --attributes cannot be read ({type(error).__name__}): check the values", file=sys.stderr)
        return False, None


def run(args: argparse.Namespace) -> int:
    prog = "claimflow decode"
    try:
        attributes = parse_attributes(args.attributes)
        rules = time_rules_from_strings(args.max_clock_skew, args.millisecond_precision_since)
    except ValueError as error:
        print(f"{prog}: {error}", file=sys.stderr)
        return 2
    readable, flowfile = flowfile_position(prog, attributes or None)
    if not readable:
        return 2
    handle = read_input(prog, args.file)
    if handle is None:
        return 2

    def prepare(framed: Input) -> tuple[Iterable[tuple[object, bytes | None]], RecordStep]:
        content = framed.content()

        def step(parsed: object, raw: bytes | None, index: int) -> tuple[bytes | None, str | None]:
            item = decode_framed(parsed, raw, index, flowfile, content, rules)
            return (item.to_json(), None) if isinstance(item, ChangeEvent) else (None, item.error)

        return content.records, step

    return run_records(handle, prepare, bool(getattr(args, "debug", False)))
