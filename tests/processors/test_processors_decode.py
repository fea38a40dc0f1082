"""DecodeDynamoDBChange through the TestRunner: one output per input, rejections kept in place, counts exact."""

from __future__ import annotations

import json
import sys
from decimal import Decimal

import pytest

from claimflow.events import ChangeEvent, Rejection, parse_change_events
from claimflow_offline.runner import TestRunner

from ._claims import assert_no_phi, malformed_line, mixed_batch, ndjson, record, unknown_operation

STREAM_ATTRIBUTES = {
    "aws.kinesis.shard.id": "shardId-000000000003",
    "aws.kinesis.sequence.number": "49650000000000000000000000000000000000000000000000000001",
    "aws.kinesis.partition.key": "CLM-00000000",
    "aws.kinesis.approximate.arrival.timestamp": "2025-11-01 00:00:01",
}
CONSUME_KINESIS_ATTRIBUTES = {
    "aws.kinesis.shard.id": "shardId-000000000004",
    "aws.kinesis.first.sequence.number": "49650000000000000000000000000000000000000000000000000002",
    "aws.kinesis.last.sequence.number": "49650000000000000000000000000000000000000000000000000002",
    "aws.kinesis.approximate.arrival.timestamp.ms": "1761955201000",
}


def _decode(content: bytes, attributes: dict[str, str] | None = None) -> TestRunner:
    runner = TestRunner("DecodeDynamoDBChange")
    runner.assert_valid()
    runner.enqueue(content, attributes)
    runner.run()
    assert_no_phi(runner.all_attribute_text())
    assert_no_phi(runner.log_text())
    return runner


def test_processors_decode_relationships_and_properties() -> None:
    runner = TestRunner("DecodeDynamoDBChange")
    assert set(runner.relationships()) == {"success", "invalid", "failure", "original"}
    names = [d.name for d in runner.property_descriptors()]
    assert names == ["Maximum Clock Skew", "Millisecond Precision Since"]
    assert runner.property_descriptors()[0].defaultValue == "15 min"
    runner.assert_valid()
    runner.set_property("Anything", "x")
    runner.assert_not_valid()


@pytest.mark.parametrize(
    ("attributes", "shard", "sequence", "arrival_ms"),
    [
        (STREAM_ATTRIBUTES, "shardId-000000000003", STREAM_ATTRIBUTES["aws.kinesis.sequence.number"], 1761955201000),
        (CONSUME_KINESIS_ATTRIBUTES, "shardId-000000000004",
         CONSUME_KINESIS_ATTRIBUTES["aws.kinesis.last.sequence.number"], 1761955201000),
    ],
)
def test_processors_decode_single_record_takes_the_position_of_either_consumer(
    attributes: dict[str, str], shard: str, sequence: str, arrival_ms: int
) -> None:
    runner = _decode(json.dumps(record(0)).encode(), attributes)
    runner.assert_all_transferred("success", 1)
    out = runner.get_flowfiles_for("success")[0]
    (event,) = list(parse_change_events(out.content))
    assert isinstance(event, ChangeEvent) and event.kinesis is not None
    assert (event.kinesis["shard_id"], event.kinesis["sequence_number"]) == (shard, sequence)
    assert event.kinesis["arrival_time_ms"] == arrival_ms
    for name, value in attributes.items():
        out.assert_attribute_equals(name, value)  # the consumer's attributes travel on
    out.assert_attribute_equals("record.count", "1")
    out.assert_attribute_equals("cdc.insert.count", "1")
    out.assert_attribute_not_exists("cdc.error")


def test_processors_decode_batch_keeps_rejections_in_place_and_counts_add_up() -> None:
    good, expected = mixed_batch()
    lines: list[dict | bytes] = [*good[:3], malformed_line(), *good[3:7], unknown_operation(), *good[7:]]
    runner = _decode(ndjson(lines))
    runner.assert_all_transferred("success", 1)
    out = runner.get_flowfiles_for("success")[0]
    items = list(parse_change_events(out.content))
    assert len(items) == len(lines) == 12
    envelopes = [json.loads(line)["cdc_rejected"] for line in out.content.splitlines() if b"cdc_rejected" in line]
    assert [e["index"] for e in envelopes] == [3, 8]
    assert envelopes[0]["raw"] == malformed_line().decode()  # the original stays in content
    events = [i for i in items if isinstance(i, ChangeEvent)]
    assert [e.event_id for e in events] == [r["eventID"] for r in good]
    assert out.attributes["record.count"] == "12"
    assert (out.attributes["cdc.decoded.count"], out.attributes["cdc.rejected.count"]) == ("10", "2")
    assert out.attributes["cdc.insert.count"] == str(expected["insert"])
    assert out.attributes["cdc.modify.count"] == str(expected["modify"])
    assert out.attributes["cdc.remove.count"] == str(expected["remove"])
    # The rejects' reasons travel in their envelopes; an error attribute here would be inherited by the claim
    # stage's insert/modify/remove FlowFiles (seen in a real NiFi 2.9.0).
    assert "cdc.error" not in out.attributes
    assert envelopes[0]["error"].startswith("record 3")


def test_processors_decode_keeps_numbers_exact() -> None:
    source = record(5)
    runner = _decode(json.dumps(source).encode())
    (event,) = list(parse_change_events(runner.get_flowfiles_for("success")[0].content))
    assert isinstance(event, ChangeEvent) and event.new_image is not None
    assert event.new_image["total_charge"] == Decimal(source["dynamodb"]["NewImage"]["total_charge"]["N"])


def test_processors_decode_all_rejected_goes_to_invalid() -> None:
    runner = _decode(ndjson([malformed_line(), unknown_operation()]))
    runner.assert_all_transferred("invalid", 1)
    out = runner.get_flowfiles_for("invalid")[0]
    assert (out.attributes["cdc.decoded.count"], out.attributes["cdc.rejected.count"]) == ("0", "2")
    assert all(isinstance(i, Rejection) for i in parse_change_events(out.content))


def test_processors_decode_empty_flowfile_is_an_empty_success() -> None:
    runner = _decode(b"")
    runner.assert_all_transferred("success", 1)
    out = runner.get_flowfiles_for("success")[0]
    assert out.content == b"" and out.attributes["record.count"] == "0"


def test_processors_decode_unexpected_error_goes_to_failure_without_data(monkeypatch: pytest.MonkeyPatch) -> None:
    runner = TestRunner("DecodeDynamoDBChange")

    def broken(data: bytes, attributes: object, rules: object = None) -> object:
        raise KeyError("Zelphiax")  # an exception quoting a value, as a bug might

    monkeypatch.setattr(sys.modules[runner.processor_class.__module__], "decode_to_lines", broken)
    runner.enqueue(json.dumps(record(0)).encode())
    runner.run()
    runner.assert_all_transferred("failure", 1)
    runner.get_flowfiles_for("failure")[0].assert_attribute_equals("cdc.error", "internal error (KeyError)")
    assert_no_phi(runner.log_text())
