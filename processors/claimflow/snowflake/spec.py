"""The one definition of ClaimFlow's merge semantics: "versioned upsert with tombstones" (last writer wins by event
version).

Every change event carries a *version*: a string that sorts (byte-wise, which is also how Snowflake compares
VARCHAR under the default collation) in the order the events happened to the item:

    LPAD(eventCreationUnixTime, 20, '0') '.' LPAD(kinesisSequenceNumber, 64, '0') '.' <record index> '.'
    <op rank> '.' eventId

1. ``eventCreationUnixTime`` (integer microseconds) — DynamoDB's ordering of changes to one item. A MILLISECOND
   time is one microsecond of its millisecond as the decoder read it (``claimflow.event_time.EventTimeRules``: the
   first, or the last after a declared switch from MICROSECOND); docs/guarantees.md, "Mixed precision", says why
   the sequence number cannot order it against a MICROSECOND change of its millisecond.
2. ``kinesisSequenceNumber`` compared NUMERICALLY. Sequence numbers are decimal strings of up to ~56 digits: too
   long for NUMBER(38,0) (``TO_NUMBER`` would fail) and wrong when compared as text ("9" > "10"). Left-padding
   with zeros to a fixed width of 64 makes text order equal numeric order, in SQL (``LPAD``) and in Python
   (``str.rjust``). A missing sequence number pads to all zeros (sorts first). Longer values are rejected up
   front (``LPAD`` would silently truncate them).
3. The record index, only for an event without a sequence number: ``flowFileRecordIndex`` (its position in the
   FlowFile ClaimFlow first read it from) padded to 10 digits; all zeros when the event has a sequence number
   (copies of one event then keep one version) or no index. Records of one shard arrive in Kinesis order inside a
   FlowFile, so for two same-time events of one claim in one record-mode FlowFile (ConsumeKinesisStream with a
   reader and writer; ConsumeKinesis without per-record metadata) this is their stream order. Across FlowFiles it
   is no order at all (docs/guarantees.md says what each consumer mode guarantees).
4. The operation, ranked SNAPSHOT < INSERT < MODIFY < REMOVE: when two events of one claim share a timestamp and
   neither a sequence number nor a record index tells them apart, the item's lifecycle order is the best guess,
   and a delete wins a true tie (never resurrect). A snapshot (backfill) row is an INSERT whose eventId starts
   with ``snapshot:`` (``claimflow.events.SNAPSHOT_EVENT_PREFIX``); it carries no sequence number nor record
   index and ranks ``0``, so every stream event of the same microsecond beats it: a change stamped at the
   snapshot's time may or may not be in the snapshot, and letting the stream event win is right in both cases
   (docs/backfill.md).
5. ``eventId`` — a final, arbitrary but deterministic tie-break.

Merging a batch:
- the batch is deduplicated per claim: the row with the highest version wins (copies of one event — same
  version — are tie-broken by the earliest ``ingestTime``), so the MERGE source has exactly one row per claim;
- that row is applied to the destination only if its version is greater than the destination's
  ``appliedVersion`` (or the claim is new): INSERT and MODIFY upsert the full row with ``isDeleted = FALSE``;
  REMOVE (including TTL expiry) writes the row as a tombstone with ``isDeleted = TRUE``;
- so a MODIFY for a never-seen claim is inserted, an INSERT for an existing older state updates it, a late older
  event never overwrites a newer state nor resurrects a tombstone, and replaying any batch changes nothing.

The SQL text (``claimflow.snowflake.ddl``), the Snowpark path (``claimflow.snowflake.snowpark_merge``) and the
pure-Python reference below all derive from the constants in this module.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from claimflow.events import MAX_RECORD_INDEX, SNAPSHOT_EVENT_PREFIX, is_snapshot_event_id
from claimflow.rows import COLUMN_NAMES, empty_row

STRATEGY_NAME = "versioned upsert with tombstones (last writer wins by event version)"

OPERATIONS = ("INSERT", "MODIFY", "REMOVE")
# Rank of each operation in the version string; anything else ranks "0" (it cannot reach Snowflake through the
# writer, which validates eventName, but Snowpipe-loaded rows are not validated).
OP_RANK: dict[str, str] = {"INSERT": "1", "MODIFY": "2", "REMOVE": "3"}
# Rank of a snapshot row (eventId starting with SNAPSHOT_EVENT_PREFIX), whatever its eventName: below every stream
# event of the same time (the full refresh's tombstones are snapshot rows too).
SNAPSHOT_RANK = "0"
TIME_WIDTH = 20
SEQUENCE_WIDTH = 64
RECORD_INDEX_WIDTH = len(str(MAX_RECORD_INDEX - 1))  # flowFileRecordIndex is NUMBER(10,0)
RECORD_INDEX_COLUMN = "flowFileRecordIndex"
VERSION_SEPARATOR = "."
VERSION_LENGTH = 200  # VARCHAR length of appliedVersion: 20 + 64 + 10 + 1 + 64 (eventId) + separators, with room

# Column names added to the claim row by the tables (never in rows.COLUMNS: they belong to the warehouse).
BATCH_ID = "batchId"
STAGED_AT = "stagedAt"
LOADED_AT = "loadedAt"
IS_DELETED = "isDeleted"
APPLIED_VERSION = "appliedVersion"
MERGED_AT = "mergedAt"

KEY_COLUMN = "claimId"

_DIGITS = re.compile(r"[0-9]{1,64}")


class InvalidRow(ValueError):
    """A claim row the writer refuses; the message names the row index, eventId and field, never a value."""


@dataclass(frozen=True)
class TableNames:
    """Names of the three tables (unquoted identifiers; Snowflake stores them upper-case)."""

    staging: str = "CLAIMS_STAGING"
    history: str = "CLAIMS_EVENT_HISTORY"
    destination: str = "CLAIMS_CURRENT"


DEFAULT_TABLES = TableNames()


def event_version(row: Mapping[str, Any]) -> str:
    """The version string of a claim row (see the module docstring). Raises InvalidRow on an unusable key part."""
    time_us = row.get("eventCreationUnixTime")
    if not isinstance(time_us, int) or isinstance(time_us, bool) or time_us < 0 or len(str(time_us)) > TIME_WIDTH:
        raise InvalidRow("eventCreationUnixTime must be a non-negative integer of microseconds")
    sequence = row.get("kinesisSequenceNumber")
    if sequence is None:
        sequence = ""
    elif not isinstance(sequence, str) or not _DIGITS.fullmatch(sequence):
        raise InvalidRow(f"kinesisSequenceNumber must be a decimal string of at most {SEQUENCE_WIDTH} digits")
    record_index = row.get(RECORD_INDEX_COLUMN)
    if record_index is None or sequence:
        record_index = 0  # a sequence number orders the event by itself; copies of it keep one version
    elif (
        not isinstance(record_index, int)
        or isinstance(record_index, bool)
        or record_index < 0
        or len(str(record_index)) > RECORD_INDEX_WIDTH
    ):
        raise InvalidRow(f"{RECORD_INDEX_COLUMN} must be a non-negative integer of at most {RECORD_INDEX_WIDTH} digits")
    event_id = row.get("eventId")
    if not isinstance(event_id, str) or not event_id:
        raise InvalidRow("eventId must be a non-empty string")
    rank = SNAPSHOT_RANK if is_snapshot_event_id(event_id) else OP_RANK.get(row.get("eventName") or "", "0")
    sep = VERSION_SEPARATOR
    return (
        f"{time_us:0{TIME_WIDTH}d}{sep}{sequence.rjust(SEQUENCE_WIDTH, '0')}{sep}"
        f"{record_index:0{RECORD_INDEX_WIDTH}d}{sep}{rank}{sep}{event_id}"
    )


def validate_row(row: Mapping[str, Any], index: int) -> str:
    """Check one row enough for the merge to be correct; return its version.

    Raises:
        InvalidRow: a column is missing or unknown, the key or operation is missing, or a version part is unusable.
    """
    event_id = row.get("eventId") if isinstance(row.get("eventId"), str) else None
    where = f"row {index} (eventId {event_id})"
    missing = [name for name in COLUMN_NAMES if name not in row]
    if missing:
        raise InvalidRow(f"{where}: missing columns {missing[:5]}")
    unknown = [name for name in row if name not in _COLUMN_SET]
    if unknown:
        # Counted, not named: a column name that is not in the row contract could be data.
        raise InvalidRow(f"{where}: {len(unknown)} unknown columns (names not shown)")
    claim_id = row.get(KEY_COLUMN)
    if not isinstance(claim_id, str) or not claim_id:
        raise InvalidRow(f"{where}: claimId must be a non-empty string")
    if row.get("eventName") not in OPERATIONS:
        raise InvalidRow(f"{where}: eventName must be one of {', '.join(OPERATIONS)}")
    if not isinstance(row.get("ingestTime"), str):
        raise InvalidRow(f"{where}: ingestTime must be an ISO timestamp string")
    try:
        return event_version(row)
    except InvalidRow as exc:
        raise InvalidRow(f"{where}: {exc}") from None


_COLUMN_SET = frozenset(COLUMN_NAMES)


def _dedup_key(row: Mapping[str, Any]) -> tuple[str, str]:
    # Highest version first; among copies of one event the earliest ingestTime. ISO strings of one fixed format
    # sort like the timestamps they spell; inverting them for a max() is done by the caller's ordering.
    return event_version(row), row["ingestTime"]


def latest_per_claim(rows: Iterable[Mapping[str, Any]]) -> dict[str, Mapping[str, Any]]:
    """The merge source: one row per claimId, the one with the highest version (earliest ingestTime on a tie)."""
    best: dict[str, Mapping[str, Any]] = {}
    for row in rows:
        claim_id = row[KEY_COLUMN]
        current = best.get(claim_id)
        if current is None:
            best[claim_id] = row
            continue
        version, ingest = _dedup_key(row)
        current_version, current_ingest = _dedup_key(current)
        if version > current_version or (version == current_version and ingest < current_ingest):
            best[claim_id] = row
    return best


def destination_row(row: Mapping[str, Any]) -> dict[str, Any]:
    """The destination state a winning source row produces (JSON-ready; mergedAt excluded: it is wall-clock)."""
    state = {name: row[name] for name in COLUMN_NAMES}
    state[IS_DELETED] = row["eventName"] == "REMOVE"
    state[APPLIED_VERSION] = event_version(row)
    return state


def merge_batch(state: dict[str, dict[str, Any]], rows: Iterable[Mapping[str, Any]]) -> tuple[int, int]:
    """Apply one batch to ``state`` (claimId -> destination row) in place, exactly as the SQL MERGE does.

    Returns (inserted, updated) counts.
    """
    inserted = updated = 0
    for claim_id, row in latest_per_claim(rows).items():
        current = state.get(claim_id)
        if current is None:
            state[claim_id] = destination_row(row)
            inserted += 1
        elif event_version(row) > current[APPLIED_VERSION]:
            state[claim_id] = destination_row(row)
            updated += 1
    return inserted, updated


def apply_events(
    state: dict[str, dict[str, Any]] | None, rows: Iterable[Mapping[str, Any]]
) -> dict[str, dict[str, Any]]:
    """Pure-Python reference: a new state after merging ``rows`` as one batch into a copy of ``state``."""
    new_state = {k: dict(v) for k, v in (state or {}).items()}
    merge_batch(new_state, rows)
    return new_state


# --- Full refresh: tombstones for claims a complete snapshot no longer holds ----------------------------------


def version_floor(time_us: int) -> str:
    """The smallest version of any event at ``time_us`` or later: ``version < version_floor(t)`` exactly when the
    version's event time is before ``t`` (the time field is fixed-width and followed by the separator)."""
    if time_us < 0 or len(str(time_us)) > TIME_WIDTH:
        raise InvalidRow("a snapshot time must be a non-negative integer of microseconds")
    return f"{time_us:0{TIME_WIDTH}d}{VERSION_SEPARATOR}"


