"""The consumer checkpoints only what was committed downstream and re-delivers everything else."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

from claimflow.demo.consumer import (
    ARRIVAL_TIMESTAMP,
    PARTITION_KEY,
    SEQUENCE_NUMBER,
    SHARD_ID,
    CheckpointStore,
    KinesisConsumer,
)


@pytest.fixture
def stream(aws, request) -> str:  # type: ignore[no-untyped-def]
    name = f"consumer-{request.node.name[-30:]}".replace("[", "-").replace("]", "")
    aws.kinesis.create_stream(StreamName=name, ShardCount=3)
    records = [{"Data": json.dumps({"n": i}).encode(), "PartitionKey": f"key-{i % 7}"} for i in range(60)]
    aws.kinesis.put_records(StreamName=name, Records=records)
    return name


def numbers(batch) -> list[int]:  # type: ignore[no-untyped-def]
    return [json.loads(f.content)["n"] for f in batch]


def test_demo_consumer_sets_the_consumekinesisstream_attributes(aws, stream, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    consumer = KinesisConsumer(aws.kinesis, stream, CheckpointStore(tmp_path / "cp.json", stream), batch_size=100)
    batch = consumer.poll()
    assert sorted(numbers(batch)) == list(range(60))
    for flowfile in batch:
        assert set(flowfile.attributes) == {SHARD_ID, SEQUENCE_NUMBER, PARTITION_KEY, ARRIVAL_TIMESTAMP}
        assert flowfile.attributes[SHARD_ID].startswith("shardId-")
        assert flowfile.attributes[SEQUENCE_NUMBER].isdigit()
    assert consumer.poll() == []


def test_demo_consumer_failed_sink_leaves_checkpoint_and_batch_is_redelivered(aws, stream, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    store = CheckpointStore(tmp_path / "cp.json", stream)
    consumer = KinesisConsumer(aws.kinesis, stream, store, batch_size=20)
    first = consumer.poll()
    consumer.commit(first)
    saved = store.path.read_text()
    committed = numbers(first)

    def failing_sink(batch) -> None:  # type: ignore[no-untyped-def]
        raise RuntimeError("Snowflake unavailable mid-batch")

    second = consumer.poll()
    with pytest.raises(RuntimeError):
        failing_sink(second)  # the demo commits only after the sink returns, so no commit happens here
    assert store.path.read_text() == saved  # checkpoint untouched

    restarted = KinesisConsumer(aws.kinesis, stream, store, batch_size=100)
    redelivered = restarted.poll()
    assert set(numbers(second)) <= set(numbers(redelivered))  # the failed batch comes again
    assert not set(committed) & set(numbers(redelivered))  # the committed one does not
    assert sorted(committed + numbers(redelivered)) == list(range(60))


def test_demo_consumer_shuffled_delivery_checkpoints_only_committed_prefixes(aws, stream, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    store = CheckpointStore(tmp_path / "cp.json", stream)
    consumer = KinesisConsumer(aws.kinesis, stream, store, batch_size=8, shuffle=True, rng=random.Random(1))
    seen: list[int] = []
    held_back_checked = False
    while batch := consumer.poll():
        seen += numbers(batch)
        checkpoints = consumer.commit(batch)
        for shard, sequence in checkpoints.items():
            # nothing at or before a checkpoint may still be uncommitted
            pending = consumer._progress[shard].delivered  # white-box check of the invariant
            assert all(int(s) > int(sequence) for s in pending)
            held_back_checked |= bool(pending)
    assert sorted(seen) == list(range(60))
    assert seen != sorted(seen)
    assert held_back_checked  # some records really were held back across batches
    # everything committed: a new consumer starts after the last record of every shard
    assert KinesisConsumer(aws.kinesis, stream, store).poll() == []


def test_demo_consumer_refuses_another_streams_checkpoints(tmp_path: Path) -> None:
    CheckpointStore(tmp_path / "cp.json", "one").save({"shardId-000000000000": "5"})
    with pytest.raises(ValueError, match="one"):
        CheckpointStore(tmp_path / "cp.json", "two").load()


def test_demo_emulator_retention_drops_only_what_readers_passed(aws, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.dynamodb.models import dynamodb_backends
    from moto.kinesis.models import kinesis_backends

    from claimflow.demo.aws import ensure_resources, trim_emulator_streams
    from claimflow.demo.bridge import StreamBridge

    resources = ensure_resources(aws, "RetentionClaims", "RetentionStream", shards=2)
    bridge = StreamBridge(aws, resources)
    store = CheckpointStore(tmp_path / "cp.json", "RetentionStream")
    consumer = KinesisConsumer(aws.kinesis, "RetentionStream", store, batch_size=7)

    def write(first: int, count: int) -> None:
        for i in range(first, first + count):
            aws.dynamodb.put_item(TableName="RetentionClaims", Item={"claim_id": {"S": f"c-{i}"}})

    def consume_all() -> list[str]:
        ids = []
        while batch := consumer.poll():
            ids += [json.loads(f.content)["dynamodb"]["Keys"]["claim_id"]["S"] for f in batch]
            consumer.commit(batch)
        return ids

    write(0, 20)
    bridge.pump()
    first = consume_all()
    dropped = trim_emulator_streams(resources, "us-east-1", bridge.positions, consumer.checkpoints)
    table = dynamodb_backends[DEFAULT_ACCOUNT_ID]["us-east-1"].tables["RetentionClaims"]
    shards = kinesis_backends[DEFAULT_ACCOUNT_ID]["us-east-1"].streams["RetentionStream"].shards
    assert table.stream_shard.items == []
    assert all(len(shard.records) <= 1 for shard in shards.values())  # the last record keeps the numbering
    assert dropped >= 20 + 20 - len(shards)
    last = {shard_id: max(shard.records) for shard_id, shard in shards.items() if shard.records}

    write(20, 15)  # everything still flows after the trim, nothing is lost or repeated
    assert bridge.pump() == 15
    second = consume_all()
    assert sorted(first + second) == sorted(f"c-{i}" for i in range(35))
    assert all(max(shards[s].records) > last[s] for s in last if shards[s].records)
