"""``claimflow transform [FILE|-]``: change records or change events in, validated and enriched claim rows out.

Input, detected per line: Kinesis-DynamoDB change records (any layout ``claimflow decode`` accepts) or change
events as ``claimflow decode`` writes them (a JSON object with ``event_name``). Output: one claim row per line
(NDJSON, every column of the row contract) on stdout; each rejected or invalid record as one JSON line on stderr
(``{"index": 3, "error": "..."}``, never a value of the record). NDJSON is read line by line and each row written
as soon as it is built, so memory does not grow with the input; any other layout (one document, an array) is read
whole (``claimflow.commands.framing``). A record that makes anything raise is rejected as ``record N: internal error
(<type>)`` and the rest go on; ``--debug`` adds its traceback without the message. The last line on stderr counts
every record: ``{"in": n, "out": n, "rejected": n}``. Exit status 0 when every record became a row, 1 when any was
rejected, 2 for a usage error.

PHI: ``--phi-mode pseudonymize`` replaces direct identifiers with keyed HMAC-SHA256 tokens. The key is read from
the environment variable CLAIMFLOW_HMAC_KEY (at least 32 random bytes, e.g. ``openssl rand -base64 48``), never
from an option, so it stays out of shell history and process listings. ``--safe-harbor`` (= ``--phi-mode
safe-harbor``) de-identifies each row by HIPAA's Safe Harbor method with the same key (docs/security.md).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Iterable
from typing import Any

import orjson

from claimflow.claims import ClaimSettings, PhiMode, Routed, route_events, route_record_fused
from claimflow.claims.settings import KEYED_MODES
from claimflow.commands.decode import add_time_arguments, flowfile_position, parse_attributes, read_input
from claimflow.commands.framing import Input
from claimflow.commands.records import RecordStep, run_records
from claimflow.dynamodb import MAX_ITEM_BYTES
from claimflow.events import REJECTION_FIELD, decode_framed
from claimflow.framing import MALFORMED, Content
from claimflow.kinesis import FlowFilePosition
from claimflow.record_routing import change_event_item, exact_change_events

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
    add_time_arguments(parser)


def _is_change_event(obj: object) -> bool:
    # A rejection envelope is not trusted here: the CLI's input may be raw, and a crafted envelope would put its
    # text into the reasons (TransformClaimChange reads the decoder's output, where envelopes are the decoder's).
    return isinstance(obj, dict) and "event_name" in obj and REJECTION_FIELD not in obj


class _Router:
    """One record -> its Routed outcome, by the path ``claimflow transform`` takes for it."""

    def __init__(
        self, settings: ClaimSettings, ingest_time_us: int, attributes: dict[str, str] | None,
        flowfile: FlowFilePosition | None, content: Content, exact: list[Any] | None,
    ) -> None:
        self.settings, self.ingest_time_us, self.attributes = settings, ingest_time_us, attributes
        self.flowfile, self.content, self.exact = flowfile, content, exact

    def route(self, parsed: object, raw: bytes | None, index: int) -> Routed:
        if _is_change_event(parsed):
            return self._event(parsed, raw, index)
        length = self.content.length if raw is None else len(raw)
        if parsed is MALFORMED or (length is not None and length > MAX_ITEM_BYTES):
            # The decoder's own framing and size rule (it measures the images of a record over the item limit).
            item = decode_framed(parsed, raw, index, self.flowfile, self.content, self.settings.time_rules)
            return next(route_events([item], self.settings, self.ingest_time_us, first_index=index))
        return route_record_fused(parsed, index, self.settings, self.ingest_time_us, self.attributes,
                                  single_record=self.content.single)

    def _event(self, parsed: object, raw: bytes | None, index: int) -> Routed:
        item = change_event_item(parsed, raw, index, self.exact, self.content)
        return next(route_events([item], self.settings, self.ingest_time_us, first_index=index))


def run(args: argparse.Namespace) -> int:
    prog = "claimflow transform"
    try:
        attributes = parse_attributes(args.attributes) or None
        settings = ClaimSettings.from_strings(
            phi_mode=args.phi_mode,
            hmac_key=os.environ.get(KEY_VARIABLE) if args.phi_mode in KEYED_MODES else None,
            generalize_zip3=args.zip3,
            generalize_birth_year=args.birth_year,
            strict=args.strict,
            max_clock_skew=args.max_clock_skew,
            millisecond_since=args.millisecond_precision_since,
        )
    except ValueError as error:
        hint = f" (set ${KEY_VARIABLE})" if args.phi_mode in KEYED_MODES and "HMAC" in str(error) else ""
        print(f"{prog}: {error}{hint}", file=sys.stderr)
        return 2
    readable, flowfile = flowfile_position(prog, attributes)
    if not readable:
        return 2
    handle = read_input(prog, args.file)
    if handle is None:
        return 2

    ingest_time_us = args.ingest_time_us if args.ingest_time_us is not None else time.time_ns() // 1000

    def prepare(framed: Input) -> tuple[Iterable[tuple[object, bytes | None]], RecordStep]:
        exact = None if framed.whole is None else exact_change_events(framed.whole)
        content = framed.content()
        router = _Router(settings, ingest_time_us, attributes, flowfile, content, exact)

        def step(parsed: object, raw: bytes | None, index: int) -> tuple[bytes | None, str | None]:
            outcome = router.route(parsed, raw, index)
            return (None if outcome.row is None else orjson.dumps(outcome.row)), outcome.error

        return content.records, step

    return run_records(handle, prepare, bool(getattr(args, "debug", False)))
