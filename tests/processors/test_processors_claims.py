"""TransformClaimChange and ProcessClaimChange through the TestRunner: per-record routing, no batch failures for
one bad record, exact values, stable schema under NiFi-like inference, and no PHI in attributes or logs."""

from __future__ import annotations

import json
from typing import Any

import pytest

from claimflow import record_routing
from claimflow.claims import ClaimSettings, fused
from claimflow.flow.definitions import claim_row_wire_schema
from claimflow.rows import COLUMN_NAMES
from claimflow_offline.java import RoutedRunner
from claimflow_offline.runner import MockFlowFile, TestRunner

from ._claims import (
    ALL_SENTINELS,
    DOB_SENTINEL,
    HMAC_KEY,
    assert_no_phi,
    fail_second_call,
    key_mismatch,
    malformed_line,
    mixed_batch,
    ndjson,
    record,
    remove_with_broken_old_image,
    unknown_operation,
)

ROUTES = ("insert", "modify", "remove", "invalid")
CLAIM_PROCESSORS = ("TransformClaimChange", "ProcessClaimChange")
FLOW_WRITER = claim_row_wire_schema()  # the schema text of the flow's "Claim Row Writer"


def _decoded(content: bytes, attributes: dict[str, str] | None = None) -> MockFlowFile:
    """What DecodeDynamoDBChange hands TransformClaimChange for this raw content."""
    decoder = TestRunner("DecodeDynamoDBChange")
    decoder.enqueue(content, attributes)
    decoder.run()
    (out,) = decoder.get_flowfiles_for("success") + decoder.get_flowfiles_for("invalid")
    return out


def _run(
    processor: str,
    raw_flowfiles: list[bytes],
    properties: dict[str, str] | None = None,
    attributes: dict[str, str] | None = None,
    infer: bool = True,
    writer: dict[str, Any] | None = None,
) -> TestRunner:
    options: dict[str, Any] = {"record_writer_schema": writer, "suppress_missing": True} if writer else {}
    runner = TestRunner(processor, infer_schema_like_nifi=infer, **options)
    for name, value in (properties or {}).items():
        runner.set_property(name, value)
    for content in raw_flowfiles:
        if processor == "TransformClaimChange":
            decoded = _decoded(content, attributes)
            runner.enqueue(decoded.content, decoded.attributes)
        else:
            runner.enqueue(content, attributes)
    runner.run(len(raw_flowfiles))
    seen = RoutedRunner(runner)  # both flows route a claim processor's output with PartitionRecord + RouteOnAttribute
    assert_no_phi(seen.all_attribute_text())
    assert_no_phi(seen.log_text())
    return seen  # type: ignore[return-value]


def _records(runner: TestRunner, relationship: str) -> list[dict[str, Any]]:
    return [r for flowfile in runner.get_flowfiles_for(relationship) for r in flowfile.records()]


def _counts(runner: TestRunner) -> dict[str, int]:
    return {rel: len(_records(runner, rel)) for rel in ROUTES}


@pytest.mark.parametrize("processor", CLAIM_PROCESSORS)
def test_processors_claims_relationships_and_defaults(processor: str) -> None:
    runner = TestRunner(processor)
    # Both are FlowFileTransforms whose one output the flows route (PartitionRecord + RouteOnAttribute), so they
    # have no record reader or writer.
    assert set(runner.relationships()) == {"success", "failure", "original"}
    names = [d.name for d in runner.property_descriptors()]
    # ProcessClaimChange decodes raw records itself, so it has the decoder's event-time properties too.
    decoding = ["Maximum Clock Skew", "Millisecond Precision Since"] if processor == "ProcessClaimChange" else []
    assert names == ["PHI Handling", "HMAC Key", "Generalize ZIP to 3 Digits", "Generalize Birth Date to Year",
                     "Strict Validation", *decoding]
    hmac = next(d for d in runner.property_descriptors() if d.name == "HMAC Key")
    assert hmac.sensitive
    runner.assert_valid()


