"""Both snapshot sources, against moto through boto3, landing through the project's merge on fakesnow:
an export file set in the real DYNAMODB_JSON layout (manifests, gzipped data files, an empty one) and a parallel
Scan that is interrupted and resumed from its checkpoint file. Bad input: one rejection per line with its reason,
never a value; counts in = out + rejected."""

from __future__ import annotations

import argparse
import gzip
import json
from pathlib import Path
from typing import Any

import pytest

from claimflow.backfill.export import file_events, load_manifest
from claimflow.backfill.land import RefreshRefused, SnapshotLander
from claimflow.backfill.scan import ParallelScan, RateLimiter, ScanSettings, read_units, table_read_budget
from claimflow.backfill.snapshot import Snapshot, SnapshotError, parse_time_us, source_id, wire_image
from claimflow.claims import ClaimSettings
from claimflow.commands.backfill import _Output, backfill
from claimflow.demo.reconcile import compare_rows, expected_row
from claimflow.events import ChangeEvent, Rejection, is_snapshot_event_id
from claimflow.snowflake import SnowflakeSink, fetch_current_state, spec

from ._harness import make_row
from .conftest import TABLE

pytestmark = pytest.mark.filterwarnings("ignore:Arrow output:UserWarning")

EXPORT_TIME = "2026-01-15T10:20:30.123Z"
EXPORT_TIME_US = 1_768_472_430_123_000
EXPORT_ARN = f"arn:aws:dynamodb:us-east-1:123456789012:table/{TABLE}/export/01768472430123-abcd1234"
SENTINEL = "Zebediah-Sentinel"  # a synthetic value that must never appear in a reason


