"""DynamoDB Streams -> Kinesis: what AWS's "Kinesis Data Streams for DynamoDB" does, for the emulator.

moto keeps a table's DynamoDB Streams records but never forwards table changes into Kinesis
(``enable_kinesis_streaming_destination`` is not implemented), so the demo runs this bridge. It reads every shard
of the table's stream with shard iterators, reshapes each record into the exact Kinesis Data Streams for
DynamoDB format and writes it with ``put_records``, partitioned by the item key so one item's changes stay on one
Kinesis shard.

The Kinesis format differs from a DynamoDB Streams record: no ``SequenceNumber``, ``StreamViewType``,
``eventVersion`` or ``eventSourceARN``; ``tableName`` and ``recordFormat`` added; ``ApproximateCreationDateTime``
in epoch microseconds with ``ApproximateCreationDateTimePrecision: "MICROSECOND"``; binaries base64-encoded;
``userIdentity`` null, or the DynamoDB service principal for a TTL expiry.

TTL expiries: moto never expires items and its stream records carry no ``userIdentity``. The demo simulates the
TTL service by deleting items whose TTL attribute lies in the past (see ``generator``); the bridge marks a
REMOVE as a TTL delete when the stream record already says so, or when the old image carries the table's TTL
attribute with an epoch-seconds value at or before the change time, which is the only way DynamoDB's TTL
deletes an item. A user who deletes an already-expired item by hand would be labelled TTL too; the generator never
does that.
"""

from __future__ import annotations

import base64
import calendar
import hashlib
import random
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import IO, Any

import orjson

from claimflow.demo.aws import AwsClients, Resources

TTL_SERVICE_IDENTITY = {"type": "Service", "principalId": "dynamodb.amazonaws.com"}
RECORD_FORMAT = "application/json"
PUT_RECORDS_MAX_COUNT = 500
PUT_RECORDS_MAX_BYTES = 5 * 1024 * 1024
_UNIT_HEX_MASK = (1 << 128) - 1


def encode_attribute_value(value: Mapping[str, Any]) -> dict[str, Any]:
    """One boto3 attribute value as DynamoDB JSON: binaries (bytes) become base64 strings, the rest is kept."""
    (tag, inner), *_ = value.items()
    if tag == "B":
        return {"B": _b64(inner)}
    if tag == "BS":
        return {"BS": [_b64(b) for b in inner]}
    if tag == "M":
        return {"M": {k: encode_attribute_value(v) for k, v in inner.items()}}
    if tag == "L":
        return {"L": [encode_attribute_value(v) for v in inner]}
    return {tag: inner}


def encode_image(image: Mapping[str, Any]) -> dict[str, Any]:
    return {name: encode_attribute_value(v) for name, v in image.items()}


def _b64(raw: bytes | str) -> str:
    # botocore hands binaries over as bytes; a str is already base64 (e.g. from a raw JSON fixture).
    return raw if isinstance(raw, str) else base64.b64encode(raw).decode("ascii")


def partition_key_for(keys: Mapping[str, Any]) -> str:
    """A stable partition key derived from the item key (like DynamoDB's: a hex digest), so one item -> one shard."""
    canonical = orjson.dumps(encode_image(keys), option=orjson.OPT_SORT_KEYS)
    return hashlib.md5(canonical, usedforsecurity=False).hexdigest().upper()


def epoch_microseconds(moment: datetime | int | float | Decimal) -> int:
    """ApproximateCreationDateTime as integer epoch microseconds (no float arithmetic on datetimes)."""
    if isinstance(moment, datetime):
        return calendar.timegm(moment.utctimetuple()) * 1_000_000 + moment.microsecond
    # Raw JSON gives epoch seconds, possibly fractional: go through Decimal to keep the digits.
    return int(Decimal(str(moment)) * 1_000_000)


def canonical_event_id(raw_id: str) -> str:
    """Kinesis-delivered records carry a UUID with dashes; DynamoDB Streams (and moto) may give 32 hex digits."""
    try:
        return str(uuid.UUID(raw_id))
    except ValueError:
        return raw_id


def is_ttl_expiry(stream_record: Mapping[str, Any], ttl_attribute: str | None, event_time_us: int) -> bool:
    """True when the change is DynamoDB's TTL service deleting an expired item (see the module docstring)."""
    identity = stream_record.get("userIdentity")
    if identity:
        return bool(identity.get("type") == "Service" and identity.get("principalId") == "dynamodb.amazonaws.com")
    if stream_record.get("eventName") != "REMOVE" or not ttl_attribute:
        return False
    expiry = (stream_record["dynamodb"].get("OldImage") or {}).get(ttl_attribute, {}).get("N")
    if expiry is None:
        return False
    try:
        return Decimal(expiry) * 1_000_000 <= event_time_us
    except InvalidOperation:
        return False


