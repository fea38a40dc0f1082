"""claimflow.record_routing, the core behind the claim processors: positions, settings, outcomes, rule text."""

from __future__ import annotations

import json
from typing import Any

import pytest

from claimflow.claims import ClaimSettings, PhiMode, Routed, fused, route_events, route_records
from claimflow.claims.build import unexpected
from claimflow.events import (
    EVENT_ID_RULE,
    Rejection,
    decode_record,
    decode_record_or_rejection,
    decode_records,
    shown_event_id,
)
from claimflow.record_routing import (
    ACCEPTED_PHI_HANDLING,
    ERROR_ATTRIBUTE,
    INVALID,
    OPERATION_ATTRIBUTE,
    ROW_RELATIONSHIPS,
    claim_settings_from_properties,
    dead_letter,
    dead_letter_of,
    flowfile_outcome,
    route_change_event_content,
    route_content,
)
from claimflow.rows import COLUMN_NAMES
from claimflow_offline.runner import TestRunner

from ._claims import (
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

SETTINGS = ClaimSettings()
INGEST_US = 1_761_955_200_000_000


def _change_event_record(kinesis_record: dict[str, Any]) -> dict[str, Any]:
    """A change event as NiFi's JSON reader hands it to TransformClaimChange (fractions as floats)."""
    return json.loads(decode_record(kinesis_record).to_json())


# --- settings ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("processor", ["TransformClaimChange", "ProcessClaimChange"])
def test_processors_record_routing_phi_labels_are_the_processors_allowable_values(processor: str) -> None:
    descriptor = TestRunner(processor).processor_class.PHI_HANDLING
    assert list(descriptor.allowableValues) == list(ACCEPTED_PHI_HANDLING)
    assert descriptor.defaultValue in ACCEPTED_PHI_HANDLING


def test_processors_record_routing_settings_from_properties() -> None:
    settings = claim_settings_from_properties("Pseudonymize", HMAC_KEY, "true", "false", "true")
    assert settings.phi_mode is PhiMode.PSEUDONYMIZE
    assert settings.hmac_key == HMAC_KEY.encode()
    assert (settings.generalize_zip3, settings.generalize_birth_year, settings.strict) == (True, False, True)
    default = claim_settings_from_properties("Pass Through", None, "false", "false", "false")
    assert default.phi_mode is PhiMode.PASSTHROUGH and default.hmac_key is None
    assert claim_settings_from_properties(None, None, None, None, None).phi_mode is PhiMode.PASSTHROUGH


@pytest.mark.parametrize(
    ("properties", "message"),
    [
        (("passthrough", None, "false", "false", "false"), "PHI Handling must be one of Pass Through, Pseudonymize"),
        (("Pseudonymize", "short-key", "false", "false", "false"), "32"),
        (("Pass Through", None, "maybe", "false", "false"), "expected true or false"),
    ],
)
def test_processors_record_routing_bad_properties_raise_value_error(
    properties: tuple[str | None, ...], message: str
) -> None:
    with pytest.raises(ValueError, match=message) as raised:
        claim_settings_from_properties(*properties)
    assert "short-key" not in str(raised.value)  # never echo the key


# --- outcomes ------------------------------------------------------------------------------------------------


def test_processors_record_routing_dead_letter_shape() -> None:
    assert dead_letter(2, "e-2", "record 2 (eventId e-2): x: y", {"a": 1, "b": object}, "x: y") == {
        "index": 2,
        "eventId": "e-2",
        "error": "record 2 (eventId e-2): x: y",
        "rule": "x: y",
        "record": '{"a":1,"b":"<class \'object\'>"}',
    }
    assert dead_letter(0, None, "record 0: z", None, None)["record"] is None
    assert dead_letter(0, None, "record 0: z", None, None)["rule"] == "record 0: z"  # no rule: the whole reason


def _routed_invalid(item: Any) -> Routed:
    (routed,) = route_events([item], SETTINGS, INGEST_US, first_index=4)
    assert routed.relationship == INVALID
    return routed


def test_processors_record_routing_rule_of_every_kind_of_reason() -> None:
    decoder_with_id = next(decode_records(json.dumps(unknown_operation()).encode()))
    decoder_without_id = next(decode_records(malformed_line()))
    claim = decode_record(key_mismatch(), 4)
    cases = {
        "decoder, eventID": _routed_invalid(decoder_with_id),
        "decoder, no eventID": _routed_invalid(decoder_without_id),
        "claims, eventId": _routed_invalid(claim),
    }
    for name, routed in cases.items():
        rule = routed.rule
        assert rule is not None and routed.error is not None and routed.error.endswith(": " + rule), name
        assert not rule.startswith("record "), name
        assert dead_letter_of(routed)["rule"] == rule, name
    assert cases["decoder, no eventID"].rule == "malformed JSON"
    assert (cases["claims, eventId"].rule or "").startswith("claimId")


def test_processors_record_routing_an_event_id_of_the_wrong_shape_is_rejected_and_never_shown() -> None:
    # "a) b" is no event id (DynamoDB writes 32 hex digits or a UUID): it may be data, so it is never repeated.
    rejection = decode_record_or_rejection({**key_mismatch(), "eventID": "a) b"}, 7)
    assert isinstance(rejection, Rejection)
    assert rejection.error == f"record 7: {EVENT_ID_RULE}" and rejection.event_id is None
    routed = next(route_events([rejection], ClaimSettings(), 5))
    assert "a) b" not in (routed.error or "") and dead_letter_of(routed)["rule"] == EVENT_ID_RULE


def test_processors_record_routing_an_accepted_event_id_is_shown_only_in_an_aws_shape() -> None:
    # "Jane_Doe_1980-01-01" has an event id's shape, so its record is processed, but it is no shape AWS or ClaimFlow
    # writes (hex digits only): it could be a name and a birth date, so no reason repeats it.
    spelled = "Jane_Doe_1980-01-01"
    broken = {**key_mismatch(), "eventID": spelled}
    broken["dynamodb"] = {**broken["dynamodb"], "SizeBytes": -1}  # a decoder rule
    rejection = decode_record_or_rejection(broken, 7)
    assert isinstance(rejection, Rejection) and rejection.event_id is None
    assert rejection.error.startswith("record 7: ") and spelled not in rejection.error
    mismatched = decode_record_or_rejection({**key_mismatch(), "eventID": spelled}, 8)  # a claim rule
    for routed in (next(route_events([rejection], ClaimSettings(), 5)), next(route_events([mismatched], SETTINGS, 5))):
        assert routed.relationship == INVALID
        assert spelled not in json.dumps([routed.error, routed.rule, routed.event_id, dead_letter_of(routed)["error"]])
    good = decode_record({**record(1), "eventID": spelled})
    assert good.event_id == spelled  # the dedup key is kept exactly
    for shown in ("0b5e4d1c-8f2a-4c3e-9d7b-6a1f2e3d4c5b", "9f8e7d6c5b4a39281706f5e4d3c2b1a0",
                  "snapshot:0123456789abcdef:9f8e7d6c5b4a39281706f5e4d3c2b1a0"):
        assert shown_event_id(shown) == shown
    for hidden in (spelled, "evt-1", "0b5e4d1c-8f2a-4c3e-9d7b-6a1f2e3d4c5", "g" * 32, "snapshot:x:y"):
        assert shown_event_id(hidden) is None, hidden


def test_processors_record_routing_reason_without_a_rule_is_the_rule() -> None:
    routed = Routed(INVALID, None, "record 9: moved", 8, None, None)
    assert dead_letter_of(routed)["rule"] == "record 9: moved"


def test_processors_record_routing_dead_letter_of_an_invalid_record() -> None:
    invalid = _routed_invalid(decode_record(key_mismatch(), 4))
    expected = dead_letter(4, invalid.event_id, invalid.error or "", invalid.record, invalid.rule)
    assert dead_letter_of(invalid) == expected


def test_processors_record_routing_unexpected_names_only_the_type() -> None:
    routed = unexpected(3, KeyError("Quornbyte"), {"x": 1})
    assert routed.relationship == INVALID and routed.error == "record 3: internal error (KeyError)"
    assert dead_letter_of(routed)["rule"] == "internal error (KeyError)"
    assert_no_phi(json.dumps([routed.error, routed.rule]))


# --- change events through the claim stage (TransformClaimChange) ---------------------------------------------


def test_processors_record_routing_change_event_content() -> None:
    events = [decode_record(record(1)).to_json(), Rejection.malformed(5, b"{oops").to_json()]
    routed = route_change_event_content(b"\n".join(events), SETTINGS, INGEST_US)
    row, dead = _lines(routed.content)
    assert row["eventName"] == "INSERT" and row["claimId"] == "CLM-00000001" and row["ingestTime"] is not None
    assert dead["error"] == "record 5: malformed JSON" and dead["rule"] == "malformed JSON" and dead["index"] == 5
    assert routed.summary() == ("debug", "1 of 2 records invalid; first: record 5: malformed JSON")


def test_processors_record_routing_change_event_numbers_stay_exact() -> None:
    # No record reader in between: a 23-digit number keeps every digit (a NiFi reader would make it a double).
    event = json.loads(decode_record(record(2)).to_json())
    event["new_image"]["ref_number"] = 1
    text = json.dumps(event).replace('"ref_number": 1', '"ref_number": 12345678901234567890.125')
    (row,) = _lines(route_change_event_content(text.encode(), SETTINGS, INGEST_US).content)
    assert row["extraAttributes"]["ref_number"] == '{"N":"12345678901234567890.125"}'


def test_processors_record_routing_change_event_content_errors() -> None:
    event = json.loads(decode_record(record(3)).to_json())
    del event["keys"]
    lines = [json.dumps(event), "[1, 2]", "{torn", json.dumps({"cdc_rejected": "not an envelope"})]
    routed = route_change_event_content("\n".join(lines).encode(), SETTINGS, INGEST_US)
    out = _lines(routed.content)
    assert [r["index"] for r in out] == [0, 1, 2, 3] and routed.invalid == 4 and routed.internal_errors == 0
    assert out[0]["error"].startswith("record 0 (eventId ")
    assert out[3]["rule"] == "malformed rejection envelope"


def test_processors_record_routing_change_events_as_one_json_document_stay_exact() -> None:
    events = [json.loads(decode_record(record(n)).to_json()) for n in (4, 5)]
    text = json.dumps(events).replace('"total_charge": ', '"total_charge": ', 1)
    got = _lines(route_change_event_content(text.encode(), SETTINGS, INGEST_US).content)
    lines = b"\n".join(json.dumps(e).encode() for e in events)
    assert got == _lines(route_change_event_content(lines, SETTINGS, INGEST_US).content)


def _lines(content: bytes) -> list[dict[str, Any]]:
    return [json.loads(line) for line in content.split(b"\n") if line]


def test_processors_record_routing_content_keeps_every_record_in_order_with_counts() -> None:
    good, expected = mixed_batch()
    lines = [good[0], unknown_operation(), *good[1:], key_mismatch()]
    content = ndjson(lines) + b"{torn\n"
    routed = route_content(content, SETTINGS, None, INGEST_US)
    out = _lines(routed.content)
    assert len(out) == len(lines) + 1 == routed.total  # one line per record, torn ones too
    assert [r.get("eventId") for r in out[:-1]] == [r["eventID"] for r in lines]
    assert [r["index"] for r in out if "rule" in r] == [1, len(lines) - 1, len(lines)]
    assert all(list(r) == list(COLUMN_NAMES) for r in out if "rule" not in r)
    assert routed.invalid == 3 and routed.internal_errors == 0
    assert dict(routed.operations) == {name: expected[name] for name in ROW_RELATIONSHIPS}
    attributes = routed.attributes()
    assert attributes[OPERATION_ATTRIBUTE] == attributes[ERROR_ATTRIBUTE] == ""  # nothing inherited rides along
    assert attributes["record.count"] == str(len(out)) and attributes["cdc.invalid.count"] == "3"
    assert routed.first_error is not None and routed.first_error.startswith("record 1 (eventId ")
    assert_no_phi(json.dumps([attributes, routed.first_error]))


def test_processors_record_routing_content_equals_decoding_then_routing() -> None:
    # The fused path gives, line for line, what the decoder and the claim routing give one after another.
    good, _ = mixed_batch()
    padded = record(5)
    padded["dynamodb"]["NewImage"]["member_id"]["N"] = None  # a schema-merging reader's padding
    padded["userIdentity"] = None
    records: list[Any] = [*good, key_mismatch(), remove_with_broken_old_image(), unknown_operation(), padded]
    records += [{"eventID": "e", "eventName": "INSERT"}, None]
    raw_mode = {"aws.kinesis.shard.id": "shardId-000000000001", "aws.kinesis.sequence.number": "7"}
    strict = ClaimSettings.from_strings(strict="true")
    for attributes in (None, raw_mode, {**raw_mode, "record.count": "1"}, {**raw_mode, "record.count": "9"}):
        for settings in (SETTINGS, strict):
            for batch in (records, records[:1], records[-3:-2]):
                content = ndjson(batch)
                two_step = route_records(content, settings, INGEST_US, attributes)
                expected = [dead_letter_of(r) if r.row is None else r.row for r in two_step]
                got = _lines(route_content(content, settings, attributes, INGEST_US).content)
                assert got == json.loads(json.dumps(expected)), (attributes, len(batch))


def test_processors_record_routing_content_an_unexpected_error_stays_with_its_record(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    fail_second_call(monkeypatch, fused, "_framed")
    good, _ = mixed_batch()
    routed = route_content(ndjson(good[:3]), SETTINGS, None, INGEST_US)
    out = _lines(routed.content)
    assert routed.total == 3 and routed.invalid == routed.internal_errors == 1
    assert out[1]["error"] == "record 1: internal error (KeyError)"
    assert "Quornbyte" not in out[1]["error"] + out[1]["rule"] + str(routed.first_error)  # the message is withheld
    assert [r.get("eventId") for r in (out[0], out[2])] == [good[0]["eventID"], good[2]["eventID"]]


# Attributes as each consumer mode writes them (apache/nifi, nifi-extension-bundles/nifi-aws-bundle, read at
# 60319e26): ConsumeKinesisStream raw mode (its default: no Record Reader/Writer) writes one FlowFile per Kinesis
# record with shard, sequence number, partition key and arrival and no record.count (KinesisRecordProcessorRaw.java
# 41-64; AbstractKinesisRecordProcessor.java 221-231). With a Record Reader/Writer it writes many records per
# FlowFile, record.count = records written and the LAST Kinesis record's sequence number
# (KinesisRecordProcessorRecord.java 198-199). ConsumeKinesis's FLOW_FILE strategy writes one record per FlowFile
# with first = last sequence number and record.count 1 (ConsumeKinesis.java 949-969); RECORD writes a batch with
# the range and the count (ConsumeKinesis.java 1378-1406).
STREAM = {"aws.kinesis.shard.id": "shardId-000000000007", "aws.kinesis.sequence.number": "42",
          "aws.kinesis.partition.key": "CLM-00000004",
          "aws.kinesis.approximate.arrival.timestamp": "2025-11-01 00:00:01"}
CONSUME = {"aws.kinesis.shard.id": "shardId-000000000007", "aws.kinesis.first.sequence.number": "42",
           "aws.kinesis.last.sequence.number": "42", "aws.kinesis.approximate.arrival.timestamp.ms": "1761955201000"}


@pytest.mark.parametrize(
    ("attributes", "index", "sequence", "shard"),
    [
        (STREAM, 0, "42", "shardId-000000000007"),  # ConsumeKinesisStream raw mode: one record per FlowFile
        (STREAM, 1, None, "shardId-000000000007"),  # a second record proves a many-record FlowFile
        (STREAM, 5, None, "shardId-000000000007"),
        ({**STREAM, "record.count": "1"}, 0, "42", "shardId-000000000007"),
        ({**STREAM, "record.count": "1"}, 1, None, "shardId-000000000007"),  # the content contradicts the count
        ({**STREAM, "record.count": "6"}, 0, None, "shardId-000000000007"),  # record mode: the last record's
        # A count nobody can read, or 0, says nothing; the content holds one record, so the attributes are its own.
        ({**STREAM, "record.count": "many"}, 0, "42", "shardId-000000000007"),
        ({**STREAM, "record.count": "0"}, 0, "42", "shardId-000000000007"),
        ({**STREAM, "record.count": "many"}, 1, None, "shardId-000000000007"),
        ({**CONSUME, "record.count": "1"}, 0, "42", "shardId-000000000007"),  # FLOW_FILE strategy as written
        (CONSUME, 0, "42", "shardId-000000000007"),  # first == last sequence number: one record
        (CONSUME, 2, None, None),  # ConsumeKinesis may mix shards in a FlowFile
        ({**CONSUME, "aws.kinesis.first.sequence.number": "41"}, 0, None, None),
        ({**CONSUME, "record.count": "3"}, 0, None, None),
    ],
)
def test_processors_record_routing_sequence_number_only_for_a_provably_single_record(
    attributes: dict[str, str], index: int, sequence: str | None, shard: str | None
) -> None:
    # Attributes describe the FlowFile's last record: a record of a many-record FlowFile must not get its
    # sequence number (the Snowflake merge orders by it), whatever the FlowFile lacks. The record sits at
    # ``index`` of a FlowFile of index + 1 records.
    content = ndjson([record(10 + n) for n in range(index)] + [record(4)])
    row = _lines(route_content(content, SETTINGS, attributes, INGEST_US).content)[index]
    assert row["eventName"] == "INSERT"
    assert row["kinesisSequenceNumber"] == sequence
    assert row["kinesisShardId"] == shard
    assert (row["kinesisArrivalTime"] is None) == (sequence is None)


def test_processors_record_routing_flowfile_outcome_success_and_failure() -> None:
    good, _ = mixed_batch()
    outcome = flowfile_outcome(lambda: route_content(ndjson([good[0], unknown_operation()]), SETTINGS))
    assert outcome.relationship == "success" and outcome.content is not None
    assert outcome.attributes["cdc.invalid.count"] == "1" and outcome.log is not None and outcome.log[0] == "debug"
    assert flowfile_outcome(lambda: route_content(ndjson(good[:1]), SETTINGS)).log is None

    def broken() -> Any:
        raise ValueError("Quornbyte 1931-02-29")  # a message that quotes data

    failed = flowfile_outcome(broken)
    assert (failed.relationship, failed.content) == ("failure", None)
    assert failed.attributes == {ERROR_ATTRIBUTE: "internal error (ValueError)"}
    assert failed.log == ("error", "Routing to failure: internal error (ValueError)")