def refresh_candidates(state: Mapping[str, Mapping[str, Any]], snapshot_time_us: int) -> list[str]:
    """Claims a full refresh at ``snapshot_time_us`` tombstones (reference): live, and last changed before the
    snapshot. Run after EVERY row of the complete snapshot was merged: a claim the snapshot holds then carries the
    snapshot row's version (or a newer stream event's), which is not below the floor."""
    floor = version_floor(snapshot_time_us)
    return sorted(k for k, v in state.items() if not v[IS_DELETED] and v[APPLIED_VERSION] < floor)


def snapshot_tombstone(
    claim_id: str,
    snapshot_time_us: int,
    event_id: str,
    ingest_time: str,
    source_table: str | None = None,
    aws_region: str | None = None,
) -> dict[str, Any]:
    """The REMOVE row a full refresh merges for a claim the complete snapshot does not hold.

    A key-only tombstone (like a REMOVE whose old image is unknown): the claim columns are null, the CDC columns
    say what happened: ``eventName`` REMOVE at the snapshot's time, a snapshot ``eventId`` (so it ranks below any
    stream event of that time), no Kinesis position. It goes through the normal merge, so a stream event newer
    than the snapshot that arrived meanwhile keeps the claim, and history records the deletion.
    """
    if not is_snapshot_event_id(event_id):
        raise InvalidRow(f"a snapshot tombstone's eventId must start with {SNAPSHOT_EVENT_PREFIX!r}")
    from datetime import UTC, datetime, timedelta

    moment = datetime(1970, 1, 1, tzinfo=UTC) + timedelta(microseconds=snapshot_time_us)
    row = empty_row()
    row.update(
        eventName="REMOVE",
        eventCreationUnixTime=snapshot_time_us,
        eventTimeUtc=moment.strftime("%Y-%m-%dT%H:%M:%S.%f"),
        eventId=event_id,
        ttlDelete=False,
        sourceTable=source_table,
        awsRegion=aws_region,
        ingestTime=ingest_time,
        dataQualityFlags=[ABSENT_FROM_SNAPSHOT],
    )
    row[KEY_COLUMN] = claim_id
    return row


