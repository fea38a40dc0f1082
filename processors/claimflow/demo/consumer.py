"""A checkpointing Kinesis consumer that hands out FlowFiles the way NiFi's ConsumeKinesisStream does.

It reads every shard (ListShards, GetShardIterator, GetRecords). Each record becomes one FlowFile: content = the
record data (the DynamoDB change JSON), attributes ``aws.kinesis.shard.id``, ``aws.kinesis.sequence.number``,
``aws.kinesis.partition.key`` and ``aws.kinesis.approximate.arrival.timestamp``.

Checkpoints (one sequence number per shard, in a small JSON file) move only when the caller says a batch is
committed downstream (``commit``), and only up to the last record such that every earlier record of that shard is
committed too. A consumer that stops before committing leaves the checkpoint where it was; a new consumer
resumes AFTER the checkpoint and re-delivers everything uncommitted (at-least-once, like the KCL).

Chaos for the demo: ``shuffle`` delivers records out of order within a batch and holds some back for a later
batch (out of order across batches); checkpoints stay correct because they only follow committed prefixes.
"""

from __future__ import annotations

import json
import os
import random
import time
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

SHARD_ID = "aws.kinesis.shard.id"
SEQUENCE_NUMBER = "aws.kinesis.sequence.number"
PARTITION_KEY = "aws.kinesis.partition.key"
ARRIVAL_TIMESTAMP = "aws.kinesis.approximate.arrival.timestamp"
SHARD_SYNC_INTERVAL_S = 10.0
# ConsumeKinesisStream formats the arrival time with its "Timestamp Format" property (default yyyy-MM-dd HH:mm:ss)
# in the JVM's time zone; the demo's JVM is UTC.
ARRIVAL_FORMAT = "%Y-%m-%d %H:%M:%S"


@dataclass(frozen=True)
class KinesisFlowFile:
    content: bytes
    attributes: dict[str, str]

    @property
    def shard_id(self) -> str:
        return self.attributes[SHARD_ID]

    @property
    def sequence_number(self) -> str:
        return self.attributes[SEQUENCE_NUMBER]