@pytest.mark.parametrize("processor", CLAIM_PROCESSORS)
def test_processors_claims_validation_of_pseudonymisation(processor: str) -> None:
    runner = TestRunner(processor)
    runner.set_property("HMAC Key", "ignored-while-passing-through")
    runner.assert_valid()  # the key is hidden by its dependency, so not validated
    runner.set_property("PHI Handling", "Pseudonymize")
    runner.remove_property("HMAC Key")
    assert [p.subject for p in runner.assert_not_valid()] == ["HMAC Key"]  # required once visible
    runner.set_property("HMAC Key", "short-secret-value")
    problems = runner.assert_not_valid()
    assert [p.subject for p in problems] == ["HMAC Key"] and problems[0].input is None
    assert "short-secret-value" not in problems[0].explanation
    runner.set_property("HMAC Key", HMAC_KEY)
    runner.assert_valid()
    runner.set_property("PHI Handling", "Encrypt")
    runner.set_property("Generalize ZIP to 3 Digits", "yes")
    assert {p.subject for p in runner.assert_not_valid()} == {"PHI Handling", "Generalize ZIP to 3 Digits"}


@pytest.mark.parametrize("processor", CLAIM_PROCESSORS)
def test_processors_claims_route_every_record_by_operation(processor: str) -> None:
    good, expected = mixed_batch()
    runner = _run(processor, [ndjson(good[:4]), ndjson(good[4:])])
    assert _counts(runner) == {**expected, "invalid": 0}
    for relationship in ("insert", "modify", "remove"):
        for flowfile in runner.get_flowfiles_for(relationship):
            # PartitionRecord takes the attribute from the row's eventName.
            flowfile.assert_attribute_equals("cdc.operation", relationship.upper())
            flowfile.assert_attribute_equals("record.count", str(len(flowfile.records())))
            flowfile.assert_attribute_equals("mime.type", "application/json")
    rows = [r for rel in ("insert", "modify", "remove") for r in _records(runner, rel)]
    assert sorted(r["eventId"] for r in rows) == sorted(r["eventID"] for r in good)
    assert all(list(row) == list(COLUMN_NAMES) for row in rows)


@pytest.mark.parametrize("processor", CLAIM_PROCESSORS)
def test_processors_claims_bad_records_never_take_good_ones_down(processor: str) -> None:
    good, expected = mixed_batch()
    bad: list[Any] = [unknown_operation(), key_mismatch()]
    lines = [good[0], bad[0], *good[1:6], bad[1], *good[6:]]
    runner = _run(processor, [ndjson(lines)])
    counts = _counts(runner)
    assert counts == {**expected, "invalid": 2}
    assert sum(counts.values()) == len(lines)  # counts in = out + invalid
    invalid = _records(runner, "invalid")
    assert [r["index"] for r in invalid] == [1, 7]
    assert [r["eventId"] for r in invalid] == [bad[0]["eventID"], bad[1]["eventID"]]
    assert all(list(r) == ["index", "eventId", "error", "rule", "record"] for r in invalid)
    assert [r["error"].endswith(": " + r["rule"]) for r in invalid] == [True, True]
    assert "key" in invalid[1]["error"] or "claimId" in invalid[1]["error"]
    assert bad[1]["eventID"] in invalid[1]["record"]  # the original record travels in content
    reasons = {f.attributes["cdc.error"] for f in runner.get_flowfiles_for("invalid")}
    assert all(not reason.startswith("record ") for reason in reasons)  # grouped by rule, not by record


def test_processors_transform_routes_decoder_rejections_to_invalid() -> None:
    good, _ = mixed_batch()
    runner = _run("TransformClaimChange", [ndjson([good[0], malformed_line(), good[1]])])
    assert _counts(runner)["invalid"] == 1
    (dead,) = _records(runner, "invalid")
    assert dead["error"].startswith("record 1") and dead["index"] == 1
    assert "Zelphiax" in dead["record"]  # the torn original is kept in content for the dead-letter queue


def test_processors_process_claim_change_keeps_torn_lines_apart() -> None:
    # A FlowFileTransform frames the content itself, as the decoder does: no record reader fails the FlowFile for
    # one torn line (as it did while ProcessClaimChange was a RecordTransform); the line becomes a dead letter.
    good, _ = mixed_batch()
    runner = _run("ProcessClaimChange", [ndjson([good[0], malformed_line(), good[1]])])
    assert runner.runner.transferred_counts() == {"success": 1}
    assert sum(_counts(runner).values()) == 3 and _counts(runner)["invalid"] == 1
    (dead,) = _records(runner, "invalid")
    assert dead["error"].startswith("record 1") and dead["index"] == 1
    assert "Zelphiax" in dead["record"]  # the torn original is kept in content for the dead-letter queue