def write_export(s3: Any, bucket: str, prefix: str, items: list[dict[str, Any]], extra_lines: list[bytes] = ()) -> str:
    """An export in the documented layout: manifest-summary.json, manifest-files.json (one object per line),
    data/*.json.gz with one {"Item": ...} per line, one data file empty (an empty partition)."""
    s3.create_bucket(Bucket=bucket)
    export_dir = f"{prefix}/AWSDynamoDB/01768472430123-abcd1234"
    lines = [json.dumps({"Item": wire_image(i)}).encode() for i in items] + list(extra_lines)
    halves = [lines[: len(lines) // 2], lines[len(lines) // 2 :], []]
    files = []
    for n, chunk in enumerate(halves):
        key = f"{export_dir}/data/part{n}.json.gz"
        s3.put_object(Bucket=bucket, Key=key, Body=gzip.compress(b"".join(line + b"\n" for line in chunk)))
        files.append({"itemCount": len(chunk), "md5Checksum": "x", "etag": "y",
                      "dataFileS3Key": key.removeprefix(prefix + "/")})  # relative to the prefix, as AWS shows it
    s3.put_object(Bucket=bucket, Key=f"{export_dir}/manifest-files.json",
                  Body="\n".join(json.dumps(f) for f in files).encode())
    summary = {"version": "2020-06-30", "exportArn": EXPORT_ARN, "startTime": EXPORT_TIME, "endTime": EXPORT_TIME,
               "tableArn": f"arn:aws:dynamodb:us-east-1:123456789012:table/{TABLE}", "exportTime": EXPORT_TIME,
               "s3Bucket": bucket, "s3Prefix": prefix, "manifestFilesS3Key": f"{export_dir.removeprefix(prefix + '/')}"
               "/manifest-files.json", "itemCount": len(lines), "outputFormat": "DYNAMODB_JSON"}  # fmt: skip
    s3.put_object(Bucket=bucket, Key=f"{export_dir}/manifest-summary.json", Body=json.dumps(summary).encode())
    s3.put_object(Bucket=bucket, Key=f"{export_dir}/_started", Body=b"")
    return f"s3://{bucket}/{prefix}"


def _args(**overrides: Any) -> argparse.Namespace:
    base = {"export": None, "scan": False, "table": TABLE, "segments": 3, "workers": None, "read_share": 0.25,
            "read_units_per_second": 100_000.0, "page_limit": 7, "checkpoint": None, "clock_margin_ms": None,
            "key_attributes": None, "region": "us-east-1", "profile": None, "endpoint_url": None,
            "snowflake_connection": None, "full_refresh": False, "batch_size": 500, "phi_mode": "passthrough",
            "zip3": False, "birth_year": False, "strict": False}  # fmt: skip
    base.update(overrides)
    return argparse.Namespace(**base)


def assert_destination_holds(conn: Any, items: list[dict[str, Any]], time_us: int | None = None) -> dict[str, Any]:
    state = fetch_current_state(conn)
    assert {k for k, v in state.items() if not v[spec.IS_DELETED]} == {i["claim_id"]["S"] for i in items}
    settings = ClaimSettings()
    for item in items:
        row = state[item["claim_id"]["S"]]
        assert is_snapshot_event_id(row["eventId"]) and row["eventName"] == "INSERT"
        if time_us is not None:
            assert int(row["eventCreationUnixTime"]) == time_us
        expected = expected_row(item, "us-east-1", TABLE, int(row["eventCreationUnixTime"]), settings)
        assert compare_rows(expected, row) == [], item["claim_id"]["S"]  # field by field, as the demo reconciles
    return state


def test_export_file_set_lands_through_the_merge(s3: Any, items: list[dict[str, Any]], snowflake: Any) -> None:
    url = write_export(s3, "exports-a", "claims/2026", items)
    bucket, manifest = load_manifest(s3, url)
    assert (bucket, manifest.export_time_us, manifest.table_name, manifest.aws_region) == (
        "exports-a", EXPORT_TIME_US, TABLE, "us-east-1")  # fmt: skip
    assert [f.item_count for f in manifest.data_files] == [len(items) // 2, len(items) - len(items) // 2, 0]
    lander = SnapshotLander(SnowflakeSink(snowflake), ClaimSettings(), batch_size=9)
    output = _Output(lander)
    summary = backfill(_args(export=url), output, clients=lambda _a: (None, s3))
    assert f"{len(items)} items, 0 rejected" in summary
    assert lander.report.rows == len(items) and lander.report.batches == -(-len(items) // 9)
    assert_destination_holds(snowflake, items, EXPORT_TIME_US)
    # Read twice: the same event ids (a replay is a copy of one event), nothing newer, nothing changes.
    again = SnapshotLander(SnowflakeSink(snowflake), ClaimSettings())
    backfill(_args(export=url), _Output(again), clients=lambda _a: (None, s3))
    assert (again.report.inserted, again.report.updated, again.report.ignored) == (0, 0, len(items))
    cur = snowflake.cursor()
    cur.execute("SELECT COUNT(*), COUNT(DISTINCT eventId) FROM CLAIMS_EVENT_HISTORY")
    assert cur.fetchone() == (2 * len(items), len(items))


def test_stream_events_around_the_export_time_win_or_lose_by_time(
    s3: Any, items: list[dict[str, Any]], snowflake: Any
) -> None:
    url = write_export(s3, "exports-b", "p", items)
    sink = SnowflakeSink(snowflake)
    a, b, c = (i["claim_id"]["S"] for i in items[:3])
    # Delivered BEFORE the backfill: a MODIFY one microsecond after the export time, one exactly at it (a tie:
    # the stream wins), a REMOVE one microsecond before it (the snapshot, which still holds c, wins).
    sink.write_batch([
        make_row(a, "MODIFY", EXPORT_TIME_US + 1, seq="7", event_id="ev-a", claimId=a, totalCharge="1.00"),
        make_row(b, "MODIFY", EXPORT_TIME_US, seq=None, event_id="ev-b", claimId=b, totalCharge="2.00"),
        make_row(c, "REMOVE", EXPORT_TIME_US - 1, seq="9", event_id="ev-c", claimId=c),
    ])  # fmt: skip
    backfill(_args(export=url), _Output(SnapshotLander(sink, ClaimSettings())), clients=lambda _a: (None, s3))
    state = fetch_current_state(snowflake)
    assert (state[a]["eventId"], str(state[a]["totalCharge"])) == ("ev-a", "1.00")
    assert (state[b]["eventId"], str(state[b]["totalCharge"])) == ("ev-b", "2.00")
    assert is_snapshot_event_id(state[c]["eventId"]) and not state[c][spec.IS_DELETED]
    # Delivered AFTER the backfill: an event older than the export loses, a newer one wins.
    sink.write_batch([make_row(c, "MODIFY", EXPORT_TIME_US - 5, seq="5", event_id="ev-c0", claimId=c)])
    assert is_snapshot_event_id(fetch_current_state(snowflake)[c]["eventId"])
    sink.write_batch([make_row(c, "REMOVE", EXPORT_TIME_US + 5, seq="11", event_id="ev-c2", claimId=c)])
    assert fetch_current_state(snowflake)[c][spec.IS_DELETED]


def test_bad_export_lines_are_rejected_one_by_one_without_values(items: list[dict[str, Any]]) -> None:
    snapshot = Snapshot(source_id(EXPORT_ARN), EXPORT_TIME_US)
    good = [json.dumps({"Item": wire_image(i)}).encode() for i in items[:3]]
    bad = [
        b'{"Item": {"claim_id": {"S": "' + SENTINEL.encode() + b'"',  # torn line
        json.dumps({"Item": {"patient_name": {"S": SENTINEL}}}).encode(),  # no key attribute
        json.dumps({"Item": {"claim_id": {"S": "C-1"}, "total_charge": {"N": SENTINEL}}}).encode(),
        json.dumps({"Item": {"claim_id": {"S": "C-2"}, "units": {"N": 1.5}}}).encode(),  # a float, not DynamoDB JSON
        json.dumps({"NotItem": {}}).encode(),
    ]
    lines = [good[0], *bad[:2], good[1], b"", *bad[2:], good[2]]
    out = list(file_events(gzip.compress(b"\n".join(lines)), snapshot, "data/x.json.gz"))
    assert len(out) == len(lines) - 1  # the blank line is no item: counts in = out + rejected
    rejected = [o for o in out if isinstance(o, Rejection)]
    assert [r.index for r in rejected] == [1, 2, 4, 5, 6]
    assert [r.rule for r in rejected][:2] == ["malformed JSON", "the item lacks its key attribute 'claim_id'"]
    assert "N value is not a decimal number" in rejected[2].error and "JSON number" in rejected[3].error
    assert all(SENTINEL not in r.error and r.event_id and is_snapshot_event_id(r.event_id) for r in rejected)
    assert len({o.event_id for o in out}) == len(out)  # every line its own id
    with pytest.raises(SnapshotError, match="not valid gzip"):
        list(file_events(gzip.compress(b"x" * 1000)[:20], snapshot, "k"))


def test_manifest_problems_are_one_clear_error(s3: Any) -> None:
    s3.create_bucket(Bucket="exports-c")
    with pytest.raises(SnapshotError, match=r"no manifest-summary\.json under s3://exports-c/none/"):
        load_manifest(s3, "s3://exports-c/none")
    s3.put_object(Bucket="exports-c", Key="x/AWSDynamoDB/1/manifest-summary.json",
                  Body=json.dumps({"exportArn": "a", "exportTime": EXPORT_TIME, "outputFormat": "ION"}).encode())
    with pytest.raises(SnapshotError, match="outputFormat 'ION' is not supported"):
        load_manifest(s3, "s3://exports-c/x")
    with pytest.raises(SnapshotError, match="s3:// URL"):
        load_manifest(s3, "/tmp/export")


def test_parallel_scan_resumes_from_its_checkpoint_and_lands_every_item_once(
    aws: Any, items: list[dict[str, Any]], snowflake: Any, tmp_path: Path
) -> None:
    checkpoint = tmp_path / "scan.json"
    settings = ScanSettings(TABLE, total_segments=3, page_limit=4, read_units_per_second=100_000.0)
    sink = SnowflakeSink(snowflake)
    landed: list[ChangeEvent] = []
    lander = SnapshotLander(sink, ClaimSettings(), batch_size=1)

    def on_page(page: Any) -> None:
        landed.extend(e for e in page.items if isinstance(e, ChangeEvent))
        lander.land(page.items)
        lander.flush()

    first = ParallelScan(aws.dynamodb, settings, checkpoint).run(on_page, stop_after_pages=3)
    assert not first.complete and first.pages == 3
    saved = json.loads(checkpoint.read_text())
    assert saved["table"] == TABLE and sum(s["pages"] for s in saved["segments"].values()) == 3
    second = ParallelScan(aws.dynamodb, settings, checkpoint).run(on_page)
    assert second.complete and second.scan_id == first.scan_id and second.items == len(items)
    assert sorted(e.keys["claim_id"] for e in landed) == sorted(i["claim_id"]["S"] for i in items)  # each once
    assert second.snapshot_floor_us == saved["started_us"] - settings.clock_margin_us
    assert all(e.event_time_us >= second.snapshot_floor_us for e in landed)
    assert second.read_units >= len(items) / 4  # a claim item is well over 1 KB
    assert_destination_holds(snowflake, items)
    with pytest.raises(SnapshotError, match="checkpoint of a scan of BackfillClaims in 3 segments"):
        ParallelScan(aws.dynamodb, ScanSettings(TABLE, total_segments=5, read_units_per_second=1.0),
                     checkpoint).run(on_page)  # fmt: skip


def test_export_and_scan_land_through_the_same_merge_later_snapshot_wins(
    aws: Any, s3: Any, items: list[dict[str, Any]], snowflake: Any, tmp_path: Path
) -> None:
    url = write_export(s3, "exports-d", "p", items)
    sink = SnowflakeSink(snowflake)
    backfill(_args(export=url), _Output(SnapshotLander(sink, ClaimSettings())), clients=lambda _a: (None, s3))
    scan = SnapshotLander(sink, ClaimSettings())
    backfill(_args(scan=True, checkpoint=tmp_path / "c.json"), _Output(scan), clients=lambda _a: (aws.dynamodb, None))
    # The scan ran now, long after the (synthetic) export time: every claim takes the scan's newer row.
    assert (scan.report.updated, scan.report.inserted) == (len(items), 0)
    state = assert_destination_holds(snowflake, items)
    assert all(int(r["eventCreationUnixTime"]) > EXPORT_TIME_US for r in state.values())


def test_full_refresh_spares_rejected_items_and_refuses_unkeyed_ones(snowflake: Any) -> None:
    sink = SnowflakeSink(snowflake)
    sink.write_batch([make_row(c, "INSERT", EXPORT_TIME_US - 100, seq="1", event_id=f"ev-{c}") for c in "ABC"])
    snapshot = Snapshot(source_id(EXPORT_ARN), EXPORT_TIME_US)
    lines = [json.dumps({"Item": {"claim_id": {"S": "B"}, "total_charge": {"N": "x"}}}).encode()]
    lander = SnapshotLander(sink, ClaimSettings())
    lander.land(file_events(b"\n".join(lines), snapshot, "k"))
    result = lander.full_refresh(snapshot.time_us, snapshot.source)
    assert (result.candidates, result.kept, result.written, result.applied) == (3, 1, 2, 2)
    state = fetch_current_state(snowflake)
    assert {k for k, v in state.items() if v[spec.IS_DELETED]} == {"A", "C"}
    unkeyed = SnapshotLander(sink, ClaimSettings())
    unkeyed.land(file_events(b"not json", snapshot, "k"))
    with pytest.raises(RefreshRefused, match="1 rejected snapshot items have no readable key"):
        unkeyed.full_refresh(snapshot.time_us, snapshot.source)


def test_read_budget_and_rate_limiter() -> None:
    provisioned = {"ProvisionedThroughput": {"ReadCapacityUnits": 400}}
    assert table_read_budget(provisioned, 0.25, None) == 100
    assert table_read_budget({"BillingModeSummary": {"BillingMode": "PAY_PER_REQUEST"}}, 0.5, 300.0) == 300
    with pytest.raises(SnapshotError, match="on-demand"):
        table_read_budget({"BillingModeSummary": {"BillingMode": "PAY_PER_REQUEST"}}, 0.5, None)
    now, slept = [0.0], []
    limiter = RateLimiter(50.0, clock=lambda: now[0], sleep=lambda s: (slept.append(s), now.__setitem__(0, now[0] + s)))
    limiter.wait()
    limiter.charge(100)  # two seconds' worth
    limiter.wait()
    assert slept == [2.0]
    item = {"claim_id": {"S": "x" * 5000}}
    assert read_units([item], True) == 2 and read_units([item], False) == 1


def test_snapshot_times() -> None:
    assert parse_time_us(EXPORT_TIME) == EXPORT_TIME_US
    assert parse_time_us("1768472430123") == EXPORT_TIME_US == parse_time_us(1768472430.123)
    with pytest.raises(SnapshotError):
        parse_time_us("yesterday")