class CheckpointStore:
    """Per-shard checkpoints in a JSON file, written atomically (temp file + rename)."""

    def __init__(self, path: Path, stream_name: str) -> None:
        self.path = path
        self.stream_name = stream_name

    def load(self) -> dict[str, str]:
        """Raises ValueError when the file belongs to another stream."""
        if not self.path.exists():
            return {}
        document = json.loads(self.path.read_text(encoding="utf-8"))
        if document.get("stream") != self.stream_name:
            raise ValueError(f"{self.path} holds checkpoints of stream {document.get('stream')!r}")
        return {str(k): str(v) for k, v in document.get("shards", {}).items()}

    def save(self, checkpoints: dict[str, str]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        temporary = self.path.with_suffix(".tmp")
        temporary.write_text(
            json.dumps({"stream": self.stream_name, "shards": dict(sorted(checkpoints.items()))}, indent=1),
            encoding="utf-8",
        )
        os.replace(temporary, self.path)


class _ShardProgress:
    """Delivered, uncommitted sequence numbers of one shard in fetch order; the committed prefix is the checkpoint."""

    __slots__ = ("committed", "delivered", "last_fetched")

    def __init__(self) -> None:
        self.delivered: deque[str] = deque()
        self.committed: set[str] = set()
        self.last_fetched: str | None = None

    def advance(self) -> str | None:
        checkpoint = None
        while self.delivered and self.delivered[0] in self.committed:
            checkpoint = self.delivered.popleft()
            self.committed.discard(checkpoint)
        return checkpoint


class KinesisConsumer:
    """Polls batches of FlowFiles from every shard of a Kinesis stream; ``commit`` checkpoints a processed batch."""

    def __init__(
        self,
        kinesis: Any,
        stream_name: str,
        store: CheckpointStore,
        *,
        batch_size: int = 500,
        shuffle: bool = False,
        rng: random.Random | None = None,
        hold_back: float = 0.2,
    ) -> None:
        self._kinesis = kinesis
        self.stream_name = stream_name
        self._store = store
        self.batch_size = batch_size
        self._shuffle = shuffle
        self._rng = rng or random.Random(0)
        self._hold_back = hold_back
        self.checkpoints = store.load()
        self._iterators: dict[str, str | None] = {}
        self._progress: dict[str, _ShardProgress] = {}
        self._held: list[KinesisFlowFile] = []
        self._shard_ids: list[str] | None = None
        self._shards_listed_at = 0.0
        self.delivered = 0

    def _shards(self) -> list[str]:
        # Listed again only every SHARD_SYNC_INTERVAL_S, as the KCL syncs shards periodically rather than per read
        # (a reshard's new shards appear at the next sync; a closed shard's iterator ends by itself).
        now = time.monotonic()
        if self._shard_ids is None or now - self._shards_listed_at >= SHARD_SYNC_INTERVAL_S:
            self._shard_ids, self._shards_listed_at = self._list_shards(), now
        return self._shard_ids

    def _list_shards(self) -> list[str]:
        shard_ids: list[str] = []
        kwargs: dict[str, Any] = {"StreamName": self.stream_name}
        while True:
            page = self._kinesis.list_shards(**kwargs)
            shard_ids.extend(s["ShardId"] for s in page.get("Shards", []))
            token = page.get("NextToken")
            if not token:
                return shard_ids
            kwargs = {"NextToken": token}

    def _iterator(self, shard_id: str) -> str | None:
        if shard_id not in self._iterators:
            progress = self._progress.setdefault(shard_id, _ShardProgress())
            resume = progress.last_fetched or self.checkpoints.get(shard_id)
            kwargs: dict[str, Any] = {"StreamName": self.stream_name, "ShardId": shard_id}
            if resume:
                kwargs.update(ShardIteratorType="AFTER_SEQUENCE_NUMBER", StartingSequenceNumber=resume)
            else:
                kwargs.update(ShardIteratorType="TRIM_HORIZON")
            self._iterators[shard_id] = self._kinesis.get_shard_iterator(**kwargs)["ShardIterator"]
        return self._iterators[shard_id]

    def _fetch(self, shard_id: str, limit: int) -> list[KinesisFlowFile]:
        iterator = self._iterator(shard_id)
        if iterator is None:
            return []  # closed shard, fully read
        try:
            page = self._kinesis.get_records(ShardIterator=iterator, Limit=limit)
        except self._kinesis.exceptions.ExpiredIteratorException:
            del self._iterators[shard_id]  # iterators live 5 minutes: get a new one after the last fetched record
            page = self._kinesis.get_records(ShardIterator=self._iterator(shard_id), Limit=limit)
        self._iterators[shard_id] = page.get("NextShardIterator")
        progress = self._progress[shard_id]
        out = []
        for record in page.get("Records", []):
            arrival = record.get("ApproximateArrivalTimestamp")
            attributes = {
                SHARD_ID: shard_id,
                SEQUENCE_NUMBER: record["SequenceNumber"],
                PARTITION_KEY: record["PartitionKey"],
            }
            if isinstance(arrival, datetime):
                attributes[ARRIVAL_TIMESTAMP] = arrival.astimezone(UTC).strftime(ARRIVAL_FORMAT)
            out.append(KinesisFlowFile(bytes(record["Data"]), attributes))
            progress.delivered.append(record["SequenceNumber"])
            progress.last_fetched = record["SequenceNumber"]
        return out

    def poll(self, limit: int | None = None) -> list[KinesisFlowFile]:
        """The next batch (at most ``limit``, default ``batch_size``, FlowFiles); empty when every shard is
        caught up."""
        size = limit if limit is not None and limit > 0 else self.batch_size
        batch: list[KinesisFlowFile] = self._held
        self._held = []
        for shard_id in self._shards():
            room = size - len(batch)
            if room <= 0:
                break
            batch.extend(self._fetch(shard_id, room))
        if self._shuffle and batch:
            self._rng.shuffle(batch)
            keep = len(batch) - int(len(batch) * self._hold_back * self._rng.random())
            batch, self._held = batch[:keep], batch[keep:]
            if not batch:  # never return an empty batch while records are held
                batch, self._held = self._held, []
        self.delivered += len(batch)
        return batch

    def commit(self, batch: Iterable[KinesisFlowFile]) -> dict[str, str]:
        """Mark a batch committed downstream and save the checkpoints that moved; returns all checkpoints."""
        touched = set()
        for flowfile in batch:
            progress = self._progress[flowfile.shard_id]
            progress.committed.add(flowfile.sequence_number)
            touched.add(flowfile.shard_id)
        moved = False
        for shard_id in touched:
            checkpoint = self._progress[shard_id].advance()
            if checkpoint is not None:
                self.checkpoints[shard_id] = checkpoint
                moved = True
        if moved:
            self._store.save(self.checkpoints)
        return dict(self.checkpoints)

    @property
    def held_back(self) -> int:
        """FlowFiles fetched but held back for a later batch (shuffle), not delivered yet."""
        return len(self._held)

    @property
    def pending(self) -> int:
        """FlowFiles delivered (or held back) and not committed yet."""
        return sum(len(p.delivered) for p in self._progress.values())
