"""The three tables' shapes (claim row columns plus Snowflake's own) and the SQL the writer loads rows with."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from claimflow.rows import COLUMNS, Column, Kind, Phi
from claimflow.snowflake.merge_sql import sql_string, wrapped
from claimflow.snowflake.spec import (
    APPLIED_VERSION,
    BATCH_ID,
    IS_DELETED,
    KEY_COLUMN,
    LOADED_AT,
    MERGED_AT,
    STAGED_AT,
    STRATEGY_NAME,
    VERSION_LENGTH,
    TableNames,
)


@dataclass(frozen=True)
class ExtraColumn:
    """A column only Snowflake has (not in the claim row). ``phi``: classified like rows.COLUMNS (load and merge
    times follow the event times within seconds, so they reveal what the event times reveal)."""

    name: str
    snowflake_type: str
    description: str
    not_null: bool = False
    default: str | None = None
    phi: Phi = Phi.NONE


STAGING_EXTRA = (
    ExtraColumn(BATCH_ID, "VARCHAR(64)", "Writer batch that landed the row (NULL for Snowpipe-loaded rows)."),
    ExtraColumn(
        STAGED_AT, "TIMESTAMP_NTZ(6)", "When the row landed, UTC.", default="SYSDATE()", phi=Phi.QUASI_IDENTIFIER
    ),
)
HISTORY_EXTRA = (
    ExtraColumn(BATCH_ID, "VARCHAR(64)", "Writer batch that appended the event (NULL for Snowpipe-loaded rows)."),
    ExtraColumn(
        LOADED_AT,
        "TIMESTAMP_NTZ(6)",
        "When the event was appended, UTC.",
        default="SYSDATE()",
        phi=Phi.QUASI_IDENTIFIER,
    ),
)
DESTINATION_EXTRA = (
    ExtraColumn(IS_DELETED, "BOOLEAN", "Tombstone: TRUE once a REMOVE (or TTL expiry) is the latest event.", True),
    ExtraColumn(
        APPLIED_VERSION,
        f"VARCHAR({VERSION_LENGTH})",
        "Version of the last applied event (time, sequence number, operation, eventId); see docs/snowflake.md.",
        True,
    ),
    ExtraColumn(
        MERGED_AT,
        "TIMESTAMP_NTZ(6)",
        "When the merge last changed the row, UTC.",
        default="SYSDATE()",
        phi=Phi.QUASI_IDENTIFIER,
    ),
)


def staging_columns() -> list[str]:
    return [c.name for c in COLUMNS] + [e.name for e in STAGING_EXTRA]


def destination_columns() -> list[str]:
    return [c.name for c in COLUMNS] + [e.name for e in DESTINATION_EXTRA]


def _column_line(name: str, sf_type: str, not_null: bool, description: str, default: str | None = None) -> str:
    parts = [f"    {name} {sf_type}"]
    if default:
        parts.append(f"DEFAULT {default}")
    if not_null:
        parts.append("NOT NULL")
    parts.append(f"COMMENT {sql_string(description)}")
    return " ".join(parts)


def _create_table(name: str, comment: str, extras: Sequence[ExtraColumn], key_not_null_only: bool) -> str:
    lines = []
    for col in COLUMNS:
        # Staging and history accept whatever arrives (a bad row must still be auditable); only the CDC columns the
        # merge orders by are required. The destination requires what rows.py declares.
        not_null = (not col.nullable) if not key_not_null_only else col.name in _ORDERING_REQUIRED
        lines.append(_column_line(col.name, col.snowflake_type, not_null, col.description))
    for extra in extras:
        lines.append(_column_line(extra.name, extra.snowflake_type, extra.not_null, extra.description, extra.default))
    body = ",\n".join(lines)
    return f"CREATE TABLE IF NOT EXISTS {name} (\n{body}\n)\nCOMMENT = {sql_string(comment)};\n"


_ORDERING_REQUIRED = frozenset({"eventName", "eventCreationUnixTime", "eventId", KEY_COLUMN})


def staging_table_sql(tables: TableNames) -> str:
    return _create_table(
        tables.staging,
        "ClaimFlow CDC staging: insert-only landing of every claim row; consumed by the merge.",
        STAGING_EXTRA,
        key_not_null_only=True,
    )


def history_table_sql(tables: TableNames) -> str:
    return _create_table(
        tables.history,
        "ClaimFlow event history: append-only audit trail of every change event received.",
        HISTORY_EXTRA,
        key_not_null_only=True,
    )


def destination_table_sql(tables: TableNames) -> str:
    return _create_table(
        tables.destination,
        f"ClaimFlow current state: one row per claim, {STRATEGY_NAME}.",
        DESTINATION_EXTRA,
        key_not_null_only=False,
    )


# --- Loading rows ----------------------------------------------------------------------------------------------


def _json_cast(col: Column, ref: str) -> str:
    path = f'{ref}:"{col.name}"'
    if col.kind is Kind.STRING_ARRAY:
        return f"STRIP_NULL_VALUE({path})::ARRAY"
    if col.kind in (Kind.PROCEDURES, Kind.ATTRIBUTES):
        return f"STRIP_NULL_VALUE({path})"
    return f"{path}::{col.snowflake_type}"


def batch_insert_sql(tables: TableNames) -> str:
    """INSERT of a JSON array of rows (one bound string) into staging, tagged with a bound batch id.

    Binding the batch as one JSON document keeps ARRAY/VARIANT columns native (``VALUES (PARSE_JSON(?))`` is not
    accepted by Snowflake) and costs one round trip per chunk instead of one per row.
    """
    names = wrapped(staging_columns(), indent="    ")
    casts = ",\n    ".join(_json_cast(col, "f.value") for col in COLUMNS)
    return (
        f"INSERT INTO {tables.staging} (\n    {names}\n)\n"
        f"SELECT\n    {casts},\n    ?,\n    SYSDATE()\n"
        f"FROM TABLE(FLATTEN(INPUT => PARSE_JSON(?))) AS f"
    )


def history_from_staging_sql(tables: TableNames) -> str:
    """Append the batch's staging rows to history (same transaction, so history holds exactly what was merged)."""
    cols = wrapped([*(c.name for c in COLUMNS), BATCH_ID], indent="    ")
    return (
        f"INSERT INTO {tables.history} (\n    {cols}, {LOADED_AT}\n)\n"
        f"SELECT\n    {cols}, SYSDATE()\nFROM {tables.staging}\nWHERE {BATCH_ID} = ?"
    )


def consume_batch_sql(tables: TableNames) -> str:
    """Delete exactly the rows of one batch (never rows that arrived later: they carry another or no batch id)."""
    return f"DELETE FROM {tables.staging} WHERE {BATCH_ID} = ?"
