"""Where a change sat in the Kinesis stream: the FlowFile attributes of NiFi's two Kinesis consumers, the
per-record metadata of their wrapper layouts, and the one set of rules that gives a record its position.

The decoder (``claimflow.events``) and the claims fast path (``claimflow.claims.fused``) both take a record's
position from here; what each consumer writes is in docs/change-events.md ("Kinesis position").
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, TypedDict

from claimflow.rows import VARCHAR_WIDTHS

# FlowFile attributes written by NiFi's ConsumeKinesisStream (nifi-aws-nar; AbstractKinesisRecordProcessor).
# The arrival timestamp is formatted with the processor's "Timestamp Format" in the JVM's default time zone.
ATTR_SHARD_ID = "aws.kinesis.shard.id"
ATTR_SEQUENCE_NUMBER = "aws.kinesis.sequence.number"
ATTR_PARTITION_KEY = "aws.kinesis.partition.key"
ATTR_ARRIVAL_TIMESTAMP = "aws.kinesis.approximate.arrival.timestamp"
# FlowFile attributes written by ConsumeKinesis (2.7+, nifi-aws-kinesis-nar): a FlowFile may hold many records.
ATTR_FIRST_SEQUENCE_NUMBER = "aws.kinesis.first.sequence.number"
ATTR_LAST_SEQUENCE_NUMBER = "aws.kinesis.last.sequence.number"
ATTR_ARRIVAL_TIMESTAMP_MS = "aws.kinesis.approximate.arrival.timestamp.ms"
# ConsumeKinesisStream writes it only with a Record Writer (raw mode never); ConsumeKinesis always (1 per record
# in its FLOW_FILE strategy). See FlowFilePosition.
ATTR_RECORD_COUNT = "record.count"

# Per-record metadata fields of ConsumeKinesis's "Use Wrapper" / "Inject Metadata" output strategies.
_KINESIS_METADATA = "kinesisMetadata"
_META_SHARD_ID = "shardId"
_META_SEQUENCE_NUMBER = "sequenceNumber"
_META_PARTITION_KEY = "partitionKey"
_META_ARRIVAL = "approximateArrival"


class KinesisPosition(TypedDict):
    """Where a change sat in the Kinesis stream; each field is None when the FlowFile does not say."""

    shard_id: str | None
    sequence_number: str | None  # decimal string of up to ~56 digits: compare as int, never as float
    partition_key: str | None
    arrival_time_ms: int | None


def sequence_text(value: object) -> str | None:
    if isinstance(value, str) and value.isdigit() and value.isascii():
        return value
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return str(value)
    return None


def nonempty_text(value: object) -> str | None:
    return value if isinstance(value, str) and value else None


def parse_arrival_ms(value: object) -> int | None:
    """An approximate-arrival timestamp as epoch milliseconds, or None when absent or unreadable.

    Accepts epoch milliseconds (number or digit string: ConsumeKinesis, and the wrapper metadata of both
    consumers) and a formatted date-time (ConsumeKinesisStream's attribute, default ``yyyy-MM-dd HH:mm:ss``).
    NiFi formats that one in the JVM's time zone without an offset; it is read as UTC, so run NiFi in UTC.
    """
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int):
        return value if 0 <= value <= MAX_ARRIVAL_MS else None
    if isinstance(value, Decimal) and value == value.to_integral_value():
        return parse_arrival_ms(int(value))
    if not isinstance(value, str) or not value:
        return None
    if value.isdigit() and value.isascii():
        return parse_arrival_ms(int(value)) if len(value) <= 20 else None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    delta = moment - _EPOCH  # integer arithmetic: no float rounding of the milliseconds
    return (delta.days * 86_400 + delta.seconds) * 1000 + delta.microseconds // 1000


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(slots=True, frozen=True)
class FlowFilePosition:
    """What the FlowFile attributes say about the position of its records, read once per FlowFile.

    The one place the Kinesis-position rules live: the decoder and the claims fast paths both apply
    :meth:`position`; a record-at-a-time engine asks :attr:`one_record` whether its record 0 is the only one.

    How many records the attributes admit, per consumer (apache/nifi, nifi-aws-bundle):

    - ConsumeKinesisStream without a Record Reader/Writer (its default, raw mode): one FlowFile per Kinesis record,
      attributes shard, sequence number, partition key and arrival, and no ``record.count``
      (KinesisRecordProcessorRaw). So no ``record.count`` beside a sequence number means exactly one record.
    - ConsumeKinesisStream with a Record Reader/Writer: many records per FlowFile, ``record.count`` = records
      written, the other attributes those of the LAST Kinesis record (KinesisRecordProcessorRecord); one shard per
      FlowFile (one KCL record processor per shard).
    - ConsumeKinesis, FLOW_FILE strategy: one record per FlowFile, ``record.count`` 1 and first = last sequence
      number. RECORD/LINE_DELIMITED/DEMARCATOR: a batch, first/last sequence numbers its range, ``record.count``.
    """

    shard_id: str | None
    sequence_number: str | None
    partition_key: str | None
    arrival_time_ms: int | None
    per_shard: bool  # ConsumeKinesisStream writes one shard per FlowFile; ConsumeKinesis may mix shards
    many_records: bool  # the attributes alone say the FlowFile holds more than one record
    # The attributes alone say the FlowFile holds exactly one record: record.count is 1; ConsumeKinesis's first
    # and last sequence numbers are the same one; or ConsumeKinesisStream's raw mode (a sequence number and no
    # record.count at all). A record.count that is present but unreadable says nothing.
    one_record: bool = False

    @classmethod
    def from_attributes(cls, attributes: Mapping[str, str] | None) -> FlowFilePosition | None:
        if not attributes:
            return None
        shard_id = nonempty_text(attributes.get(ATTR_SHARD_ID))
        partition_key = nonempty_text(attributes.get(ATTR_PARTITION_KEY))
        record_count = attributes.get(ATTR_RECORD_COUNT)
        count = int(record_count) if isinstance(record_count, str) and record_count.isdigit() else None
        many = count is not None and count > 1
        one = count == 1
        first = attributes.get(ATTR_FIRST_SEQUENCE_NUMBER)
        last = attributes.get(ATTR_LAST_SEQUENCE_NUMBER)
        if first is not None or last is not None:  # ConsumeKinesis
            many = many or first != last
            one = (one or first == last) and not many
            sequence = sequence_text(last)
            arrival = parse_arrival_ms(attributes.get(ATTR_ARRIVAL_TIMESTAMP_MS))
            per_shard = False
        else:  # ConsumeKinesisStream (or nothing Kinesis-related)
            sequence = sequence_text(attributes.get(ATTR_SEQUENCE_NUMBER))
            arrival = parse_arrival_ms(attributes.get(ATTR_ARRIVAL_TIMESTAMP))
            if arrival is None:
                arrival = parse_arrival_ms(attributes.get(ATTR_ARRIVAL_TIMESTAMP_MS))
            per_shard = True
            # Raw mode, the default, writes one Kinesis record per FlowFile and never a record.count.
            raw_mode = record_count is None and sequence is not None
            one = one or raw_mode
        if shard_id is None and sequence is None and partition_key is None and arrival is None:
            return None
        return cls(shard_id, sequence, partition_key, arrival, per_shard, many, one)

    def position(self, single_record: bool) -> KinesisPosition | None:
        """The position of one record of the FlowFile: the attributes' full position when ``single_record`` (the
        content holds one record) and the attributes do not say otherwise; for a record of a many-record
        FlowFile the shard alone (ConsumeKinesisStream: one shard per FlowFile) or None: the attributes describe
        the last record only, and a null sequence number is better than a wrong one."""
        if single_record and not self.many_records:
            return KinesisPosition(
                shard_id=self.shard_id,
                sequence_number=self.sequence_number,
                partition_key=self.partition_key,
                arrival_time_ms=self.arrival_time_ms,
            )
        # Attributes of a many-record FlowFile describe its last record only; the shard holds for all of them
        # when the consumer writes one FlowFile per shard.
        if self.per_shard and self.shard_id is not None:
            return KinesisPosition(
                shard_id=self.shard_id, sequence_number=None, partition_key=None, arrival_time_ms=None
            )
        return None


class BadPosition(ValueError):
    """Per-record Kinesis metadata holding a value that is not what its consumer writes (the rule, no value)."""


def _metadata_position(metadata: object) -> KinesisPosition | None:
    """The per-record position from wrapper metadata of either consumer (None when not an object).

    Raises:
        BadPosition: a sequence number or arrival is present but unreadable. Unlike a FlowFile attribute, this
        metadata belongs to the record alone, and a record whose position is garbage cannot be ordered.
    """
    if not isinstance(metadata, dict):
        return None
    if _META_SEQUENCE_NUMBER in metadata or _META_SHARD_ID in metadata:  # ConsumeKinesis
        names = (_META_SHARD_ID, _META_SEQUENCE_NUMBER, _META_PARTITION_KEY, _META_ARRIVAL)
    else:  # ConsumeKinesisStream's RecordConverterWrapper uses the attribute names
        names = (ATTR_SHARD_ID, ATTR_SEQUENCE_NUMBER, ATTR_PARTITION_KEY, ATTR_ARRIVAL_TIMESTAMP)
    shard, sequence, partition, arrival = (metadata.get(name) for name in names)
    position = KinesisPosition(
        shard_id=nonempty_text(shard),
        sequence_number=sequence_text(sequence),
        partition_key=nonempty_text(partition),
        arrival_time_ms=parse_arrival_ms(arrival),
    )
    if sequence not in (None, "") and position["sequence_number"] is None:
        raise BadPosition("kinesis metadata: the sequence number must be a decimal string")
    if arrival not in (None, "") and position["arrival_time_ms"] is None:
        raise BadPosition("kinesis metadata: the approximate arrival must be epoch milliseconds (0 to 9999-12-31)")
    return position


def position_problem(position: KinesisPosition | None) -> str | None:
    """The rule a record's Kinesis position breaks (values wider than their row columns), or None."""
    if position is None:
        return None
    shard, partition = position.get("shard_id"), position.get("partition_key")
    sequence = position.get("sequence_number")
    if shard is not None and len(shard) > _SHARD_WIDTH:
        return f"kinesis shard id is longer than {_SHARD_WIDTH} characters"
    if partition is not None and len(partition) > _PARTITION_KEY_WIDTH:
        return f"kinesis partition key is longer than {_PARTITION_KEY_WIDTH} characters"
    if sequence is not None and len(sequence) > MAX_SEQUENCE_DIGITS:
        return f"kinesis sequence number has more than {MAX_SEQUENCE_DIGITS} digits"
    return None