@pytest.mark.parametrize("processor", CLAIM_PROCESSORS)
def test_processors_claims_a_remove_always_gets_through(processor: str) -> None:
    runner = _run(processor, [ndjson([remove_with_broken_old_image()])])
    assert _counts(runner) == {"insert": 0, "modify": 0, "remove": 1, "invalid": 0}
    assert _records(runner, "remove")[0]["claimId"] == "CLM-00000092"


def _without_ingest_time(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{k: v for k, v in r.items() if k != "ingestTime"} for r in rows]


@pytest.mark.parametrize("processor", CLAIM_PROCESSORS)
def test_processors_claims_rows_are_stable_with_the_flows_record_writer(processor: str) -> None:
    # The flow's Record Writer has an explicit schema (claimflow.flow); NiFi's reader infers over the batch.
    good, _ = mixed_batch()
    content = [ndjson([remove_with_broken_old_image(), *good, key_mismatch()])]
    plain = _run(processor, content, infer=False)
    nifi_like = _run(processor, content, infer=True, writer=FLOW_WRITER)
    for relationship in ("insert", "modify", "remove"):
        assert _without_ingest_time(_records(plain, relationship)) == _without_ingest_time(
            _records(nifi_like, relationship)
        ), relationship
    # A dead letter keeps its shape; its "record" is the original as the reader saw it (absent fields as null).
    (dead_plain,) = _records(plain, "invalid")
    (dead_nifi,) = _records(nifi_like, "invalid")
    assert {k: v for k, v in dead_plain.items() if k != "record"} == {
        k: v for k, v in dead_nifi.items() if k != "record"
    }
    assert json.loads(dead_nifi["record"])["event_id"] == dead_plain["eventId"]


def test_processors_both_claim_processors_build_the_same_rows() -> None:
    good, _ = mixed_batch()
    content = [ndjson([*good, key_mismatch(), remove_with_broken_old_image()])]
    two_step = _run("TransformClaimChange", content)
    fused = _run("ProcessClaimChange", content)
    for relationship in ("insert", "modify", "remove"):
        strip = [{k: v for k, v in r.items() if k != "ingestTime"} for r in _records(two_step, relationship)]
        assert strip == [{k: v for k, v in r.items() if k != "ingestTime"} for r in _records(fused, relationship)]


@pytest.mark.parametrize("processor", CLAIM_PROCESSORS)
def test_processors_claims_keep_money_exact(processor: str) -> None:
    source = record(3)
    runner = _run(processor, [ndjson([source])])
    (row,) = _records(runner, "insert")
    assert row["totalCharge"] == source["dynamodb"]["NewImage"]["total_charge"]["N"]
    charges = [line["charge"] for line in row["procedureDetails"]]
    expected = [line["M"]["charge"]["N"] for line in source["dynamodb"]["NewImage"]["procedure_details"]["L"]]
    assert charges == expected


@pytest.mark.parametrize("processor", CLAIM_PROCESSORS)
def test_processors_claims_pseudonymise_and_generalise(processor: str) -> None:
    properties = {
        "PHI Handling": "Pseudonymize",
        "HMAC Key": HMAC_KEY,
        "Generalize ZIP to 3 Digits": "true",
        "Generalize Birth Date to Year": "true",
    }
    runner = _run(processor, [ndjson([record(1), record(2)])], properties)
    first, second = _records(runner, "insert")
    content = "\n".join(f.text for f in runner.get_flowfiles_for("insert"))
    assert [s for s in ALL_SENTINELS if s in content] == []
    assert first["memberId"] == second["memberId"]  # same person, same token: joins still work
    assert len(first["patientZip"]) == 3
    assert first["patientDOB"] != DOB_SENTINEL and first["patientDOB"].startswith(DOB_SENTINEL[:4])


@pytest.mark.parametrize("processor", CLAIM_PROCESSORS)
def test_processors_claims_pass_through_keeps_identifiers_in_content_only(processor: str) -> None:
    runner = _run(processor, [ndjson([record(1)])])
    (row,) = _records(runner, "insert")
    assert row["patientLastName"] == "Quornbyte" and row["memberId"] == "MBRSENTINEL42"