# The data-quality flag of a full refresh's tombstone: why a claim was deleted without a REMOVE from the stream.
ABSENT_FROM_SNAPSHOT = "ABSENT_FROM_SNAPSHOT"


@dataclass(frozen=True)
class RefreshResult:
    """What a full refresh did: ``candidates`` live claims last changed before the snapshot, ``kept`` of them
    spared (the snapshot held them but could not land them: rejected items), ``written`` tombstones merged, of which
    ``applied`` won (the rest lost to a newer stream event that arrived meanwhile)."""

    candidates: int
    kept: int
    written: int
    applied: int


def refresh_tombstones(
    candidates: Iterable[tuple[str, str | None, str | None]],
    snapshot_time_us: int,
    source: str,
    ingest_time: str,
    keep: frozenset[str] = frozenset(),
) -> tuple[list[dict[str, Any]], int]:
    """The tombstone rows of a full refresh, from (claimId, sourceTable, awsRegion) candidates, and how many were
    kept: claims in ``keep`` (the snapshot's rejected items) are never tombstoned. Each tombstone gets its own
    random snapshot event id (``snapshot:<source>:<32 hex>``), never derived from the claim."""
    import uuid

    if not re.fullmatch(r"[0-9a-f]{16}", source):
        raise InvalidRow("a snapshot source id is 16 lower-case hex digits")
    rows, kept = [], 0
    for claim_id, table, region in candidates:
        if claim_id in keep:
            kept += 1
            continue
        event_id = f"{SNAPSHOT_EVENT_PREFIX}{source}:{uuid.uuid4().hex}"
        rows.append(snapshot_tombstone(claim_id, snapshot_time_us, event_id, ingest_time, table, region))
    return rows, kept


class MergedBatch(Protocol):
    """What a merge path's ``write_batch`` returns, as far as a full refresh needs it (``connector.BatchResult``)."""

    @property
    def applied(self) -> int: ...


def merge_refresh_tombstones(
    candidates: Sequence[tuple[str, str | None, str | None]],
    snapshot_time_us: int,
    source: str,
    write_batch: Callable[[list[dict[str, Any]]], MergedBatch],
    *,
    keep: frozenset[str] = frozenset(),
    batch_size: int = 2000,
) -> RefreshResult:
    """The part of a full refresh after its merge path has fetched the candidates: their tombstones
    (``refresh_tombstones``) merged ``batch_size`` at a time by the path's ``write_batch``, like any other rows, so a
    newer stream event that arrives meanwhile still wins."""
    rows, kept = refresh_tombstones(candidates, snapshot_time_us, source, utc_now_iso(), keep)
    applied = 0
    for start in range(0, len(rows), batch_size):
        applied += write_batch(rows[start : start + batch_size]).applied
    return RefreshResult(len(candidates), kept, len(rows), applied)


def utc_now_iso() -> str:
    from datetime import UTC, datetime

    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")
