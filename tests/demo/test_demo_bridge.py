"""The bridge writes exactly the "Kinesis Data Streams for DynamoDB" record format."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime

import pytest

from claimflow.demo.aws import ensure_resources
from claimflow.demo.bridge import (
    TTL_SERVICE_IDENTITY,
    EventLedger,
    MicrosecondClock,
    StreamBridge,
    partition_key_for,
    to_kinesis_record,
)
from claimflow.events import decode_record

WHEN = datetime(2026, 3, 1, 12, 30, 5, 123000, tzinfo=UTC)
WHEN_US = 1772368205123000


def stream_record(event_name: str, new: dict | None, old: dict | None) -> dict:
    """A DynamoDB Streams record as boto3 returns it (datetime, bytes for binaries)."""
    body = {
        "ApproximateCreationDateTime": WHEN,
        "Keys": {"claim_id": {"S": "c-1"}},
        "SequenceNumber": "1100000000017454423009",
        "SizeBytes": 321,
        "StreamViewType": "NEW_AND_OLD_IMAGES",
    }
    if new is not None:
        body["NewImage"] = new
    if old is not None:
        body["OldImage"] = old
    return {
        "eventID": "e1e2ff8f11804bdba1664a3fb66c5fe2",
        "eventName": event_name,
        "eventVersion": "1.1",
        "eventSource": "aws:dynamodb",
        "eventSourceARN": "arn:aws:dynamodb:us-east-1:123456789012:table/InsuranceClaims/stream/x",
        "awsRegion": "us-east-1",
        "dynamodb": body,
    }


IMAGE = {
    "claim_id": {"S": "c-1"},
    "total_charge": {"N": "1234.50"},
    "scan": {"B": b"\x00\x01\xff"},
    "scans": {"BS": [b"\x02", b"\x03"]},
    "patient": {"M": {"photo": {"B": b"\x10"}, "tags": {"L": [{"B": b"\x11"}, {"S": "x"}]}}},
    "codes": {"SS": ["E11.9", "I10"]},
    "flag": {"BOOL": True},
    "nothing": {"NULL": True},
}


def test_demo_bridge_insert_has_the_kinesis_shape() -> None:
    out = to_kinesis_record(stream_record("INSERT", IMAGE, None), "InsuranceClaims", WHEN_US)
    assert list(out) == [
        "awsRegion", "eventID", "eventName", "userIdentity", "recordFormat", "tableName", "dynamodb", "eventSource",
    ]  # fmt: skip
    assert out["eventID"] == "e1e2ff8f-1180-4bdb-a166-4a3fb66c5fe2"  # UUID form, as Kinesis delivers it
    assert out["userIdentity"] is None
    assert out["recordFormat"] == "application/json"
    assert out["tableName"] == "InsuranceClaims"
    assert out["eventSource"] == "aws:dynamodb"
    body = out["dynamodb"]
    assert set(body) == {
        "ApproximateCreationDateTime", "Keys", "NewImage", "SizeBytes", "ApproximateCreationDateTimePrecision",
    }  # fmt: skip
    for dropped in ("SequenceNumber", "StreamViewType", "eventVersion", "eventSourceARN"):
        assert dropped not in body and dropped not in out
    assert body["ApproximateCreationDateTime"] == WHEN_US and isinstance(body["ApproximateCreationDateTime"], int)
    assert body["ApproximateCreationDateTimePrecision"] == "MICROSECOND"
    assert body["SizeBytes"] == 321
    image = body["NewImage"]
    assert image["total_charge"] == {"N": "1234.50"}
    assert base64.b64decode(image["scan"]["B"]) == b"\x00\x01\xff"
    assert [base64.b64decode(b) for b in image["scans"]["BS"]] == [b"\x02", b"\x03"]
    assert base64.b64decode(image["patient"]["M"]["photo"]["B"]) == b"\x10"
    assert image["patient"]["M"]["tags"]["L"][0] == {"B": base64.b64encode(b"\x11").decode()}
    json.dumps(out)  # JSON-serialisable as is


def test_demo_bridge_output_decodes_with_the_project_decoder() -> None:
    old = {"claim_id": {"S": "c-1"}, "expires_at": {"N": str(WHEN_US // 1_000_000 - 60)}}
    ttl = to_kinesis_record(stream_record("REMOVE", None, old), "InsuranceClaims", WHEN_US, "expires_at")
    event = decode_record(json.loads(json.dumps(ttl)))
    assert event.event_name == "REMOVE" and event.ttl_delete is True and event.event_time_us == WHEN_US
    insert = decode_record(to_kinesis_record(stream_record("INSERT", IMAGE, None), "InsuranceClaims", WHEN_US))
    assert str(insert.new_image["total_charge"]) == "1234.50" and insert.ttl_delete is False


@pytest.mark.parametrize(
    ("old_extra", "ttl_attribute", "expected"),
    [
        ({"expires_at": {"N": str(WHEN_US // 1_000_000 - 1)}}, "expires_at", TTL_SERVICE_IDENTITY),
        ({"expires_at": {"N": str(WHEN_US // 1_000_000 + 3600)}}, "expires_at", None),  # not expired yet: a user
        ({}, "expires_at", None),  # no TTL attribute: a user delete
        ({"expires_at": {"N": str(WHEN_US // 1_000_000 - 1)}}, None, None),  # TTL disabled on the table
    ],
)
def test_demo_bridge_marks_only_ttl_expiries(old_extra: dict, ttl_attribute: str | None, expected: object) -> None:
    old = {"claim_id": {"S": "c-1"}, **old_extra}
    out = to_kinesis_record(stream_record("REMOVE", None, old), "InsuranceClaims", WHEN_US, ttl_attribute)
    assert out["userIdentity"] == expected
    assert "NewImage" not in out["dynamodb"] and out["dynamodb"]["OldImage"]["claim_id"] == {"S": "c-1"}


def test_demo_bridge_partition_key_follows_the_item_key() -> None:
    first = partition_key_for({"claim_id": {"S": "c-1"}})
    assert first == partition_key_for({"claim_id": {"S": "c-1"}})
    assert first != partition_key_for({"claim_id": {"S": "c-2"}})
    assert len(first) == 32 and int(first, 16) >= 0


def test_demo_bridge_clock_keeps_order_within_a_millisecond() -> None:
    clock = MicrosecondClock()
    stamps = [clock.stamp(WHEN), clock.stamp(WHEN), clock.stamp(WHEN)]
    assert stamps == [WHEN_US, WHEN_US + 1, WHEN_US + 2]
    assert clock.stamp(datetime(2026, 3, 1, 12, 30, 6, tzinfo=UTC)) == WHEN_US - 123000 + 1_000_000


def test_demo_bridge_ledger_is_order_independent() -> None:
    one, two = EventLedger(), EventLedger()
    for event_id in ("a", "b", "c"):
        one.add(event_id)
    for event_id in ("c", "a", "b"):
        two.add(event_id)
    assert (one.count, one.digest) == (two.count, two.digest)
    two.add("d")
    assert one.digest != two.digest


def test_demo_bridge_through_moto_keeps_each_claim_on_one_shard(aws) -> None:  # type: ignore[no-untyped-def]
    resources = ensure_resources(aws, "BridgeClaims", "BridgeStream", shards=3)
    for i in range(12):
        aws.dynamodb.put_item(TableName="BridgeClaims", Item={"claim_id": {"S": f"c-{i}"}, "v": {"N": "1"}})
        aws.dynamodb.put_item(
            TableName="BridgeClaims", Item={"claim_id": {"S": f"c-{i}"}, "v": {"N": "2"}, "b": {"B": b"\x00"}}
        )
    aws.dynamodb.delete_item(TableName="BridgeClaims", Key={"claim_id": {"S": "c-0"}})
    bridge = StreamBridge(aws, resources)
    assert bridge.pump() == 25
    assert bridge.pump() == 0  # nothing read twice
    shards_of: dict[str, set[str]] = {}
    times: list[int] = []
    seen = 0
    for shard in aws.kinesis.list_shards(StreamName="BridgeStream")["Shards"]:
        iterator = aws.kinesis.get_shard_iterator(
            StreamName="BridgeStream", ShardId=shard["ShardId"], ShardIteratorType="TRIM_HORIZON"
        )["ShardIterator"]
        for record in aws.kinesis.get_records(ShardIterator=iterator)["Records"]:
            data = json.loads(record["Data"])
            seen += 1
            assert data["tableName"] == "BridgeClaims" and "SequenceNumber" not in data["dynamodb"]
            assert record["PartitionKey"] == partition_key_for({"claim_id": data["dynamodb"]["Keys"]["claim_id"]})
            shards_of.setdefault(data["dynamodb"]["Keys"]["claim_id"]["S"], set()).add(shard["ShardId"])
            times.append(data["dynamodb"]["ApproximateCreationDateTime"])
    assert seen == 25 and bridge.ledger.count == 25
    assert all(len(shards) == 1 for shards in shards_of.values())
    assert len(set(times)) == 25  # microsecond stamps unique even where moto's milliseconds collide


def test_demo_bridge_emulator_shim_answers_like_moto(aws, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from moto.dynamodbstreams.responses import DynamoDBStreamsHandler

    resources = ensure_resources(aws, "ShimClaims", "ShimStream", shards=1)
    aws.dynamodb.put_item(TableName="ShimClaims", Item=IMAGE)
    aws.dynamodb.put_item(TableName="ShimClaims", Item={**IMAGE, "total_charge": {"N": "99.10"}})
    aws.dynamodb.delete_item(TableName="ShimClaims", Key={"claim_id": {"S": "c-1"}})
    arn = resources.table_stream_arn
    shard = aws.streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"][0]["ShardId"]

    def read() -> list[dict]:
        iterator = aws.streams.get_shard_iterator(StreamArn=arn, ShardId=shard, ShardIteratorType="TRIM_HORIZON")
        return aws.streams.get_records(ShardIterator=iterator["ShardIterator"])["Records"]

    shimmed = DynamoDBStreamsHandler.get_records
    assert getattr(shimmed, "claimflow_shim", False)
    fast = read()
    monkeypatch.setattr(DynamoDBStreamsHandler, "get_records", shimmed.original)  # moto's own serializer
    assert read() == fast
    assert [r["eventName"] for r in fast] == ["INSERT", "MODIFY", "REMOVE"]
    assert fast[0]["dynamodb"]["NewImage"]["scan"] == {"B": b"\x00\x01\xff"}


def test_demo_kinesis_emulator_shim_answers_like_moto(aws, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from moto.kinesis.responses import KinesisResponse

    ensure_resources(aws, "KShimClaims", "KShimStream", shards=1)
    payloads = [b'{"eventName":"INSERT"}', bytes(range(256)), b"x" * 3000]
    aws.kinesis.put_records(
        StreamName="KShimStream", Records=[{"Data": d, "PartitionKey": f"pk{i}"} for i, d in enumerate(payloads)]
    )
    shard = aws.kinesis.list_shards(StreamName="KShimStream")["Shards"][0]["ShardId"]

    def read(limit: int) -> tuple[list[dict], bool]:
        iterator = aws.kinesis.get_shard_iterator(
            StreamName="KShimStream", ShardId=shard, ShardIteratorType="TRIM_HORIZON"
        )["ShardIterator"]
        page = aws.kinesis.get_records(ShardIterator=iterator, Limit=limit)
        return page["Records"], bool(page["NextShardIterator"])

    shimmed = KinesisResponse.get_records
    assert getattr(shimmed, "claimflow_shim", False)
    fast, fast_limited = read(10), read(2)
    monkeypatch.setattr(KinesisResponse, "get_records", shimmed.original)  # moto's own serializer
    assert read(10) == fast
    assert read(2) == fast_limited
    assert [r["Data"] for r in fast[0]] == payloads
    assert len(fast_limited[0]) == 2
    assert fast[0][0]["ApproximateArrivalTimestamp"].tzinfo is not None


def test_demo_scan_emulator_shim_answers_like_moto(aws, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from moto.dynamodb.responses import DynamoHandler

    ensure_resources(aws, "ScanShimClaims", "ScanShimStream", shards=1)
    for index in range(30):
        aws.dynamodb.put_item(TableName="ScanShimClaims", Item={**IMAGE, "claim_id": {"S": f"c-{index:02d}"}})

    def pages(**kwargs: object) -> list[dict]:
        out, start = [], {}
        while True:
            page = aws.dynamodb.scan(TableName="ScanShimClaims", ConsistentRead=True, Limit=7, **kwargs, **start)
            page.pop("ResponseMetadata")
            out.append(page)
            if "LastEvaluatedKey" not in page:
                return out
            start = {"ExclusiveStartKey": page["LastEvaluatedKey"]}

    shimmed = DynamoHandler.scan
    assert getattr(shimmed, "claimflow_shim", False)
    fast = pages()
    fast_total = pages(ReturnConsumedCapacity="TOTAL")
    monkeypatch.setattr(DynamoHandler, "scan", shimmed.original)  # moto's own serializer
    assert pages() == fast
    assert pages(ReturnConsumedCapacity="TOTAL") == fast_total
    assert sum(p["Count"] for p in fast) == 30 and len(fast) == 5
    assert fast[0]["Items"][0]["scan"] == {"B": b"\x00\x01\xff"}


def test_demo_embedded_bridge_forwards_what_the_http_bridge_forwards(aws) -> None:  # type: ignore[no-untyped-def]
    from claimflow.demo.aws import embedded_bridge_clients

    over_http = ensure_resources(aws, "TwinClaims", "TwinHttpStream", shards=2)
    in_process = ensure_resources(aws, "TwinClaims", "TwinEmbeddedStream", shards=2)
    for index in range(12):
        aws.dynamodb.put_item(TableName="TwinClaims", Item={**IMAGE, "claim_id": {"S": f"c-{index}"}})
    aws.dynamodb.put_item(TableName="TwinClaims", Item={**IMAGE, "claim_id": {"S": "c-3"}, "flag": {"BOOL": False}})
    aws.dynamodb.delete_item(TableName="TwinClaims", Key={"claim_id": {"S": "c-5"}})
    assert StreamBridge(aws, over_http).pump() == 14
    assert StreamBridge(embedded_bridge_clients(aws), in_process).pump() == 14

    def forwarded(stream: str) -> list[tuple[str, dict]]:
        out = []
        for shard in aws.kinesis.list_shards(StreamName=stream)["Shards"]:
            iterator = aws.kinesis.get_shard_iterator(
                StreamName=stream, ShardId=shard["ShardId"], ShardIteratorType="TRIM_HORIZON"
            )["ShardIterator"]
            page = aws.kinesis.get_records(ShardIterator=iterator)
            out += [(r["PartitionKey"], json.loads(r["Data"])) for r in page["Records"]]
        return sorted(out, key=lambda pair: (pair[1]["eventID"]))

    http_records, embedded_records = forwarded("TwinHttpStream"), forwarded("TwinEmbeddedStream")
    assert len(http_records) == 14
    assert embedded_records == http_records
    assert [r["eventName"] for _, r in http_records].count("REMOVE") == 1


def test_demo_bridge_emulator_retention_frees_what_readers_passed(aws) -> None:  # type: ignore[no-untyped-def]
    """Trimmed stream records, overwritten item versions and consumed Kinesis records are really freed: moto's
    dashboard register no longer keeps them alive (it did, so the emulator grew by every change)."""
    import gc
    import weakref

    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.dynamodb.models import dynamodb_backends
    from moto.kinesis.models import kinesis_backends

    from claimflow.demo.aws import trim_emulator_streams

    resources = ensure_resources(aws, "RetainClaims", "RetainStream", shards=1)
    table = dynamodb_backends[DEFAULT_ACCOUNT_ID][aws.region].tables["RetainClaims"]
    aws.dynamodb.put_item(TableName="RetainClaims", Item={"claim_id": {"S": "c-1"}, "v": {"N": "1"}})
    first_version = weakref.ref(next(iter(table.all_items())))
    for version in range(2, 6):
        aws.dynamodb.put_item(TableName="RetainClaims", Item={"claim_id": {"S": "c-1"}, "v": {"N": str(version)}})
    bridge = StreamBridge(aws, resources)
    assert bridge.pump() == 5
    stream_record = weakref.ref(table.stream_shard.items[0])
    kinesis_shard = next(iter(kinesis_backends[DEFAULT_ACCOUNT_ID][aws.region].streams["RetainStream"].shards.values()))
    kinesis_record = weakref.ref(next(iter(kinesis_shard.records.values())))
    last = str(max(kinesis_shard.records))
    dropped = trim_emulator_streams(resources, aws.region, bridge.positions, {kinesis_shard.shard_id: last})
    gc.collect()
    assert dropped == 5 + 4  # the whole table stream; Kinesis keeps its last record for the sequence numbers
    leaked = [name for name, ref in (("item version", first_version), ("stream record", stream_record),
                                     ("kinesis record", kinesis_record)) if ref() is not None]  # fmt: skip
    assert leaked == []
    assert next(iter(table.all_items())).attrs["v"].value == "5"  # the live item itself stays
    from moto.dynamodbstreams.models import dynamodbstreams_backends

    iterators = dynamodbstreams_backends[DEFAULT_ACCOUNT_ID][aws.region].shard_iterators.values()
    kept = {it.sequence_number for it in iterators if it.stream_shard is table.stream_shard}
    assert kept == {table.stream_shard.starting_sequence_number}  # only the bridge's next position is left
    aws.dynamodb.put_item(TableName="RetainClaims", Item={"claim_id": {"S": "c-1"}, "v": {"N": "6"}})
    assert bridge.pump() == 1  # the bridge's iterator still works after the trim
