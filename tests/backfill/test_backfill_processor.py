"""DecodeDynamoDBExport through the offline NiFi TestRunner, then TransformClaimChange on its output, as the flow
ListS3 -> FetchS3Object -> DecodeDynamoDBExport -> TransformClaimChange wires them."""

from __future__ import annotations

import gzip
import json

from claimflow.backfill.snapshot import parse_time_us
from claimflow.events import ChangeEvent, Rejection, is_snapshot_event_id, parse_change_events
from claimflow_offline.java import RoutedRunner
from claimflow_offline.runner import TestRunner

from .test_backfill_sources import EXPORT_ARN, EXPORT_TIME, EXPORT_TIME_US, SENTINEL

ITEM = {
    "claim_id": {"S": "CLM-BF-1"},
    "member_id": {"S": "M-1"},
    "claim_status": {"S": "Paid"},
    "total_charge": {"N": "125.00"},
    "diagnosis_codes": {"L": [{"S": "E11.9"}]},
    "date_of_service": {"S": "2024-05-06"},
}


def _runner() -> TestRunner:
    runner = TestRunner("DecodeDynamoDBExport")
    runner.set_property("Export Time", "${export.time}")
    runner.set_property("Export ARN", EXPORT_ARN)
    runner.assert_valid()
    return runner


def test_export_data_file_becomes_snapshot_events_and_then_claim_rows() -> None:
    second = {**ITEM, "claim_id": {"S": "CLM-BF-2"}}
    lines = [json.dumps({"Item": ITEM}), "not json " + SENTINEL, json.dumps({"Item": second})]
    runner = _runner()
    content = gzip.compress("\n".join(lines).encode())
    key = "claims/AWSDynamoDB/01768472430123-abcd1234/data/part0.json.gz"
    runner.enqueue(content, {"filename": key, "export.time": EXPORT_TIME})
    runner.run()
    runner.assert_all_transferred("success", 1)
    out = runner.get_flowfiles_for("success")[0]
    for name, value in {"record.count": "3", "cdc.decoded.count": "2", "cdc.rejected.count": "1",
                        "cdc.insert.count": "2", "cdc.snapshot.time.us": str(EXPORT_TIME_US)}.items():  # fmt: skip
        out.assert_attribute_equals(name, value)
    items = list(parse_change_events(out.content))
    assert [type(i) for i in items] == [ChangeEvent, Rejection, ChangeEvent]  # the envelope stays in place
    events = [i for i in items if isinstance(i, ChangeEvent)]
    assert all(e.event_name == "INSERT" and e.event_time_us == EXPORT_TIME_US and e.kinesis is None for e in events)
    assert all(is_snapshot_event_id(e.event_id) for e in events)
    assert SENTINEL not in runner.all_attribute_text() and SENTINEL not in runner.log_text()
    # Same file again: the same event ids (a replay is a copy, not a new event).
    again = _runner()
    again.enqueue(content, {"filename": key, "export.time": EXPORT_TIME})
    again.run()
    assert [i.event_id for i in parse_change_events(again.get_flowfiles_for("success")[0].content)] == [
        i.event_id for i in items
    ]
    # TransformClaimChange takes the output as it takes DecodeDynamoDBChange's.
    transform = TestRunner("TransformClaimChange")
    transform.set_property("PHI Handling", "Pass Through")
    transform.enqueue(out.content, out.getAttributes())
    transform.run()
    transform = RoutedRunner(transform)  # type: ignore[assignment]  # the flows' PartitionRecord + RouteOnAttribute
    rows = [r for f in transform.get_flowfiles_for("insert") for r in f.records()]
    assert sorted(r["claimId"] for r in rows) == ["CLM-BF-1", "CLM-BF-2"]
    assert {r["eventCreationUnixTime"] for r in rows} == {EXPORT_TIME_US} == {parse_time_us(EXPORT_TIME)}
    assert len(transform.get_flowfiles_for("invalid")) == 1


def test_corrupt_gzip_and_bad_export_time_go_to_invalid_with_a_reason() -> None:
    runner = _runner()
    runner.enqueue(gzip.compress(b"x" * 100)[:15], {"filename": "k", "export.time": EXPORT_TIME})
    runner.enqueue(b"{}", {"filename": "k", "export.time": "yesterday"})
    runner.run(2)
    runner.assert_all_transferred("invalid", 2)
    reasons = sorted(f.getAttribute("cdc.error") for f in runner.get_flowfiles_for("invalid"))
    assert reasons == ["a snapshot time must be an ISO 8601 timestamp or an epoch number",
                       "the data file is not valid gzip (torn or corrupt)"]  # fmt: skip