@pytest.mark.parametrize("processor", CLAIM_PROCESSORS)
def test_processors_claims_strict_validation_rejects_flagged_claims(processor: str) -> None:
    # E11 exists in ICD-10-CM but is a category, not a billable code: a finding, not an invalid claim.
    odd_code = record(4, diagnosis_codes=["E11.9", "E11"])
    lenient = _run(processor, [ndjson([odd_code])])
    assert _counts(lenient)["insert"] == 1
    assert _records(lenient, "insert")[0]["dataQualityFlags"]
    unknown = _run(processor, [ndjson([record(4, diagnosis_codes=["Z99.999"])])])
    assert _counts(unknown)["invalid"] == 1  # a code outside the code set is always invalid
    strict = _run(processor, [ndjson([odd_code])], {"Strict Validation": "true"})
    assert _counts(strict) == {"insert": 0, "modify": 0, "remove": 0, "invalid": 1}


@pytest.mark.parametrize("processor", CLAIM_PROCESSORS)
def test_processors_claims_index_restarts_per_flowfile(processor: str) -> None:
    good, _ = mixed_batch()
    runner = _run(processor, [ndjson([good[0], key_mismatch()]), ndjson([good[1], key_mismatch()])])
    assert [r["index"] for r in _records(runner, "invalid")] == [1, 1]


