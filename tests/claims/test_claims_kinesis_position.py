"""The fast paths apply the Kinesis position of FlowFile attributes exactly as the decoder does."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from claimflow.claims import ClaimSettings, route_events, route_record_fused, route_records_fused
from claimflow.claims.synthetic import claim_records
from claimflow.events import decode_record_or_rejection, decode_records
from claimflow.kinesis import FlowFilePosition

from ._claims import INGEST_US
from .test_claims_shaped import counting_fast_hits

SEQUENCE = "49650000000000000000000000000000000000000000000000000009"
# FlowFile attributes as each NiFi consumer writes them (and variants a record writer or a merge may leave). From
# apache/nifi (nifi-extension-bundles/nifi-aws-bundle, read at 60319e26): ConsumeKinesisStream raw mode, its
# default, writes one FlowFile per Kinesis record and no record.count (KinesisRecordProcessorRaw.java 41-64,
# AbstractKinesisRecordProcessor.java 221-231); with a Record Writer, record.count and the LAST record's sequence
# number (KinesisRecordProcessorRecord.java 198-199). ConsumeKinesis FLOW_FILE: record.count 1, first = last
# (ConsumeKinesis.java 949-969); RECORD: the batch's range and count (ConsumeKinesis.java 1378-1406).
ATTRIBUTE_SETS: dict[str, dict[str, str] | None] = {
    "none": None,
    "consume-kinesis-stream": {  # raw mode
        "aws.kinesis.shard.id": "shardId-000000000003",
        "aws.kinesis.sequence.number": SEQUENCE,
        "aws.kinesis.partition.key": "CLM-00000007",
        "aws.kinesis.approximate.arrival.timestamp": "2025-11-01 00:00:01",
    },
    "consume-kinesis-stream-record-writer": {
        "aws.kinesis.shard.id": "shardId-000000000003",
        "aws.kinesis.sequence.number": SEQUENCE,
        "aws.kinesis.partition.key": "CLM-00000007",
        "aws.kinesis.approximate.arrival.timestamp": "2025-11-01 00:00:01",
        "record.count": "5",
    },
    "consume-kinesis-one": {
        "aws.kinesis.shard.id": "shardId-000000000004",
        "aws.kinesis.first.sequence.number": SEQUENCE,
        "aws.kinesis.last.sequence.number": SEQUENCE,
        "aws.kinesis.approximate.arrival.timestamp.ms": "1761955201000",
    },
    "consume-kinesis-flow-file": {
        "aws.kinesis.shard.id": "shardId-000000000004",
        "aws.kinesis.first.sequence.number": SEQUENCE,
        "aws.kinesis.last.sequence.number": SEQUENCE,
        "aws.kinesis.partition.key": "CLM-00000007",
        "aws.kinesis.approximate.arrival.timestamp.ms": "1761955201000",
        "record.count": "1",
    },
    "consume-kinesis-many": {
        "aws.kinesis.shard.id": "shardId-000000000004",
        "aws.kinesis.first.sequence.number": "49650000000000000000000000000000000000000000000000000001",
        "aws.kinesis.last.sequence.number": SEQUENCE,
        "aws.kinesis.approximate.arrival.timestamp.ms": "1761955201000",
        "record.count": "5",
    },
}


def _wrap_stream(record: dict[str, Any]) -> dict[str, Any]:
    return {"metadata": {"aws.kinesis.shard.id": "shardId-9", "aws.kinesis.sequence.number": "77",
                         "aws.kinesis.partition.key": "pk", "aws.kinesis.approximate.arrival.timestamp": "1761955201"},
            "value": record}


def _wrap_consume(record: dict[str, Any]) -> dict[str, Any]:
    return {"kinesisMetadata": {"shardId": "shardId-8", "sequenceNumber": "78", "partitionKey": "pk",
                                "approximateArrival": 1761955202000}, "value": record}


def _inject(record: dict[str, Any]) -> dict[str, Any]:
    return {**record, "kinesisMetadata": {"shardId": "shardId-7", "sequenceNumber": "79"}}


def _layouts() -> dict[str, bytes]:
    records = [orjson.loads(raw) for raw in claim_records(5, seed=31)]
    plain = [orjson.dumps(r) for r in records]
    mixed = [orjson.dumps(wrap(r)) for wrap, r in zip((_wrap_stream, _wrap_consume, _inject, dict, dict),
                                                      records, strict=True)]
    return {
        "single": plain[0],
        "single-pretty": orjson.dumps(records[0], option=orjson.OPT_INDENT_2),
        "ndjson": b"\n".join(plain) + b"\n",
        "array": b"[" + b",".join(plain) + b"]",
        "ndjson-wrappers": b"\n".join(mixed),
        "stream-wrapper-single": orjson.dumps(_wrap_stream(records[1])),
        "consume-wrapper-array": orjson.dumps([_wrap_consume(r) for r in records]),
        "ndjson-with-bad-line": b"\n".join([plain[0], b"{not json", plain[2]]),
    }


LAYOUTS = _layouts()


@pytest.mark.parametrize("attributes_name", sorted(ATTRIBUTE_SETS))
@pytest.mark.parametrize("layout", sorted(LAYOUTS))
def test_fused_path_with_attributes_equals_decoder_and_route_events(attributes_name: str, layout: str) -> None:
    attributes = ATTRIBUTE_SETS[attributes_name]
    data = LAYOUTS[layout]
    expected = list(route_events(decode_records(data, attributes), ClaimSettings(), INGEST_US))
    fused = list(route_records_fused(data, ClaimSettings(), INGEST_US, attributes))
    assert fused == expected
    assert [orjson.dumps(r.row) for r in fused] == [orjson.dumps(r.row) for r in expected]


@pytest.mark.parametrize("attributes_name", sorted(ATTRIBUTE_SETS))
def test_fast_path_runs_with_kinesis_attributes(attributes_name: str) -> None:
    attributes = ATTRIBUTE_SETS[attributes_name]
    data = LAYOUTS["ndjson"]
    hits: list[int] = []
    with counting_fast_hits(hits):
        routed = list(route_records_fused(data, ClaimSettings(), INGEST_US, attributes))
    assert hits == [0, 1, 2, 3, 4]  # the old code sent every record with aws.kinesis.* attributes to the decoder
    shards = {r.row["kinesisShardId"] for r in routed if r.row is not None}
    # A many-record FlowFile: ConsumeKinesisStream's shard holds for all, the sequence number for none.
    assert shards == ({"shardId-000000000003"} if attributes_name.startswith("consume-kinesis-stream") else {None})
    assert all(r.row is not None and r.row["kinesisSequenceNumber"] is None for r in routed)


@pytest.mark.parametrize("attributes_name", sorted(ATTRIBUTE_SETS))
@pytest.mark.parametrize("single_record", [True, False])
@pytest.mark.parametrize("wrap", [dict, _wrap_stream, _wrap_consume, _inject], ids=["plain", "stream", "consume",
                                                                                    "inject"])
def test_per_record_fused_path_with_attributes_equals_decoder(attributes_name: str, single_record: bool,
                                                              wrap: Any) -> None:
    attributes = ATTRIBUTE_SETS[attributes_name]
    hits: list[int] = []
    for index, raw in enumerate(claim_records(4, seed=32)):
        obj = wrap(orjson.loads(raw))
        item = decode_record_or_rejection(obj, index, attributes, single_record=single_record)
        expected = next(route_events([item], ClaimSettings(), INGEST_US, first_index=index))
        with counting_fast_hits(hits):
            assert route_record_fused(obj, index, ClaimSettings(), INGEST_US, attributes, single_record) == expected
    if wrap is dict:
        assert hits == [0, 1, 2, 3]


def test_single_record_gets_the_full_position_on_the_fast_path() -> None:
    obj = orjson.loads(next(iter(claim_records(1, seed=33))))
    hits: list[int] = []
    with counting_fast_hits(hits):
        routed = route_record_fused(obj, 0, ClaimSettings(), INGEST_US, ATTRIBUTE_SETS["consume-kinesis-stream"],
                                    single_record=True)
    assert hits == [0]
    assert routed.row is not None
    assert routed.row["kinesisSequenceNumber"] == SEQUENCE
    assert routed.row["kinesisPartitionKey"] == "CLM-00000007"
    assert routed.row["kinesisArrivalTime"] is not None and routed.row["kinesisArrivalTime"].startswith("2025-11-01")


# What a one-record FlowFile of each consumer mode yields: (does the FlowFile's record keep the sequence number).
ONE_RECORD_FLOWFILES = {
    "consume-kinesis-stream": True,  # raw mode: one Kinesis record per FlowFile, no record.count
    "consume-kinesis-stream-record-writer": False,  # record.count 5: the attributes are another record's
    "consume-kinesis-one": True,
    "consume-kinesis-flow-file": True,
    "consume-kinesis-many": False,
}


@pytest.mark.parametrize("attributes_name", sorted(ONE_RECORD_FLOWFILES))
def test_record_at_a_time_and_whole_content_agree_per_consumer_mode(attributes_name: str) -> None:
    # A record-at-a-time engine (ProcessClaimChange) sees record 0 alone and asks the attributes; the decoder sees
    # the whole content. For a FlowFile as the consumer writes it they must give the same row.
    attributes = ATTRIBUTE_SETS[attributes_name]
    flowfile = FlowFilePosition.from_attributes(attributes)
    assert flowfile is not None
    raw = next(iter(claim_records(1, seed=34)))
    (expected,) = route_events(decode_records(raw, attributes), ClaimSettings(), INGEST_US)
    routed = route_record_fused(orjson.loads(raw), 0, ClaimSettings(), INGEST_US, attributes,
                                single_record=flowfile.one_record)
    assert routed == expected
    assert routed.row is not None
    assert (routed.row["kinesisSequenceNumber"] == SEQUENCE) is ONE_RECORD_FLOWFILES[attributes_name]
