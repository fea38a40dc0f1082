"""The one definition of ClaimFlow's merge semantics: "versioned upsert with tombstones" (last writer wins by event
version).

Every change event carries a *version*: a string that sorts (byte-wise, which is also how Snowflake compares
VARCHAR under the default collation) in the order the events happened to the item:

    LPAD(eventCreationUnixTime, 20, '0') '.' LPAD(kinesisSequenceNumber, 64, '0') '.' <op rank> '.' eventId

1. ``eventCreationUnixTime`` (integer microseconds) — DynamoDB's ordering of changes to one item.
2. ``kinesisSequenceNumber`` compared NUMERICALLY. Sequence numbers are decimal strings of up to ~56 digits: too
   long for NUMBER(38,0) (``TO_NUMBER`` would fail) and wrong when compared as text ("9" > "10"). Left-padding
   with zeros to a fixed width of 64 makes text order equal numeric order, in SQL (``LPAD``) and in Python
   (``str.rjust``). A missing sequence number pads to all zeros (sorts first). Longer values are rejected up
   front (``LPAD`` would silently truncate them).
3. The operation, ranked INSERT < MODIFY < REMOVE: when two events of one claim share a timestamp and have no
   usable sequence number, the item's lifecycle order is the best guess, and a delete wins a true tie (never
   resurrect).
4. ``eventId`` — a final, arbitrary but deterministic tie-break.

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
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from claimflow.rows import COLUMN_NAMES

STRATEGY_NAME = "versioned upsert with tombstones (last writer wins by event version)"

OPERATIONS = ("INSERT", "MODIFY", "REMOVE")
# Rank of each operation in the version string; anything else ranks "0" (it cannot reach Snowflake through the
# writer, which validates eventName, but Snowpipe-loaded rows are not validated).
OP_RANK: dict[str, str] = {"INSERT": "1", "MODIFY": "2", "REMOVE": "3"}
TIME_WIDTH = 20
SEQUENCE_WIDTH = 64
VERSION_SEPARATOR = "."
VERSION_LENGTH = 200  # VARCHAR length of appliedVersion: 20 + 64 + 1 + 64 (eventId) + separators, with room

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
    event_id = row.get("eventId")
    if not isinstance(event_id, str) or not event_id:
        raise InvalidRow("eventId must be a non-empty string")
    rank = OP_RANK.get(row.get("eventName") or "", "0")
    sep = VERSION_SEPARATOR
    return f"{time_us:0{TIME_WIDTH}d}{sep}{sequence.rjust(SEQUENCE_WIDTH, '0')}{sep}{rank}{sep}{event_id}"


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