@pytest.mark.parametrize("processor", CLAIM_PROCESSORS)
def test_processors_claims_settings_are_built_once_per_schedule(
    processor: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    runner = TestRunner(processor)
    built: list[object] = []
    original = ClaimSettings.from_strings

    def counting(**kwargs: Any) -> object:
        built.append(kwargs)
        return original(**kwargs)

    monkeypatch.setattr(ClaimSettings, "from_strings", staticmethod(counting))
    good, _ = mixed_batch()
    for line in good[:3]:
        runner.enqueue(_decoded(ndjson([line])).content if processor == "TransformClaimChange" else ndjson([line]))
    runner.run(3, stop_on_finish=False)
    assert len(built) == 1  # in onScheduled only: not per FlowFile, not per record
    assert runner.processor.settings is not None
    runner.stop()
    assert runner.processor.settings is None  # onStopped drops the settings and the key with them
    runner.set_property("Generalize ZIP to 3 Digits", "true")
    runner.enqueue(_decoded(ndjson([good[0]])).content if processor == "TransformClaimChange" else ndjson([good[0]]))
    runner.run()
    assert len(built) == 2 and built[-1]["generalize_zip3"] == "true"  # a restart reads the new properties
    assert len(_records(RoutedRunner(runner), "insert")[-1]["patientZip"]) == 3


@pytest.mark.parametrize("processor", CLAIM_PROCESSORS)
def test_processors_claims_unexpected_error_stays_with_its_record(
    processor: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    runner = TestRunner(processor, infer_schema_like_nifi=True)
    # The core function each processor's records go through: routing of decoded events, or one framed record of
    # the fused path.
    module, core = (record_routing, "change_event_item") if processor == "TransformClaimChange" else (fused, "_framed")
    fail_second_call(monkeypatch, module, core)
    good, _ = mixed_batch()
    content = ndjson(good[:3])
    runner.enqueue(_decoded(content).content if processor == "TransformClaimChange" else content)
    runner.run()
    runner = RoutedRunner(runner)  # type: ignore[assignment]
    assert runner.logger.bulletins() != []  # a ClaimFlow bug is loud
    assert _counts(runner)["invalid"] == 1
    assert _records(runner, "invalid")[0]["error"] == "record 1: internal error (KeyError)"
    assert_no_phi(runner.log_text())
    assert_no_phi(runner.all_attribute_text())


@pytest.mark.parametrize(
    "attributes",
    [
        {"aws.kinesis.shard.id": "shardId-000000000003", "aws.kinesis.sequence.number": "4965000000000000000001",
         "aws.kinesis.partition.key": "CLM-00000007",
         "aws.kinesis.approximate.arrival.timestamp": "2025-11-01 00:00:01", "record.count": "1"},
        {"aws.kinesis.shard.id": "shardId-000000000003", "aws.kinesis.first.sequence.number": "4965000000000000000001",
         "aws.kinesis.last.sequence.number": "4965000000000000000001",
         "aws.kinesis.approximate.arrival.timestamp.ms": "1761955201000"},
    ],
    ids=["ConsumeKinesisStream", "ConsumeKinesis"],
)
@pytest.mark.parametrize("processor", CLAIM_PROCESSORS)
def test_processors_claims_take_the_kinesis_position_of_both_consumers(
    processor: str, attributes: dict[str, str]
) -> None:
    runner = _run(processor, [json.dumps(record(7)).encode()], attributes=attributes)
    (row,) = _records(runner, "insert")
    assert row["kinesisShardId"] == "shardId-000000000003"
    assert row["kinesisSequenceNumber"] == "4965000000000000000001"
    assert row["kinesisArrivalTime"] == "2025-11-01T00:00:01.000000"


STREAM_RAW_MODE = {"aws.kinesis.shard.id": "shardId-000000000003",
                   "aws.kinesis.sequence.number": "4965000000000000000009",
                   "aws.kinesis.partition.key": "CLM-00000009",
                   "aws.kinesis.approximate.arrival.timestamp": "2025-11-01 00:00:01"}


@pytest.mark.parametrize("processor", CLAIM_PROCESSORS)
def test_processors_claims_consume_kinesis_stream_raw_mode_gives_the_full_position(processor: str) -> None:
    # ConsumeKinesisStream's default (no Record Reader/Writer) writes one FlowFile per Kinesis record and no
    # record.count (apache/nifi KinesisRecordProcessorRaw.java 41-64, AbstractKinesisRecordProcessor.java 221-231):
    # the attributes are that record's, so it keeps its sequence number, the merge's tie-break.
    runner = _run(processor, [json.dumps(record(9)).encode()], attributes=STREAM_RAW_MODE)
    (row,) = _records(runner, "insert")
    assert row["kinesisShardId"] == "shardId-000000000003"
    assert row["kinesisSequenceNumber"] == "4965000000000000000009"
    assert row["kinesisPartitionKey"] == "CLM-00000009"
    assert row["kinesisArrivalTime"] == "2025-11-01T00:00:01.000000"


@pytest.mark.parametrize("processor", CLAIM_PROCESSORS)
def test_processors_claims_consume_kinesis_stream_record_mode_gives_the_shard_only(processor: str) -> None:
    # With a Record Reader/Writer, ConsumeKinesisStream batches one shard's records into a FlowFile with
    # record.count and the LAST Kinesis record's sequence number (KinesisRecordProcessorRecord.java 198-199): no
    # record may take that number, though the shard holds for all of them.
    attributes = {**STREAM_RAW_MODE, "record.count": "3"}
    runner = _run(processor, [ndjson([record(7), record(8), record(9)])], attributes=attributes)
    rows = _records(runner, "insert")
    assert len(rows) == 3
    assert [row["kinesisSequenceNumber"] for row in rows] == [None, None, None]
    assert [row["kinesisPartitionKey"] for row in rows] == [None, None, None]
    assert [row["kinesisShardId"] for row in rows] == ["shardId-000000000003"] * 3


@pytest.mark.parametrize("processor", CLAIM_PROCESSORS)
def test_processors_claims_raw_mode_attributes_on_many_records(processor: str) -> None:
    # Content ConsumeKinesisStream's raw mode never writes (several records, no record.count): the decoder sees
    # them all and gives none the sequence number. Both processors see the whole content (TransformClaimChange
    # through the decoder, ProcessClaimChange as a FlowFileTransform), so none keeps it.
    runner = _run(processor, [ndjson([record(7), record(8), record(9)])], attributes=STREAM_RAW_MODE)
    rows = _records(runner, "insert")
    assert [row["kinesisSequenceNumber"] for row in rows] == [None, None, None]
    assert [row["kinesisShardId"] for row in rows] == ["shardId-000000000003"] * 3


@pytest.mark.parametrize("processor", CLAIM_PROCESSORS)
def test_processors_claims_ttl_deletes_survive_the_nifi_reader(processor: str, runner: Any) -> None:
    expired = record(5, "REMOVE")
    expired["userIdentity"] = {"type": "Service", "principalId": "dynamodb.amazonaws.com"}
    good, _ = mixed_batch()
    content = ndjson([good[0], expired, good[3]])  # userIdentity null, then an object, then null again
    claims = runner(processor, infer_schema_like_nifi=True)
    claims.enqueue(_decoded(content).content if processor == "TransformClaimChange" else content)
    claims.run()
    removes = _records(RoutedRunner(claims), "remove")
    assert [(r["claimId"], r["ttlDelete"]) for r in removes] == [("CLM-00000005", True), ("CLM-00000003", False)]


@pytest.mark.parametrize("strict", ["false", "true"])
def test_processors_claims_one_records_extra_field_does_not_flag_the_others(strict: str) -> None:
    # NiFi's reader pads every record with the fields of the others (as null): an unknown field in one record
    # must not become a finding, or under Strict Validation a rejection, for every record of the FlowFile.
    good, _ = mixed_batch()
    odd = record(50, internal_note="made-up extra attribute")
    lines = [odd, *good[:3]]
    results = {}
    for processor in CLAIM_PROCESSORS:
        claims = _run(processor, [ndjson(lines)], {"Strict Validation": strict}, writer=FLOW_WRITER)
        rows = [r for rel in ("insert", "modify", "remove") for r in _records(claims, rel)]
        results[processor] = sorted((r["claimId"], tuple(r["dataQualityFlags"] or ())) for r in rows)
        results[processor + " invalid"] = sorted(r["index"] for r in _records(claims, "invalid"))
    flagged = [claim for claim, flags in results["ProcessClaimChange"] if flags]
    assert results["TransformClaimChange"] == results["ProcessClaimChange"]
    assert results["TransformClaimChange invalid"] == results["ProcessClaimChange invalid"]
    if strict == "true":
        assert results["ProcessClaimChange invalid"] == [0] and flagged == []
    else:
        assert flagged == ["CLM-00000050"]


@pytest.mark.parametrize("processor", CLAIM_PROCESSORS)
def test_processors_claims_bad_data_makes_no_bulletins(processor: str) -> None:
    # In NiFi every warn is also a bulletin: one per invalid record would bury a real problem at volume.
    good, _ = mixed_batch()
    runner = _run(processor, [ndjson([good[0], unknown_operation(), key_mismatch(), good[1]])])
    assert _counts(runner)["invalid"] == 2
    assert runner.logger.bulletins() == []
    # One FlowFile, one line at debug, naming the first record and its rule (never a value).
    first = _records(runner, "invalid")[0]
    assert first["index"] == 1
    assert [m for m in runner.logger.at("debug") if " invalid; first: " in m] == [
        f"2 of 4 records invalid; first: {first['error']}"
    ]


@pytest.mark.parametrize("processor", CLAIM_PROCESSORS)
def test_processors_claims_row_flowfiles_carry_no_error(processor: str) -> None:
    # Seen in a real NiFi 2.9.0: the claim stage's outputs inherit the input's attributes, so a cdc.error set
    # upstream rode along on insert FlowFiles.
    good, _ = mixed_batch()
    runner = _run(processor, [ndjson([good[0], malformed_line() if processor == "TransformClaimChange"
                                      else unknown_operation(), *good[1:4]])])
    rows = [f for rel in ("insert", "modify", "remove") for f in runner.get_flowfiles_for(rel)]
    assert rows and all(not f.attributes.get("cdc.error") for f in rows)
    assert all(f.attributes["cdc.error"] for f in runner.get_flowfiles_for("invalid"))


@pytest.mark.parametrize("processor", CLAIM_PROCESSORS)
def test_processors_claims_safe_harbor_needs_the_key_and_leaves_no_direct_identifier(processor: str) -> None:
    runner = TestRunner(processor)
    runner.set_property("PHI Handling", "Safe Harbor")
    assert any("HMAC Key" in str(r.subject) for r in runner.assert_not_valid())
    good, _ = mixed_batch()
    runner = _run(processor, [ndjson(good[:4])], {"PHI Handling": "Safe Harbor", "HMAC Key": HMAC_KEY})
    rows = [r for rel in ("insert", "modify", "remove") for r in _records(runner, rel)]
    assert rows
    text = json.dumps(rows)
    assert [s for s in ALL_SENTINELS if s in text] == []
