"""``claimflow decode [FILE|-]``: Kinesis-DynamoDB change records in, change events (NDJSON) out.

Each rejected record becomes one JSON line on stderr (``{"index": 3, "error": "..."}``); the good records are
still written, each as soon as it is decoded (NDJSON is read line by line: ``claimflow.commands.framing``). A record
that makes anything raise is rejected as ``record N: internal error (<type>)`` and the rest go on; ``--debug`` adds
its traceback without the message. The last line on stderr counts every record: ``{"in": n, "out": n,
"rejected": n}``. Exit status 0 when every record decoded, 1 when any was rejected, 2 for a usage error.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
from typing import BinaryIO

import orjson

from claimflow.commands.errors import count_line, debug_traceback, internal_error
from claimflow.commands.framing import frame
from claimflow.events import ChangeEvent, FlowFilePosition, decode_framed


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


def read_input(prog: str, path: str) -> BinaryIO | None:
    """FILE opened for reading, or stdin for '-'; None (after saying why on stderr) when it cannot be opened."""
    try:
        if path == "-":
            return sys.stdin.buffer
        return open(path, "rb")
    except OSError as error:
        print(f"{prog}: cannot read {path}: {error.strerror}; give a readable file, or '-' for stdin", file=sys.stderr)
        return None


def closing_input(handle: BinaryIO) -> contextlib.AbstractContextManager[BinaryIO]:
    """Closes FILE at the end, never stdin."""
    return contextlib.nullcontext(handle) if handle is sys.stdin.buffer else handle


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
    except ValueError as error:
        print(f"{prog}: {error}", file=sys.stderr)
        return 2
    readable, flowfile = flowfile_position(prog, attributes or None)
    if not readable:
        return 2
    handle = read_input(prog, args.file)
    if handle is None:
        return 2
    debug = bool(getattr(args, "debug", False))
    out = sys.stdout.buffer
    err = sys.stderr.buffer
    records = written = rejected = 0
    try:
        with closing_input(handle):
            content = frame(handle).content()
            for index, (parsed, raw) in enumerate(content.records):
                records += 1
                try:
                    item = decode_framed(parsed, raw, index, flowfile, content)
                    if isinstance(item, ChangeEvent):
                        line, reason = item.to_json(), None
                    else:
                        line, reason = None, item.error
                except Exception as exc:  # one record never stops the others
                    line, reason = None, internal_error(index, exc)
                    if debug:
                        err.write(debug_traceback(exc).encode())
                if line is not None:
                    written += 1
                    out.write(line)
                    out.write(b"\n")
                else:
                    rejected += 1
                    err.write(orjson.dumps({"index": index, "error": reason}))
                    err.write(b"\n")
        out.flush()
    except BrokenPipeError:
        # The reader went away (e.g. `| head`): stop quietly; the interpreter's final flush must not fail again.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1
    err.write(count_line(records, written, rejected))
    err.flush()
    return 1 if rejected else 0
