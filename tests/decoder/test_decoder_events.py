"""Change events: real samples, timestamps, TTL deletes, input layouts, Kinesis position, JSON round trips."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import orjson
import pytest

from claimflow.events import ChangeEvent, DecodeError, Rejection, decode_record, decode_records, parse_change_events
from claimflow.kinesis import FlowFilePosition, parse_arrival_ms

from ._records import REPO, SAMPLES, change_record, ndjson

# --- the three real records -------------------------------------------------------------------------------------


def test_real_samples_decode() -> None:
    events = list(decode_records(SAMPLES.read_bytes()))
    assert [type(e) for e in events] == [ChangeEvent] * 3
    insert, modify, remove = events  # type: ignore[misc]
    assert [e.event_name for e in (insert, modify, remove)] == ["INSERT", "MODIFY", "REMOVE"]
    assert insert.event_id == "b015b5f0-c095-4b50-8ad0-4279aa3d88c6"
    assert insert.table_name == "foo" and insert.aws_region == "us-east-1"
    assert insert.event_time_us == 1720740233012995
    assert insert.keys == {"device": "foo", "timestamp": "2024-07-12T01:17:42"}
    assert insert.new_image == {
        "humidity": Decimal("84.84"),
        "temperature": Decimal("42.42"),
        "device": "foo",
        "timestamp": "2024-07-12T01:17:42",
    }
    assert insert.old_image is None and insert.size_bytes == 99 and insert.ttl_delete is False
    assert modify.new_image is not None and modify.old_image is not None
    assert (modify.old_image["temperature"], modify.new_image["temperature"]) == (Decimal("42.42"), Decimal("55.66"))
    assert remove.new_image is None and remove.old_image == {
        "humidity": Decimal("84.84"),
        "temperature": Decimal("55.66"),
        "device": "bar",
        "timestamp": "2024-07-12T01:17:42",
    }
    assert all(e.kinesis is None for e in (insert, modify, remove))


def test_real_samples_json_lines_keep_exact_number_text() -> None:
    lines = [e.to_json() for e in decode_records(SAMPLES.read_bytes()) if isinstance(e, ChangeEvent)]
    assert b'"humidity":84.84' in lines[0] and b'"temperature":42.42' in lines[0]
    first = json.loads(lines[0])
    assert set(first) == {
        "event_id", "event_name", "table_name", "aws_region", "event_time_us", "ttl_delete", "keys", "new_image",
        "old_image", "kinesis", "size_bytes", "record_index",
    }  # fmt: skip


# --- timestamps -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("time", "precision", "expected_us"),
    [
        (1720740233012995, "MICROSECOND", 1720740233012995),
        (1720740233012, "MILLISECOND", 1720740233012000),
        (1720740233012, None, 1720740233012000),  # older records: milliseconds, no precision field
        (1720740233012995, None, 1720740233012995),  # no field, but the magnitude says microseconds
    ],
    ids=["micro", "milli", "milli-no-field", "micro-no-field"],
)
def test_timestamps_are_normalised_to_microseconds(time: int, precision: str | None, expected_us: int) -> None:
    event = decode_record(change_record(time=time, precision=precision))
    assert event.event_time_us == expected_us
    assert isinstance(event.event_time_us, int)


@pytest.mark.parametrize(
    ("time", "precision", "rule"),
    [
        (1720740233012, "UNKNOWN", "Precision must be MICROSECOND or MILLISECOND"),  # never guessed
        (1720740233012995, "MILLISECOND", "more than 15 minutes after now"),  # µs labelled ms: year 56000
        (10**19, None, "more than 15 minutes after now"),
        (1720740233, None, "before DynamoDB Streams existed"),  # seconds read as milliseconds: 1970
        (1262304000000000, "MICROSECOND", "before DynamoDB Streams existed"),  # 2010
    ],
    ids=["unknown-precision", "us-labelled-ms", "1e19", "seconds", "2010"],
)
def test_implausible_event_times_are_rejected_with_the_rule(time: int, precision: str | None, rule: str) -> None:
    with pytest.raises(DecodeError, match=rule) as raised:
        decode_record(change_record(time=time, precision=precision))
    assert str(time) not in str(raised.value)  # the rule, never the value


def test_an_event_time_past_its_kinesis_arrival_is_rejected() -> None:
    """Past the arrival by more than the clock skew: the bound is the record's arrival, not this machine's clock."""
    arrival_ms = 1720740233012
    record = change_record(time=(arrival_ms + 16 * 60 * 1000) * 1000, precision="MICROSECOND")
    within = change_record(time=(arrival_ms + 14 * 60 * 1000) * 1000, precision="MICROSECOND")
    attributes = {"aws.kinesis.sequence.number": "1", "aws.kinesis.approximate.arrival.timestamp.ms": str(arrival_ms)}
    with pytest.raises(DecodeError, match="after its Kinesis arrival"):
        decode_record(record, attributes=attributes, single_record=True)
    assert decode_record(within, attributes=attributes, single_record=True).event_time_us > arrival_ms * 1000


def test_millisecond_and_microsecond_records_of_the_same_moment_agree() -> None:
    milli = decode_record(change_record(time=1720740233012, precision="MILLISECOND"))
    micro = decode_record(change_record(time=1720740233012000, precision="MICROSECOND"))
    assert milli.event_time_us == micro.event_time_us


# --- TTL deletes ------------------------------------------------------------------------------------------------


def test_ttl_delete_is_recognised() -> None:
    assert decode_record(change_record("REMOVE", ttl=True)).ttl_delete is True
    assert decode_record(change_record("REMOVE")).ttl_delete is False


@pytest.mark.parametrize(
    "identity",
    [
        {"type": "Service", "principalId": "someone.amazonaws.com"},
        {"type": "User", "principalId": "dynamodb.amazonaws.com"},
        "Service",
    ],
)
def test_other_identities_are_not_ttl_deletes(identity: Any) -> None:
    record = change_record("REMOVE")
    record["userIdentity"] = identity
    assert decode_record(record).ttl_delete is False


# --- layouts ----------------------------------------------------------------------------------------------------

RECORDS = [change_record("INSERT", "CLM-1"), change_record("MODIFY", "CLM-2"), change_record("REMOVE", "CLM-3")]
IDS = [r["eventID"] for r in RECORDS]


def _ids(data: bytes, attributes: dict[str, str] | None = None) -> list[str]:
    out = list(decode_records(data, attributes))
    assert all(isinstance(e, ChangeEvent) for e in out), out
    return [e.event_id for e in out]  # type: ignore[union-attr]


@pytest.mark.parametrize(
    "data",
    [
        ndjson(*RECORDS),
        b"\n\n" + ndjson(*RECORDS).replace(b"\n", b"\r\n\n") + b"\n  \n",
        b"\xef\xbb\xbf" + ndjson(*RECORDS),
        orjson.dumps(RECORDS),
        orjson.dumps(RECORDS, option=orjson.OPT_INDENT_2),
        ndjson(*RECORDS).rstrip(b"\n"),
    ],
    ids=["ndjson", "ndjson-blank-lines-crlf", "ndjson-bom", "array", "array-pretty", "ndjson-no-final-newline"],
)
def test_many_record_layouts(data: bytes) -> None:
    assert _ids(data) == IDS


@pytest.mark.parametrize(
    "data",
    [orjson.dumps(RECORDS[0]), orjson.dumps(RECORDS[0]) + b"\n", orjson.dumps(RECORDS[0], option=orjson.OPT_INDENT_2)],
    ids=["compact", "trailing-newline", "pretty"],
)
def test_single_record_layouts(data: bytes) -> None:
    assert _ids(data) == IDS[:1]


@pytest.mark.parametrize("data", [b"", b"\n\n", b"   ", b"[]"], ids=["empty", "newlines", "spaces", "empty-array"])
def test_no_records_yield_nothing(data: bytes) -> None:
    assert list(decode_records(data)) == []


def _stream_wrapper(record: dict[str, Any], sequence: str, arrival: Any = 1720740234000) -> dict[str, Any]:
    """ConsumeKinesisStream, Output Strategy "Use Wrapper" (RecordConverterWrapper)."""
    return {
        "metadata": {
            "kinesis.stream": "claims",
            "aws.kinesis.shard.id": "shardId-000000000003",
            "aws.kinesis.sequence.number": sequence,
            "aws.kinesis.partition.key": record["dynamodb"]["Keys"]["claim_id"]["S"],
            "aws.kinesis.approximate.arrival.timestamp": arrival,
        },
        "value": record,
    }


def _consume_kinesis_wrapper(record: dict[str, Any], sequence: str) -> dict[str, Any]:
    """ConsumeKinesis, Output Strategy "Use Wrapper" (KinesisRecordMetadata)."""
    return {
        "kinesisMetadata": {
            "stream": "claims",
            "shardId": "shardId-000000000007",
            "sequenceNumber": sequence,
            "subSequenceNumber": 0,
            "shardedSequenceNumber": sequence + "0" * 20,
            "partitionKey": "pk-" + record["eventID"],
            "approximateArrival": 1720740235000,
        },
        "value": record,
    }


SEQUENCES = [str(49654321098765432109876543210987654321098765432109876 + i) for i in range(3)]


def test_consume_kinesis_stream_wrapper_gives_each_record_its_position() -> None:
    wrapped = [_stream_wrapper(r, s) for r, s in zip(RECORDS, SEQUENCES, strict=True)]
    wrapped[1]["metadata"]["aws.kinesis.approximate.arrival.timestamp"] = "2024-07-11 23:23:54"
    attributes = {"aws.kinesis.shard.id": "shardId-000000000003", "aws.kinesis.sequence.number": "999"}
    for data in (ndjson(*wrapped), orjson.dumps(wrapped)):
        events = list(decode_records(data, attributes))
        assert [e.event_id for e in events] == IDS  # type: ignore[union-attr]
        assert [e.kinesis for e in events] == [  # type: ignore[union-attr]
            {
                "shard_id": "shardId-000000000003",
                "sequence_number": sequence,
                "partition_key": f"CLM-{i + 1}",
                "arrival_time_ms": 1720740234000,
            }
            for i, sequence in enumerate(SEQUENCES)
        ]


def test_consume_kinesis_wrapper_and_injected_metadata() -> None:
    wrapped = _consume_kinesis_wrapper(RECORDS[0], SEQUENCES[0])
    injected = {**RECORDS[1], "kinesisMetadata": _consume_kinesis_wrapper(RECORDS[1], SEQUENCES[1])["kinesisMetadata"]}
    events = list(decode_records(ndjson(wrapped, injected)))
    assert [e.event_id for e in events] == IDS[:2]  # type: ignore[union-attr]
    for event, sequence in zip(events, SEQUENCES, strict=False):
        assert isinstance(event, ChangeEvent) and event.kinesis is not None
        assert event.kinesis["shard_id"] == "shardId-000000000007"
        assert event.kinesis["sequence_number"] == sequence
        assert event.kinesis["arrival_time_ms"] == 1720740235000
        assert event.kinesis["partition_key"] == "pk-" + event.event_id


# --- FlowFile attributes of both consumers ----------------------------------------------------------------------

STREAM_ATTRIBUTES = {  # ConsumeKinesisStream raw mode (its default): one FlowFile per Kinesis record, no count
    "aws.kinesis.shard.id": "shardId-000000000001",
    "aws.kinesis.sequence.number": SEQUENCES[0],
    "aws.kinesis.partition.key": "CLM-1",
    "aws.kinesis.approximate.arrival.timestamp": "2024-07-11 23:23:54",
}
CONSUME_ATTRIBUTES = {  # ConsumeKinesis 2.7+, FLOW_FILE strategy: one record, first == last
    "aws.kinesis.stream.name": "claims",
    "aws.kinesis.shard.id": "shardId-000000000002",
    "aws.kinesis.first.sequence.number": SEQUENCES[0],
    "aws.kinesis.last.sequence.number": SEQUENCES[0],
    "aws.kinesis.first.subsequence.number": "0",
    "aws.kinesis.last.subsequence.number": "0",
    "aws.kinesis.partition.key": "CLM-1",
    "aws.kinesis.approximate.arrival.timestamp.ms": "1720740234567",
    "record.count": "1",
}


def test_consume_kinesis_stream_attributes_for_a_single_record() -> None:
    (event,) = decode_records(orjson.dumps(RECORDS[0]), STREAM_ATTRIBUTES)
    assert isinstance(event, ChangeEvent)
    assert event.kinesis == {
        "shard_id": "shardId-000000000001",
        "sequence_number": SEQUENCES[0],
        "partition_key": "CLM-1",
        "arrival_time_ms": 1720740234000,  # "2024-07-11 23:23:54" read as UTC
    }


def test_consume_kinesis_attributes_for_a_single_record() -> None:
    (event,) = decode_records(orjson.dumps(RECORDS[0]), CONSUME_ATTRIBUTES)
    assert isinstance(event, ChangeEvent)
    assert event.kinesis == {
        "shard_id": "shardId-000000000002",
        "sequence_number": SEQUENCES[0],
        "partition_key": "CLM-1",
        "arrival_time_ms": 1720740234567,
    }


def test_many_records_in_one_flowfile_do_not_borrow_the_last_records_position() -> None:
    stream_events = list(decode_records(ndjson(*RECORDS), {**STREAM_ATTRIBUTES, "record.count": "3"}))
    # ConsumeKinesisStream writes one shard per FlowFile, so the shard is known; the rest belongs to the last record
    assert [e.kinesis for e in stream_events] == [  # type: ignore[union-attr]
        {"shard_id": "shardId-000000000001", "sequence_number": None, "partition_key": None, "arrival_time_ms": None}
    ] * 3
    consume = {**CONSUME_ATTRIBUTES, "aws.kinesis.first.sequence.number": SEQUENCES[0],
               "aws.kinesis.last.sequence.number": SEQUENCES[2]}  # fmt: skip
    consume_events = list(decode_records(ndjson(*RECORDS), consume))
    assert [e.kinesis for e in consume_events] == [None] * 3  # type: ignore[union-attr]


# What each consumer mode writes, from apache/nifi (nifi-extension-bundles/nifi-aws-bundle, read at 60319e26):
# - ConsumeKinesisStream raw mode (no Record Reader/Writer, the default): one FlowFile per Kinesis record, shard,
#   sequence number, partition key and arrival, never record.count (nifi-aws-processors/.../stream/record/
#   KinesisRecordProcessorRaw.java 41-64, AbstractKinesisRecordProcessor.java 221-231).
# - ConsumeKinesisStream record mode: record.count = records written (AbstractRecordSetWriter.java 58-60 counts
#   every write) and the LAST Kinesis record's sequence number (KinesisRecordProcessorRecord.java 198-199).
# - ConsumeKinesis FLOW_FILE: one record per FlowFile, first = last sequence number, record.count 1
#   (nifi-aws-kinesis/.../ConsumeKinesis.java 949-969); RECORD: a batch, the range and the count (1378-1406).
CONSUMER_MODES: dict[str, tuple[dict[str, str], bool, bool, str | None]] = {
    # attributes, one_record, many_records, the sequence number of a FlowFile whose content holds one record
    "stream-raw": (STREAM_ATTRIBUTES, True, False, SEQUENCES[0]),
    "stream-record-one": ({**STREAM_ATTRIBUTES, "record.count": "1"}, True, False, SEQUENCES[0]),
    "stream-record-many": ({**STREAM_ATTRIBUTES, "record.count": "3"}, False, True, None),
    # An unreadable count proves nothing for a record-at-a-time engine; the decoder still sees one record.
    "stream-unreadable-count": ({**STREAM_ATTRIBUTES, "record.count": "3 records"}, False, False, SEQUENCES[0]),
    "stream-shard-only": ({"aws.kinesis.shard.id": "shardId-000000000001"}, False, False, None),
    "consume-flow-file": (CONSUME_ATTRIBUTES, True, False, SEQUENCES[0]),
    "consume-record-many": ({**CONSUME_ATTRIBUTES, "aws.kinesis.last.sequence.number": SEQUENCES[2],
                             "record.count": "3"}, False, True, None),
}


@pytest.mark.parametrize("mode", sorted(CONSUMER_MODES))
def test_flowfile_position_per_consumer_mode(mode: str) -> None:
    attributes, one, many, single_sequence = CONSUMER_MODES[mode]
    flowfile = FlowFilePosition.from_attributes(attributes)
    assert flowfile is not None
    assert (flowfile.one_record, flowfile.many_records) == (one, many)
    (event,) = decode_records(orjson.dumps(RECORDS[0]), attributes)
    assert isinstance(event, ChangeEvent)
    assert (event.kinesis and event.kinesis["sequence_number"]) == single_sequence
    # A record of a many-record content never takes the attributes' sequence number, whatever they say.
    events = list(decode_records(ndjson(*RECORDS), attributes))
    assert [e.kinesis and e.kinesis["sequence_number"] for e in events] == [None] * 3  # type: ignore[union-attr]


def test_decode_record_reads_record_count_and_sequence_range_from_attributes() -> None:
    single = decode_record(RECORDS[0], 0, CONSUME_ATTRIBUTES)
    assert single.kinesis is not None and single.kinesis["sequence_number"] == SEQUENCES[0]
    ranged = {**CONSUME_ATTRIBUTES, "aws.kinesis.last.sequence.number": SEQUENCES[2]}
    assert decode_record(RECORDS[0], 0, ranged).kinesis is None
    counted = decode_record(RECORDS[0], 0, {**STREAM_ATTRIBUTES, "record.count": "2"})
    assert counted.kinesis is not None and counted.kinesis["sequence_number"] is None
    assert decode_record(RECORDS[0], 0, STREAM_ATTRIBUTES, single_record=False).kinesis == counted.kinesis


def test_wrapper_metadata_wins_over_attributes() -> None:
    (event,) = decode_records(orjson.dumps(_stream_wrapper(RECORDS[0], SEQUENCES[1])), STREAM_ATTRIBUTES)
    assert isinstance(event, ChangeEvent) and event.kinesis is not None
    assert event.kinesis["sequence_number"] == SEQUENCES[1]


def test_unrelated_or_unreadable_attributes_give_no_position() -> None:
    assert decode_record(RECORDS[0], 0, {"filename": "x.json", "mime.type": "application/json"}).kinesis is None
    odd = {"aws.kinesis.shard.id": "s", "aws.kinesis.sequence.number": "12a",
           "aws.kinesis.approximate.arrival.timestamp": "yesterday"}  # fmt: skip
    event = decode_record(RECORDS[0], 0, odd)
    assert event.kinesis == {"shard_id": "s", "sequence_number": None, "partition_key": None, "arrival_time_ms": None}


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("1720740234567", 1720740234567),
        (1720740234567, 1720740234567),
        ("2024-07-11 23:23:54", 1720740234000),
        ("2024-07-11T23:23:54.123Z", 1720740234123),
        ("2024-07-12T01:23:54+02:00", 1720740234000),
        ("2024-07-11 23:23:54.999999", 1720740234999),
        ("1969-12-31 23:59:59.5", -500),
        ("\u0661\u0662", None),  # non-ASCII digits are not a timestamp
        ("", None),
        (None, None),
        (True, None),
        ("not a time", None),
    ],
)
def test_arrival_timestamp_forms(value: Any, expected: int | None) -> None:
    assert parse_arrival_ms(value) == expected


# --- records that went through a NiFi JSON record reader --------------------------------------------------------

TAGS = ["S", "N", "B", "SS", "NS", "BS", "M", "L", "NULL", "BOOL"]


def _pad(value: Any) -> Any:
    """Re-shape a value the way a NiFi JSON reader with a merged schema writes it back."""
    if isinstance(value, dict) and len(value) == 1 and next(iter(value)) in TAGS:
        ((tag, inner),) = value.items()
        if tag == "M":
            inner = {key: _pad(item) for key, item in inner.items()}
        elif tag == "L":
            inner = [_pad(item) for item in inner]
        return {**dict.fromkeys(TAGS), tag: inner}
    return value


def test_nifi_reader_mangled_record_decodes_like_the_original() -> None:
    original = change_record("MODIFY", "CLM-9")
    mangled = json.loads(json.dumps(original))
    for image in ("Keys", "NewImage", "OldImage"):
        mangled["dynamodb"][image] = {k: _pad(v) for k, v in mangled["dynamodb"][image].items()}
        mangled["dynamodb"][image]["absentInThisItem"] = None
    assert decode_record(mangled) == decode_record(original)


def test_null_images_count_as_absent() -> None:
    record = change_record("INSERT")
    record["dynamodb"]["OldImage"] = None
    assert decode_record(record).old_image is None


# --- the JSON contract ------------------------------------------------------------------------------------------


def test_to_json_and_from_json_round_trip_exactly() -> None:
    record = change_record("MODIFY")
    record["dynamodb"]["NewImage"]["tiny"] = {"N": "1E-130"}
    record["dynamodb"]["NewImage"]["huge"] = {"N": "9.9999999999999999999999999999999999999E+125"}
    record["dynamodb"]["NewImage"]["wide"] = {"N": "12345678901234567890123456789012345678"}
    record["dynamodb"]["NewImage"]["money"] = {"N": "0.10"}
    event = decode_record(record, 0, STREAM_ATTRIBUTES)
    line = event.to_json()
    assert b'"tiny":1E-130' in line and b'"huge":9.9999999999999999999999999999999999999E+125' in line
    assert b'"wide":12345678901234567890123456789012345678' in line and b'"money":0.10' in line
    again = ChangeEvent.from_json(line)
    assert again == event
    assert again.new_image is not None and str(again.new_image["money"]) == "0.10"
    assert isinstance(again.event_time_us, int) and isinstance(again.size_bytes, int)


def test_parse_change_events_reads_ndjson_back_and_rejects_bad_lines() -> None:
    events = [e for e in decode_records(SAMPLES.read_bytes()) if isinstance(e, ChangeEvent)]
    text = b"\n".join(e.to_json() for e in events[:2]) + b"\n{not json\n\n" + events[2].to_json() + b'\n{"a": 1}\n'
    back = list(parse_change_events(text))
    assert [type(x) for x in back] == [ChangeEvent, ChangeEvent, Rejection, ChangeEvent, Rejection]
    assert back[:2] + back[3:4] == events
    assert isinstance(back[2], Rejection) and back[2].index == 2 and "malformed JSON" in back[2].error


def test_from_json_rejects_incomplete_events() -> None:
    with pytest.raises(DecodeError, match="lacks"):
        ChangeEvent.from_json(b'{"event_id": "e1", "event_name": "INSERT"}')
    line = json.loads(next(iter(decode_records(SAMPLES.read_bytes()))).to_json())  # type: ignore[union-attr]
    with pytest.raises(DecodeError, match="event_time_us"):
        ChangeEvent.from_json(json.dumps({**line, "event_time_us": 1.5}))


def test_change_event_is_slotted() -> None:
    event = decode_record(change_record())
    with pytest.raises(AttributeError):
        event.unexpected = 1  # type: ignore[attr-defined]


def test_decode_records_is_lazy() -> None:
    """Records are decoded one at a time: a bad record later in the input does not stop the first ones."""
    data = ndjson(RECORDS[0], RECORDS[1]) + b"\xff\xfe garbage"
    stream = decode_records(data)
    first = next(stream)
    assert isinstance(first, ChangeEvent) and first.event_id == IDS[0]
    rest = list(stream)
    assert isinstance(rest[0], ChangeEvent) and isinstance(rest[1], Rejection)


def test_modify_old_image_can_be_skipped_but_remove_keeps_it() -> None:
    modify, remove = change_record("MODIFY", "CLM-1"), change_record("REMOVE", "CLM-2")
    modify["dynamodb"]["OldImage"]["totalCharge"] = {"N": "not a number"}  # not even looked at
    events = list(decode_records(ndjson(modify, remove), modify_old_image=False))
    assert [type(e) for e in events] == [ChangeEvent, ChangeEvent]
    assert events[0].old_image is None and events[0].new_image is not None  # type: ignore[union-attr]
    assert events[1].old_image is not None  # type: ignore[union-attr]
    assert isinstance(next(iter(decode_records(ndjson(modify)))), Rejection)
    assert decode_record(change_record("MODIFY"), modify_old_image=False).old_image is None


def test_the_documented_example_is_what_the_decoder_writes() -> None:
    doc = REPO / "docs" / "change-events.md"
    example = doc.read_text().split("```json\n", 1)[1].split("\n```", 1)[0].encode()
    attributes = {
        "aws.kinesis.shard.id": "shardId-000000000000",
        "aws.kinesis.sequence.number": "49654321098765432109876543210987654321098765432109876",
        "aws.kinesis.partition.key": "foo",
        "aws.kinesis.approximate.arrival.timestamp": "2024-07-12 01:17:43",
    }
    (event,) = decode_records(SAMPLES.read_bytes().splitlines()[0], attributes)
    assert isinstance(event, ChangeEvent) and event.to_json() == example


def test_content_as_str_bytearray_or_memoryview() -> None:
    data = ndjson(*RECORDS)
    for content in (data.decode(), bytearray(data), memoryview(data)):
        assert _ids(content) == IDS  # type: ignore[arg-type]