def to_kinesis_record(
    stream_record: Mapping[str, Any], table_name: str, event_time_us: int, ttl_attribute: str | None = None
) -> dict[str, Any]:
    """Reshape one DynamoDB Streams record (as boto3 returns it) into the Kinesis Data Streams for DynamoDB format.

    ``event_time_us`` is the change time in epoch microseconds (see ``MicrosecondClock``).
    """
    source = stream_record["dynamodb"]
    body: dict[str, Any] = {"ApproximateCreationDateTime": event_time_us, "Keys": encode_image(source["Keys"])}
    if "NewImage" in source:
        body["NewImage"] = encode_image(source["NewImage"])
    if "OldImage" in source:
        body["OldImage"] = encode_image(source["OldImage"])
    body["SizeBytes"] = int(source.get("SizeBytes") or 0)
    body["ApproximateCreationDateTimePrecision"] = "MICROSECOND"
    ttl = is_ttl_expiry(stream_record, ttl_attribute, event_time_us)
    return {
        "awsRegion": stream_record["awsRegion"],
        "eventID": canonical_event_id(stream_record["eventID"]),
        "eventName": stream_record["eventName"],
        "userIdentity": dict(TTL_SERVICE_IDENTITY) if ttl else None,
        "recordFormat": RECORD_FORMAT,
        "tableName": table_name,
        "dynamodb": body,
        "eventSource": "aws:dynamodb",
    }


class MicrosecondClock:
    """Strictly increasing microsecond timestamps for the records of one DynamoDB stream shard.

    moto stamps changes with millisecond precision, so two changes of one claim can share a millisecond. Real
    DynamoDB stamps microseconds. Within a stream shard records are in change order, so nudging a timestamp to
    one microsecond after its predecessor restores a true, unique order without inventing a different one.
    """

    __slots__ = ("_last",)

    def __init__(self) -> None:
        self._last = 0

    def stamp(self, moment: datetime | int | float | Decimal) -> int:
        micros = max(epoch_microseconds(moment), self._last + 1)
        self._last = micros
        return micros


class EventLedger:
    """Order-independent, constant-memory record of a set of event ids: count plus a 128-bit sum of digests.

    Two ledgers with equal count and digest hold the same multiset of ids (up to a 2^-128 collision chance).
    Optionally appends every id to a file, so a mismatch can be explained id by id afterwards.
    """

    def __init__(self, log_path: Path | None = None) -> None:
        self.count = 0
        self.digest = 0
        self.by_type: Counter[str] = Counter()
        self.ttl_deletes = 0
        self._log: IO[str] | None = log_path.open("a", encoding="ascii") if log_path else None

    @staticmethod
    def id_digest(event_id: str) -> int:
        return int.from_bytes(hashlib.blake2b(event_id.encode(), digest_size=16).digest(), "big")

    def add(self, event_id: str, event_name: str = "", ttl: bool = False) -> None:
        self.count += 1
        self.digest = (self.digest + self.id_digest(event_id)) & _UNIT_HEX_MASK
        if event_name:
            self.by_type[event_name] += 1
        self.ttl_deletes += int(ttl)
        if self._log is not None:
            self._log.write(event_id + "\n")

    def absorb(self, count: int, digest: int, by_type: Mapping[str, int], ttl_deletes: int) -> None:
        """Add another ledger's totals (e.g. the emulator process's bridge): the union of both multisets of ids."""
        self.count += count
        self.digest = (self.digest + digest) & _UNIT_HEX_MASK
        self.by_type.update(by_type)
        self.ttl_deletes += ttl_deletes

    def close(self) -> None:
        if self._log is not None:
            self._log.close()
            self._log = None


