"""``claimflow transform [FILE|-]``: change records or change events in, validated and enriched claim rows out.

Input, detected per line: Kinesis-DynamoDB change records (any layout ``claimflow decode`` accepts) or change
events as ``claimflow decode`` writes them (a JSON object with ``event_name``). Output: one claim row per line
(NDJSON, every column of the row contract) on stdout; each rejected or invalid record as one JSON line on stderr
(``{"index": 3, "error": "..."}``, never a value of the record). Exit status 0 when every record became a row,
1 when any was rejected, 2 for a usage error.

PHI: ``--phi-mode pseudonymize`` replaces direct identifiers with keyed HMAC-SHA256 tokens. The key is read from
the environment variable CLAIMFLOW_HMAC_KEY (at least 32 random bytes, e.g. ``openssl rand -base64 48``), never
from an option, so it stays out of shell history and process listings. ``--safe-harbor`` (= ``--phi-mode
safe-harbor``) de-identifies each row by HIPAA's Safe Harbor method with the same key (docs/security.md).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import orjson

from claimflow.claims import ClaimSettings, PhiMode, route_events, route_records_fused
from claimflow.claims.settings import KEYED_MODES
from claimflow.commands.decode import parse_attributes, read_input
from claimflow.events import ChangeEvent, DecodeError, Rejection, decode_record, decode_records

KEY_VARIABLE = "CLAIMFLOW_HMAC_KEY"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "file", nargs="?", default="-", metavar="FILE",
        help="change records or change events ('-' or omitted: stdin)",
    )
    parser.add_argument(
        "--phi-mode", choices=[m.value for m in PhiMode], default=PhiMode.PASSTHROUGH.value,
        help=f"how PHI is written (pseudonymize and safe-harbor read their key from ${KEY_VARIABLE})",
    )
    parser.add_argument(
        "--safe-harbor", dest="phi_mode", action="store_const", const=PhiMode.SAFE_HARBOR.value,
        help="the HIPAA Safe Harbor preset (= --phi-mode safe-harbor): dates to the year, ages over 89 as 90, "
        "ZIP3 with the 000 rule, direct identifiers removed, keys as keyed tokens (docs/security.md)",
    )
    parser.add_argument("--zip3", action="store_true", help="keep only ZIP3 of the patient ZIP and drop the city")
    parser.add_argument("--birth-year", action="store_true", help="keep only the year of birth; cap ages at 90")
    parser.add_argument("--strict", action="store_true", help="reject claims with any data-quality flag")
    parser.add_argument(
        "--ingest-time-us", type=int, default=None, metavar="EPOCH_US",
        help="ingestTime of every row, epoch microseconds (default: now); fixes output for reproducible runs",
    )
    parser.add_argument(
        "--attributes", action="append", default=[], metavar="KEY=VALUE",
        help="a FlowFile attribute to simulate, e.g. aws.kinesis.shard.id=shardId-000000000000 (repeatable)",
    )


def _lines(data: bytes) -> list[bytes]:
    return [line for line in data.split(b"\n") if line.strip()]


def _is_change_event(obj: object) -> bool:
    return isinstance(obj, dict) and "event_name" in obj


def _mixed(lines: list[bytes], attributes: dict[str, str] | None) -> Iterator[ChangeEvent | Rejection]:
    """NDJSON holding change events and/or change records, one per line; ``attributes`` give the records their
    Kinesis position as ``decode_records`` gives it to a record of a many-record FlowFile."""
    for index, line in enumerate(lines):
        try:
            obj = orjson.loads(line)
        except orjson.JSONDecodeError:
            yield Rejection.malformed(index, line)
            continue
        try:
            if _is_change_event(obj):
                yield ChangeEvent.from_json(line, index)
            else:
                yield decode_record(obj, index, attributes, single_record=False)
        except DecodeError as error:
            yield Rejection.of_error(error, line)


def _items(data: bytes, attributes: dict[str, str] | None) -> Iterator[ChangeEvent | Rejection] | None:
    """Decoded items when the input holds change events; None when it holds only change records."""
    if b'"event_name"' not in data:
        return None
    lines = _lines(data)
    if len(lines) > 1:
        try:
            orjson.loads(lines[0])
            return _mixed(lines, attributes)
        except orjson.JSONDecodeError:
            pass  # one pretty-printed document
    try:
        # Exact: N values in images stay Decimal (orjson would read them as floats).
        document = json.loads(data, parse_float=Decimal, parse_int=Decimal)
    except (ValueError, RecursionError):
        return decode_records(data, attributes)
    documents = document if isinstance(document, list) else [document]
    if documents and all(_is_change_event(d) for d in documents):
        return _change_events(documents)
    return decode_records(data, attributes)


def _change_events(documents: list[Any]) -> Iterator[ChangeEvent | Rejection]:
    """Change events of one JSON document (an object or an array), parsed exactly."""
    for index, obj in enumerate(documents):
        try:
            yield ChangeEvent.from_obj(obj, index)
        except DecodeError as error:
            yield Rejection.of_error(error, orjson.dumps(obj, default=_exact_number))


def _exact_number(value: object) -> Any:
    if isinstance(value, Decimal):
        return orjson.Fragment(str(value))
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def run(args: argparse.Namespace) -> int:
    try:
        attributes = parse_attributes(args.attributes) or None
        settings = ClaimSettings.from_strings(
            phi_mode=args.phi_mode,
            hmac_key=os.environ.get(KEY_VARIABLE) if args.phi_mode in KEYED_MODES else None,
            generalize_zip3=args.zip3,
            generalize_birth_year=args.birth_year,
            strict=args.strict,
        )
    except ValueError as error:
        hint = f" (set ${KEY_VARIABLE})" if args.phi_mode in KEYED_MODES else ""
        print(f"claimflow transform: {error}{hint}", file=sys.stderr)
        return 2
    data = read_input("claimflow transform", args.file)
    if data is None:
        return 2

    ingest_time_us = args.ingest_time_us if args.ingest_time_us is not None else time.time_ns() // 1000
    items = _items(data, attributes)
    if items is None:
        routed = route_records_fused(data, settings, ingest_time_us, attributes)
    else:
        routed = route_events(items, settings, ingest_time_us)
    out = sys.stdout.buffer
    err = sys.stderr.buffer
    rejected = 0
    try:
        for outcome in routed:
            if outcome.row is not None:
                out.write(orjson.dumps(outcome.row))
                out.write(b"\n")
            else:
                rejected += 1
                err.write(orjson.dumps({"index": outcome.index, "error": outcome.error}))
                err.write(b"\n")
        out.flush()
        err.flush()
    except BrokenPipeError:
        # The reader went away (e.g. `| head`): stop quietly; point stdout at /dev/null so the interpreter's final
        # flush does not fail again.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1
    return 1 if rejected else 0
