"""``claimflow demo --existing N``: a table that already holds claims when streaming starts, backfilled.

1. The table is created WITHOUT a stream and N claims (with their lifecycles) are written: history no stream
   will ever replay, as on a production table that predates ClaimFlow.
2. The stream is enabled (the bridge, playing Kinesis Data Streams for DynamoDB, starts at its beginning), and
   some existing claims change before the snapshot (so the stream holds events older than the snapshot, delivered
   after it: they must lose).
3. The snapshot: by default a DynamoDB export to S3 through moto's ``ExportTableToPointInTime`` (moto 5.2 writes one
   gzipped DYNAMODB_JSON data file and no manifests, and exports the table as it is when its export thread runs,
   ignoring ExportTime; the demo stamps the rows with the ExportTime it asked for, which is before moto's copy, so
   the rows never claim to be newer than they are, docs/backfill.md). ``--backfill-source scan`` (and real AWS)
   use the parallel Scan instead. The rows land through the project's merge (``SnapshotLander``: the claims core,
   as TransformClaimChange builds rows) in the demo's Snowflake, then the full refresh runs (nothing to tombstone
   in a fresh Snowflake: it shows the mode, counted).
4. Some existing claims change after the snapshot (those events must win); then the demo streams as usual.
The snapshot rows' event ids join the bridge's ledger, so the reconciliation counts them among the history's
events. The reconciliation compares every column of rows.COLUMNS outside the CDC group, so a VARIANT column for
attributes outside the claim schema (``extraAttributes``, issue 13 item 3) is compared as soon as rows.py has it.
"""

from __future__ import annotations

import random
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
from botocore.config import Config

from claimflow.backfill.export import DataFile, ExportManifest, file_events, read_data_file
from claimflow.backfill.land import SnapshotLander
from claimflow.backfill.scan import ParallelScan, ScanSettings
from claimflow.backfill.snapshot import source_id
from claimflow.demo.aws import EMULATOR_CREDENTIALS, TTL_ATTRIBUTE, AwsClients
from claimflow.demo.generator import GenerateStats, GeneratorConfig, generate

EXPORT_BUCKET = "claimflow-demo-exports"
EXPORT_PREFIX = "insurance-claims"
SOURCES = ("export", "scan")
TOUCH_BEFORE = 0.10  # share of existing claims changed after the stream starts, before the snapshot
TOUCH_AFTER = 0.10  # ... and after it
DELETE_AFTER = 0.03
SEED_OFFSET = 7919  # existing claims use another seed than the streamed ones: other claim ids


@dataclass
class BackfillReport:
    source: str
    existing: GenerateStats
    items: int = 0
    rows: int = 0
    rejected: int = 0
    inserted: int = 0
    updated: int = 0
    snapshot_time_us: int = 0
    changed_before: int = 0
    changed_after: int = 0
    deleted_after: int = 0
    refreshed: int = 0
    read_units: float = 0.0
    snapshot_s: float = 0.0
    elapsed_s: float = 0.0