_SHARD_WIDTH = VARCHAR_WIDTHS["kinesisShardId"]
_PARTITION_KEY_WIDTH = VARCHAR_WIDTHS["kinesisPartitionKey"]
# Kinesis sequence numbers are up to 128 digits by the API's pattern and about 56 in practice; the merge compares
# them zero-padded to 64 digits (claimflow.snowflake.spec.SEQUENCE_WIDTH), so a longer one cannot be ordered.
MAX_SEQUENCE_DIGITS = 64

def unwrap(obj: dict[str, Any]) -> tuple[Any, KinesisPosition | None]:
    """Split a "Use Wrapper" / "Inject Metadata" record into the change record and its own position."""
    if "value" in obj and len(obj) == 2:
        if "metadata" in obj:
            return obj["value"], _metadata_position(obj["metadata"])
        if _KINESIS_METADATA in obj:
            return obj["value"], _metadata_position(obj[_KINESIS_METADATA])
    if _KINESIS_METADATA in obj:
        record = dict(obj)
        return record, _metadata_position(record.pop(_KINESIS_METADATA))
    return obj, None


# The latest arrival a position may claim (9999-12-31): beyond it a millisecond count is not a time.
MAX_ARRIVAL_MS = 253_402_300_799_999


def latest_arrival_ms(position: KinesisPosition | None, flowfile: FlowFilePosition | None) -> int | None:
    """The latest time a record can have reached Kinesis: its own arrival, else its FlowFile's attributes'
    (they describe the FlowFile's last record, which arrived no earlier than any other of its records)."""
    arrival = None if position is None else position.get("arrival_time_ms")
    if arrival is None and flowfile is not None:
        arrival = flowfile.arrival_time_ms
    return arrival


