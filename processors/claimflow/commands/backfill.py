"""``claimflow backfill``: load a table's existing items (a snapshot) so that the stream can take over.

Two sources, both producing the change events the rest of the pipeline understands (docs/backfill.md):

- ``--export s3://bucket/prefix``: a DynamoDB export to S3 (ExportTableToPointInTime, DYNAMODB_JSON), read from its
  manifests; the rows carry the export time. Needs point-in-time recovery; reads no table capacity.
- ``--scan --table NAME``: a parallel Scan (``--segments``), rate-limited to ``--read-share`` of the table's read
  capacity (or ``--read-units-per-second``), resumable from ``--checkpoint``; each page's rows carry the time it
  was requested, less ``--clock-margin-ms``.

With ``--snowflake-connection NAME`` the items become claim rows and land through the same merge as the stream
(``--full-refresh`` then tombstones the claims the complete snapshot does not hold); without it, the change events
are written as NDJSON on stdout (pipe them into ``claimflow transform``). Rejected items: one JSON line each on
stderr (index and reason, never a value). Exit status 0 when every item landed, 1 when any was rejected, 2 when the
command itself failed (one line; ``--debug`` for the traceback).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import orjson

from claimflow import names
from claimflow.commands.errors import CommandError

KEY_VARIABLE = "CLAIMFLOW_HMAC_KEY"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--export", metavar="S3_URL", help="s3://bucket/prefix of a completed DYNAMODB_JSON export")
    source.add_argument("--scan", action="store_true", help="a parallel Scan of --table (no PITR needed)")
    parser.add_argument("--table", default=names.DYNAMODB_TABLE, help=f"table to scan ({names.DYNAMODB_TABLE})")
    parser.add_argument("--segments", type=int, default=4, help="scan: TotalSegments (4)")
    parser.add_argument("--workers", type=int, default=None, help="scan: threads (default min(segments, 8))")
    parser.add_argument("--read-share", type=float, default=0.25,
                        help="scan: share of the table's provisioned read capacity to use (0.25)")  # fmt: skip
    parser.add_argument("--read-units-per-second", type=float, default=None,
                        help="scan: read capacity units per second to use (needed for an on-demand table)")  # fmt: skip
    parser.add_argument("--page-limit", type=int, default=None, help="scan: items per Scan call (default: 1 MB pages)")
    parser.add_argument("--checkpoint", type=Path, default=None,
                        help="scan: checkpoint file (.backfill/scan-<table>.json); re-run to resume")  # fmt: skip
    parser.add_argument("--clock-margin-ms", type=int, default=None,
                        help="subtract from the snapshot time (default 0 for an export, 1000 for a scan)")  # fmt: skip
    parser.add_argument("--key-attributes", default=None,
                        help="export: the table's key attribute names, comma-separated (claim_id)")  # fmt: skip
    parser.add_argument("--region", default=None, help="AWS region (default: the profile's)")
    parser.add_argument("--profile", default=None, help="AWS profile")
    parser.add_argument("--endpoint-url", default=None, help="an AWS-compatible endpoint (an emulator such as moto)")
    land = parser.add_argument_group("landing in Snowflake (otherwise: change events on stdout)")
    land.add_argument("--snowflake-connection", metavar="NAME", help="a connection in ~/.snowflake/connections.toml")
    land.add_argument("--full-refresh", action="store_true",
                      help="after a complete snapshot, tombstone the live claims it does not hold (docs/backfill.md)")
    land.add_argument("--batch-size", type=int, default=2000, help="rows per Snowflake transaction (2000)")
    land.add_argument("--phi-mode", choices=["passthrough", "pseudonymize", "safe-harbor"], default="passthrough",
                      help=f"as in claimflow transform (keyed modes read ${KEY_VARIABLE})")  # fmt: skip
    land.add_argument("--zip3", action="store_true", help="as in claimflow transform")
    land.add_argument("--birth-year", action="store_true", help="as in claimflow transform")
    land.add_argument("--strict", action="store_true", help="as in claimflow transform")


def aws_clients(args: argparse.Namespace) -> tuple[Any, Any]:
    """(dynamodb, s3) clients; an endpoint URL gets the emulator's fake credentials, as the demo's clients do."""
    import boto3
    from botocore.config import Config

    config = Config(retries={"max_attempts": 8, "mode": "adaptive"})
    if args.endpoint_url:
        session = boto3.session.Session(region_name=args.region or "us-east-1",
                                        aws_access_key_id="testing", aws_secret_access_key="testing")  # fmt: skip
        kwargs: dict[str, Any] = {"config": config.merge(Config(account_id_endpoint_mode="disabled")),
                                  "endpoint_url": args.endpoint_url}  # fmt: skip
    else:
        session = boto3.session.Session(region_name=args.region, profile_name=args.profile)
        kwargs = {"config": config}
    return session.client("dynamodb", **kwargs), session.client("s3", **kwargs)


class _Output:
    """Where the events go: claim rows through the merge (a lander), or NDJSON change events on stdout."""

    def __init__(self, lander: Any | None) -> None:
        self.lander = lander
        self.items = self.rejected = 0

    def take(self, items: Iterable[Any]) -> None:
        from claimflow.events import Rejection

        items = list(items)
        self.items += len(items)
        if self.lander is not None:
            before = self.lander.report.rejected
            self.lander.land(items)
            self.rejected += self.lander.report.rejected - before
            return
        out, err = sys.stdout.buffer, sys.stderr.buffer
        for item in items:
            if isinstance(item, Rejection):
                self.rejected += 1
                err.write(orjson.dumps({"index": item.index, "error": item.error}) + b"\n")
            else:
                out.write(item.to_json() + b"\n")
        out.flush()


def _settings(args: argparse.Namespace) -> Any:
    from claimflow.claims import ClaimSettings
    from claimflow.claims.settings import KEYED_MODES

    try:
        return ClaimSettings.from_strings(
            phi_mode=args.phi_mode,
            hmac_key=os.environ.get(KEY_VARIABLE) if args.phi_mode in KEYED_MODES else None,
            generalize_zip3=args.zip3, generalize_birth_year=args.birth_year, strict=args.strict,
        )  # fmt: skip
    except ValueError as error:
        raise CommandError(f"{error} (set ${KEY_VARIABLE})") from None


def _lander(args: argparse.Namespace, connection: Any) -> Any:
    from claimflow.backfill.land import SnapshotLander
    from claimflow.snowflake import SnowflakeSink

    return SnapshotLander(SnowflakeSink(connection), _settings(args), batch_size=args.batch_size)


def run(args: argparse.Namespace) -> int:
    from claimflow.backfill.snapshot import SnapshotError

    if args.full_refresh and not args.snowflake_connection:
        raise CommandError("--full-refresh tombstones claims in Snowflake: give --snowflake-connection")
    if args.batch_size < 1:
        raise CommandError("--batch-size must be at least 1")
    connection = None
    if args.snowflake_connection:
        import snowflake.connector

        connection = snowflake.connector.connect(connection_name=args.snowflake_connection, paramstyle="qmark")
    try:
        output = _Output(_lander(args, connection) if connection is not None else None)
        try:
            summary = backfill(args, output)
        except SnapshotError as error:
            raise CommandError(f"{error}") from None
    finally:
        if connection is not None:
            connection.close()
    print(f"claimflow backfill: {summary}", file=sys.stderr)
    if output.lander is not None:
        for index, reason in output.lander.report.reasons:
            sys.stderr.buffer.write(orjson.dumps({"index": index, "error": reason}) + b"\n")
    return 1 if output.rejected else 0


def backfill(args: argparse.Namespace, output: _Output, clients: Callable[..., tuple[Any, Any]] = aws_clients) -> str:
    """Read the snapshot into ``output``; run the full refresh when asked; a one-line summary."""
    from claimflow.backfill.land import RefreshRefused

    dynamodb, s3 = clients(args)
    started = time.monotonic()
    if args.export:
        floor_us, source, what = _from_export(args, s3, output)
    else:
        floor_us, source, what, complete = _from_scan(args, dynamodb, output)
        if not complete:
            return f"{what}; scan not complete (re-run the same command to resume)"
    if output.lander is not None:
        output.lander.flush()
    report = output.lander.report if output.lander is not None else None
    landed = "" if report is None else (
        f"; {report.rows} rows in {report.batches} batches ({report.inserted} inserted, {report.updated} updated, "
        f"{report.ignored} older than what Snowflake holds)"
    )  # fmt: skip
    refreshed = ""
    if args.full_refresh and output.lander is not None:
        try:
            result = output.lander.full_refresh(floor_us, source)
        except RefreshRefused as error:
            raise CommandError(str(error)) from None
        refreshed = (f"; full refresh: {result.written} claims absent from the snapshot tombstoned "
                     f"({result.applied} applied, {result.kept} kept because their item was rejected)")  # fmt: skip
    elapsed = time.monotonic() - started
    return f"{what}: {output.items} items, {output.rejected} rejected{landed}{refreshed}; {elapsed:.1f} s"


def _from_export(args: argparse.Namespace, s3: Any, output: _Output) -> tuple[int, str, str]:
    from claimflow.backfill.export import file_events, load_manifest, read_data_file

    keys = tuple(k.strip() for k in (args.key_attributes or "claim_id").split(",") if k.strip())
    margin_us = 1000 * (args.clock_margin_ms if args.clock_margin_ms is not None else 0)
    bucket, manifest = load_manifest(s3, args.export)
    snapshot = manifest.snapshot(keys, margin_us)
    for data_file in manifest.data_files:
        output.take(file_events(read_data_file(s3, bucket, data_file), snapshot, data_file.key))
    if manifest.item_count is not None and output.items != manifest.item_count:
        raise CommandError(f"the export's data files hold {output.items} items, its manifest says "
                           f"{manifest.item_count}: the export is incomplete or altered")  # fmt: skip
    return snapshot.time_us, snapshot.source, f"export {manifest.export_arn} ({len(manifest.data_files)} data files)"


def _from_scan(args: argparse.Namespace, dynamodb: Any, output: _Output) -> tuple[int, str, str, bool]:
    from claimflow.backfill.scan import DEFAULT_CLOCK_MARGIN_US, ParallelScan, ScanSettings
    from claimflow.backfill.snapshot import source_id

    margin_us = DEFAULT_CLOCK_MARGIN_US if args.clock_margin_ms is None else 1000 * args.clock_margin_ms
    settings = ScanSettings(
        table_name=args.table, total_segments=args.segments, workers=args.workers, read_share=args.read_share,
        read_units_per_second=args.read_units_per_second, page_limit=args.page_limit, clock_margin_us=margin_us,
    )  # fmt: skip
    checkpoint = args.checkpoint or Path(".backfill") / f"scan-{args.table}.json"
    report = ParallelScan(dynamodb, settings, checkpoint).run(lambda page: output.take(page.items))
    what = (f"scan {report.scan_id} of {args.table} ({settings.total_segments} segments, {report.pages} pages this "
            f"run, {report.read_units:,.0f} read units, budget {report.budget_units_per_second:,.0f}/s, "
            f"{report.throttle_wait_s:.1f} s throttled)")  # fmt: skip
    return report.snapshot_floor_us, source_id(report.scan_id), what, report.complete