def write_existing(clients: AwsClients, table_name: str, claims: int, seed: int) -> GenerateStats:
    """Create ``table_name`` without a stream (PITR on, TTL on) and write ``claims`` claims into it."""
    ddb = clients.dynamodb
    ddb.create_table(
        TableName=table_name,
        KeySchema=[{"AttributeName": "claim_id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "claim_id", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    ddb.get_waiter("table_exists").wait(TableName=table_name, WaiterConfig={"Delay": 1, "MaxAttempts": 60})
    ddb.update_time_to_live(TableName=table_name,
                            TimeToLiveSpecification={"Enabled": True, "AttributeName": TTL_ATTRIBUTE})  # fmt: skip
    ddb.update_continuous_backups(TableName=table_name,
                                  PointInTimeRecoverySpecification={"PointInTimeRecoveryEnabled": True})  # fmt: skip
    stats = generate(ddb, table_name, GeneratorConfig(claims=claims, seed=seed + SEED_OFFSET))
    ddb.update_table(TableName=table_name,
                     StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"})  # fmt: skip
    return stats


def _claim_ids(ddb: Any, table_name: str) -> list[str]:
    ids, kwargs = [], {"TableName": table_name, "ProjectionExpression": "claim_id"}
    while True:
        page = ddb.scan(**kwargs)
        ids += [item["claim_id"]["S"] for item in page.get("Items", [])]
        if "LastEvaluatedKey" not in page:
            return sorted(ids)
        kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def _change(ddb: Any, table_name: str, claim_ids: list[str], status: str) -> None:
    for claim_id in claim_ids:
        ddb.update_item(TableName=table_name, Key={"claim_id": {"S": claim_id}},
                        UpdateExpression="SET claim_status = :s", ExpressionAttributeValues={":s": {"S": status}})


def _s3(clients: AwsClients) -> Any:
    config = Config(retries={"max_attempts": 8, "mode": "adaptive"})
    if clients.endpoint_url:
        session = boto3.session.Session(region_name=clients.region, **EMULATOR_CREDENTIALS)
        return session.client("s3", endpoint_url=clients.endpoint_url,
                              config=config.merge(Config(account_id_endpoint_mode="disabled")))  # fmt: skip
    return boto3.session.Session(region_name=clients.region).client("s3", config=config)


def _export(clients: AwsClients, table_name: str, lander: SnapshotLander, workdir: Path) -> tuple[int, str]:
    """Export through moto's ExportTableToPointInTime and land its data files; (snapshot time, source id)."""
    s3 = _s3(clients)
    s3.create_bucket(Bucket=EXPORT_BUCKET)
    table_arn = clients.dynamodb.describe_table(TableName=table_name)["Table"]["TableArn"]
    export_time_us = time.time_ns() // 1000 - 1000  # asked for: a moment ago (moto copies the table later)
    started = clients.dynamodb.export_table_to_point_in_time(
        TableArn=table_arn, ExportTime=export_time_us / 1_000_000, S3Bucket=EXPORT_BUCKET, S3Prefix=EXPORT_PREFIX,
        ExportFormat="DYNAMODB_JSON",
    )["ExportDescription"]  # fmt: skip
    arn = started["ExportArn"]
    deadline = time.monotonic() + 600
    while (status := clients.dynamodb.describe_export(ExportArn=arn)["ExportDescription"])["ExportStatus"] in (
        "IN_PROGRESS",
    ):
        if time.monotonic() > deadline:
            raise RuntimeError("the export did not complete within 10 minutes")
        time.sleep(0.2)
    if status["ExportStatus"] != "COMPLETED":
        raise RuntimeError(f"the export ended {status['ExportStatus']} ({status.get('FailureCode')})")
    # moto writes no manifest-files.json: the data files are listed instead (on AWS: backfill.export.load_manifest).
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=EXPORT_BUCKET, Prefix=f"{EXPORT_PREFIX}/").get("Contents", [])
            if "/data/" in o["Key"]]  # fmt: skip
    manifest = ExportManifest(arn, table_arn, export_time_us, status.get("ItemCount"),
                              tuple(DataFile(k, None) for k in keys))  # fmt: skip
    snapshot = manifest.snapshot()
    for data_file in manifest.data_files:
        lander.land(file_events(read_data_file(s3, EXPORT_BUCKET, data_file), snapshot, data_file.key))
    lander.flush()
    if manifest.item_count is not None and lander.report.items != manifest.item_count:
        raise RuntimeError(f"the export holds {lander.report.items} items, DescribeExport says {manifest.item_count}")
    return snapshot.time_us, snapshot.source


def _scan(clients: AwsClients, table_name: str, lander: SnapshotLander, workdir: Path,
          report: BackfillReport) -> tuple[int, str]:  # fmt: skip
    checkpoint = workdir / "backfill-scan.json"
    checkpoint.unlink(missing_ok=True)
    settings = ScanSettings(table_name, total_segments=4, read_units_per_second=50_000.0)

    def on_page(page: Any) -> None:
        lander.land(page.items)

    result = ParallelScan(clients.dynamodb, settings, checkpoint).run(on_page)
    lander.flush()
    report.read_units = result.read_units
    return result.snapshot_floor_us, source_id(result.scan_id)


def backfill_existing(
    clients: AwsClients, table_name: str, existing: GenerateStats, sink: Any, connection: Any, settings: Any,
    ledger: Any, workdir: Path, source: str, seed: int,
) -> BackfillReport:  # fmt: skip
    """Steps 2 to 4 of the module docstring (the stream is enabled, the bridge not yet pumped)."""
    started = time.monotonic()
    report = BackfillReport(source, existing)
    ddb = clients.dynamodb
    rng = random.Random(seed + SEED_OFFSET)
    ids = _claim_ids(ddb, table_name)
    before = rng.sample(ids, int(len(ids) * TOUCH_BEFORE))
    _change(ddb, table_name, before, "In Review")
    report.changed_before = len(before)
    lander = SnapshotLander(sink, settings)
    snapshot_started = time.monotonic()
    if source == "export":
        time_us, snapshot_source = _export(clients, table_name, lander, workdir)
    else:
        time_us, snapshot_source = _scan(clients, table_name, lander, workdir, report)
    report.snapshot_s = time.monotonic() - snapshot_started
    refresh = lander.full_refresh(time_us, snapshot_source)
    report.refreshed = refresh.written
    landed = lander.report
    report.items, report.rows, report.rejected = landed.items, landed.rows, landed.rejected
    report.inserted, report.updated, report.snapshot_time_us = landed.inserted, landed.updated, time_us
    _record_snapshot_events(connection, ledger)
    rest = sorted(set(ids) - set(before))
    after = rng.sample(rest, int(len(ids) * TOUCH_AFTER))
    _change(ddb, table_name, after, "Closed")
    report.changed_after = len(after)
    gone = rng.sample(sorted(set(rest) - set(after)), int(len(ids) * DELETE_AFTER))
    for claim_id in gone:
        ddb.delete_item(TableName=table_name, Key={"claim_id": {"S": claim_id}})
    report.deleted_after = len(gone)
    report.elapsed_s = time.monotonic() - started
    return report


def _record_snapshot_events(connection: Any, ledger: Any) -> None:
    """The snapshot rows' (and refresh tombstones') event ids join the ledger the reconciliation checks."""
    cursor = connection.cursor()
    try:
        cursor.execute("SELECT DISTINCT eventId FROM CLAIMS_EVENT_HISTORY WHERE STARTSWITH(eventId, 'snapshot:')")
        for (event_id,) in cursor.fetchall():
            ledger.add(str(event_id))
    finally:
        cursor.close()