class StreamBridge:
    """Reads every shard of a table's DynamoDB stream and writes Kinesis Data Streams for DynamoDB records.

    ``pump()`` forwards everything available now and returns the number of change events forwarded; call it
    again after more writes. Positions are kept per stream shard (iterators), so nothing is read twice.
    ``duplicate_rate`` (0..1) re-puts a forwarded record, as AWS documents it may do (same eventID and time,
    new Kinesis sequence number). ``invalid_rate`` (0..1) also puts a broken record (truncated JSON, unknown
    operation, or no key) that is not a table change: it must end in the dead letter, never in Snowflake.
    """

    def __init__(
        self,
        clients: AwsClients,
        resources: Resources,
        *,
        ledger: EventLedger | None = None,
        duplicate_rate: float = 0.0,
        invalid_rate: float = 0.0,
        rng: random.Random | None = None,
        on_forward: Callable[[int], None] | None = None,
    ) -> None:
        self._streams = clients.streams
        self._kinesis = clients.kinesis
        self._res = resources
        self.ledger = ledger or EventLedger()
        self._duplicate_rate = duplicate_rate
        self._invalid_rate = invalid_rate
        self._rng = rng or random.Random(0)
        self._on_forward = on_forward
        self._iterators: dict[str, str | None] = {}
        self._clocks: dict[str, MicrosecondClock] = {}
        self.positions: dict[str, str] = {}  # stream shard id -> sequence number of the last record forwarded
        self.duplicates = 0
        self.invalid_injected = 0
        self.kinesis_records = 0

    def _shard_ids(self) -> list[str]:
        shard_ids: list[str] = []
        kwargs: dict[str, Any] = {"StreamArn": self._res.table_stream_arn}
        while True:
            desc = self._streams.describe_stream(**kwargs)["StreamDescription"]
            shard_ids.extend(s["ShardId"] for s in desc.get("Shards", []))
            last = desc.get("LastEvaluatedShardId")
            if not last:
                return shard_ids
            kwargs["ExclusiveStartShardId"] = last

    def pump(self, max_records: int | None = None) -> int:
        """Forward what the table's stream holds now (at most about ``max_records``, in whole pages); returns
        the number of changes forwarded."""
        forwarded = 0
        for shard_id in self._shard_ids():
            if shard_id not in self._iterators:
                self._iterators[shard_id] = self._streams.get_shard_iterator(
                    StreamArn=self._res.table_stream_arn, ShardId=shard_id, ShardIteratorType="TRIM_HORIZON"
                )["ShardIterator"]
                self._clocks[shard_id] = MicrosecondClock()
            forwarded += self._drain_shard(shard_id, max_records)
        return forwarded

    def _drain_shard(self, shard_id: str, max_records: int | None = None) -> int:
        forwarded = 0
        clock = self._clocks[shard_id]
        limit = min(1000, max_records or 1000)
        while (iterator := self._iterators[shard_id]) is not None and (max_records is None or forwarded < max_records):
            page = self._streams.get_records(ShardIterator=iterator, Limit=limit)
            self._iterators[shard_id] = page.get("NextShardIterator")  # None once a closed shard is drained
            records = page.get("Records", [])
            if not records:
                break
            out = []
            for rec in records:
                event_time_us = clock.stamp(rec["dynamodb"]["ApproximateCreationDateTime"])
                kinesis_record = to_kinesis_record(rec, self._res.table_name, event_time_us, self._res.ttl_attribute)
                data = orjson.dumps(kinesis_record)
                entry = {"Data": data, "PartitionKey": partition_key_for(rec["dynamodb"]["Keys"])}
                out.append(entry)
                ttl = kinesis_record["userIdentity"] is not None
                self.ledger.add(kinesis_record["eventID"], kinesis_record["eventName"], ttl)
                if self._duplicate_rate and self._rng.random() < self._duplicate_rate:
                    out.append(entry)
                    self.duplicates += 1
                if self._invalid_rate and self._rng.random() < self._invalid_rate:
                    out.append({"Data": self._corrupt(kinesis_record, data), "PartitionKey": entry["PartitionKey"]})
                    self.invalid_injected += 1
            self._put(out)
            self.positions[shard_id] = records[-1]["dynamodb"]["SequenceNumber"]
            forwarded += len(records)
            if self._on_forward:
                self._on_forward(len(records))
        return forwarded

    def _corrupt(self, kinesis_record: dict[str, Any], data: bytes) -> bytes:
        """A broken record for the dead-letter path (not a change of the table, so not in the ledger)."""
        kind = self.invalid_injected % 3
        if kind == 0:
            return data[: len(data) // 2]  # truncated JSON
        if kind == 1:
            return orjson.dumps({**kinesis_record, "eventName": "UPSERT"})  # unknown operation
        broken = {**kinesis_record, "dynamodb": {**kinesis_record["dynamodb"]}}
        del broken["dynamodb"]["Keys"]  # no key
        broken["dynamodb"].pop("NewImage", None)
        broken["dynamodb"].pop("OldImage", None)
        return orjson.dumps(broken)

    def _put(self, entries: list[dict[str, Any]]) -> None:
        for chunk in _chunks_for_put_records(entries):
            self._put_with_retry(chunk)
            self.kinesis_records += len(chunk)

    def _put_with_retry(self, entries: list[dict[str, Any]], attempts: int = 10) -> None:
        """put_records, retrying only the failed entries (throttling) with exponential backoff.

        Raises:
            RuntimeError: when entries still fail after ``attempts`` tries.
        """
        pending = entries
        for attempt in range(attempts):
            response = self._kinesis.put_records(StreamName=self._res.kinesis_stream, Records=pending)
            if not response.get("FailedRecordCount"):
                return
            pending = [e for e, r in zip(pending, response["Records"], strict=True) if r.get("ErrorCode")]
            time.sleep(min(2.0, 0.05 * 2**attempt))
        raise RuntimeError(f"{len(pending)} Kinesis records still failing after {attempts} put_records attempts")


def _chunks_for_put_records(entries: Iterable[dict[str, Any]]) -> Iterable[list[dict[str, Any]]]:
    chunk: list[dict[str, Any]] = []
    size = 0
    for entry in entries:
        entry_size = len(entry["Data"]) + len(entry["PartitionKey"])
        if chunk and (len(chunk) >= PUT_RECORDS_MAX_COUNT or size + entry_size > PUT_RECORDS_MAX_BYTES):
            yield chunk
            chunk, size = [], 0
        chunk.append(entry)
        size += entry_size
    if chunk:
        yield chunk
