"""The order-proof merge, as SQL: the version every row is compared by, the dedup of a batch to the newest
change per claim, and the MERGE / UPDATE + INSERT that apply it to the current-state table. The one home of the
merge SQL: the stream + task script, the connector's SinkEngine and the tests take it from here; the rules it
implements are ``claimflow.snowflake.spec`` (held byte-for-byte equal to ``spec.event_version`` by
tests/snowflake/test_snowflake_sql.py).
"""

from __future__ import annotations

from collections.abc import Sequence

from claimflow.rows import COLUMNS
from claimflow.snowflake.spec import (
    APPLIED_VERSION,
    BATCH_ID,
    IS_DELETED,
    KEY_COLUMN,
    MERGED_AT,
    OP_RANK,
    RECORD_INDEX_COLUMN,
    RECORD_INDEX_WIDTH,
    SEQUENCE_WIDTH,
    SNAPSHOT_EVENT_PREFIX,
    SNAPSHOT_RANK,
    TIME_WIDTH,
    VERSION_SEPARATOR,
    TableNames,
)


def sql_string(text: str) -> str:
    """``text`` as a SQL string literal (backslashes and quotes escaped)."""
    return "'" + text.replace("\\", "\\\\").replace("'", "''") + "'"


def version_sql(alias: str) -> str:
    """SQL expression of spec.event_version over table alias ``alias``."""
    ranks = " ".join(f"WHEN '{op}' THEN '{rank}'" for op, rank in OP_RANK.items())
    sep = sql_string(VERSION_SEPARATOR)
    return (
        f"LPAD(TO_VARCHAR({alias}.eventCreationUnixTime), {TIME_WIDTH}, '0') || {sep}\n"
        f"            || LPAD(COALESCE({alias}.kinesisSequenceNumber, ''), {SEQUENCE_WIDTH}, '0') || {sep}\n"
        f"            || LPAD(CASE WHEN {alias}.kinesisSequenceNumber IS NULL\n"
        f"                    THEN COALESCE(TO_VARCHAR({alias}.{RECORD_INDEX_COLUMN}), '') ELSE '' END, "
        f"{RECORD_INDEX_WIDTH}, '0') || {sep}\n"
        f"            || CASE WHEN STARTSWITH({alias}.eventId, {sql_string(SNAPSHOT_EVENT_PREFIX)}) THEN "
        f"{sql_string(SNAPSHOT_RANK)}\n"
        f"                    ELSE CASE {alias}.eventName {ranks} ELSE '0' END END || {sep}\n"
        f"            || {alias}.eventId"
    )


def wrapped(items: Sequence[str], indent: str = "        ", width: int = 100) -> str:
    """Comma-separated ``items`` broken into lines of about ``width`` characters."""
    lines: list[str] = []
    current = ""
    for item in items:
        candidate = f"{current}, {item}" if current else item
        if current and len(indent) + len(candidate) > width:
            lines.append(current + ",")
            current = item
        else:
            current = candidate
    lines.append(current)
    return f"\n{indent}".join(lines)


def dedup_clause(alias: str) -> str:
    # The version expression is repeated rather than referenced by its alias: fakesnow (DuckDB) cannot use a
    # select-list alias inside a MERGE source's QUALIFY.
    order = f"ORDER BY {version_sql(alias)} DESC, {alias}.ingestTime ASC"
    return f"QUALIFY ROW_NUMBER() OVER (PARTITION BY {alias}.{KEY_COLUMN} {order}) = 1"


def merge_sql(destination: str, source: str, where: str | None = None) -> str:
    """The MERGE of ``source`` (table or stream, optionally filtered) into ``destination``.

    The source is deduplicated to one row per claim (highest version, earliest ingestTime on a tie) and applied only
    when newer than the destination's appliedVersion: see claimflow.snowflake.spec.
    """
    cols = [c.name for c in COLUMNS]
    select_cols = ",\n        ".join(f"s.{c}" for c in cols)
    where_clause = f"\n    WHERE {where}" if where else ""
    updates = ",\n    ".join(f"{c} = src.{c}" for c in cols)
    insert_cols = wrapped([*cols, IS_DELETED, APPLIED_VERSION, MERGED_AT])
    insert_vals = wrapped(
        [*(f"src.{c}" for c in cols), "(src.eventName = 'REMOVE')", f"src.{APPLIED_VERSION}", "SYSDATE()"]
    )
    return (
        f"MERGE INTO {destination} AS dst\n"
        f"USING (\n"
        f"    SELECT\n        {select_cols},\n"
        f"        {version_sql('s')} AS {APPLIED_VERSION}\n"
        f"    FROM {source} AS s{where_clause}\n"
        f"    {dedup_clause('s')}\n"
        f") AS src\n"
        f"ON dst.{KEY_COLUMN} = src.{KEY_COLUMN}\n"
        f"WHEN MATCHED AND src.{APPLIED_VERSION} > dst.{APPLIED_VERSION} THEN UPDATE SET\n"
        f"    {updates},\n"
        f"    {IS_DELETED} = (src.eventName = 'REMOVE'),\n"
        f"    {APPLIED_VERSION} = src.{APPLIED_VERSION},\n"
        f"    {MERGED_AT} = SYSDATE()\n"
        f"WHEN NOT MATCHED THEN INSERT (\n        {insert_cols}\n    )\n"
        f"    VALUES (\n        {insert_vals}\n    )"
    )


def _dedup_source_sql(source: str, where: str | None) -> str:
    cols = ",\n        ".join(f"s.{c.name}" for c in COLUMNS)
    where_clause = f"\n    WHERE {where}" if where else ""
    return (
        f"(\n    SELECT\n        {cols},\n"
        f"        {version_sql('s')} AS {APPLIED_VERSION}\n"
        f"    FROM {source} AS s{where_clause}\n"
        f"    {dedup_clause('s')}\n"
        f") AS src"
    )


def upsert_sql(destination: str, source: str, where: str | None = None) -> tuple[str, str]:
    """The merge as an UPDATE then an INSERT (same semantics as merge_sql), for use inside one transaction.

    fakesnow cannot run a MERGE inside an explicit transaction (its MERGE emulation creates a temporary table,
    which DuckDB refuses in a transaction that already wrote the database), so the writer and sql/02 use this
    pair; the UPDATE runs first so that, on Snowflake, its table lock serialises concurrent writers before their
    INSERT ... WHERE NOT EXISTS.
    """
    cols = [c.name for c in COLUMNS]
    updates = ",\n    ".join(f"{c} = src.{c}" for c in cols)
    update = (
        f"UPDATE {destination} AS dst SET\n"
        f"    {updates},\n"
        f"    {IS_DELETED} = (src.eventName = 'REMOVE'),\n"
        f"    {APPLIED_VERSION} = src.{APPLIED_VERSION},\n"
        f"    {MERGED_AT} = SYSDATE()\n"
        f"FROM {_dedup_source_sql(source, where)}\n"
        f"WHERE dst.{KEY_COLUMN} = src.{KEY_COLUMN} AND src.{APPLIED_VERSION} > dst.{APPLIED_VERSION}"
    )
    insert_cols = wrapped([*cols, IS_DELETED, APPLIED_VERSION, MERGED_AT], indent="    ")
    insert_vals = ",\n    ".join(
        [*(f"src.{c}" for c in cols), "(src.eventName = 'REMOVE')", f"src.{APPLIED_VERSION}", "SYSDATE()"]
    )
    insert = (
        f"INSERT INTO {destination} (\n    {insert_cols}\n)\n"
        f"SELECT\n    {insert_vals}\n"
        f"FROM {_dedup_source_sql(source, where)}\n"
        f"WHERE NOT EXISTS (SELECT 1 FROM {destination} AS d WHERE d.{KEY_COLUMN} = src.{KEY_COLUMN})"
    )
    return update, insert


def batch_upsert_sql(tables: TableNames) -> tuple[str, str]:
    """The UPDATE and INSERT of one writer batch (bound parameter of each: the batch id)."""
    return upsert_sql(tables.destination, tables.staging, f"s.{BATCH_ID} = ?")


def batch_merge_sql(tables: TableNames) -> str:
    """The merge of one writer batch (bound parameter: the batch id)."""
    return merge_sql(tables.destination, tables.staging, f"s.{BATCH_ID} = ?")


def merge_source_sql(source: str, where: str | None = None) -> str:
    """The deduplicated merge source alone (claimId, appliedVersion), for checking it has one row per claim."""
    where_clause = f"\nWHERE {where}" if where else ""
    return (
        f"SELECT s.{KEY_COLUMN}, {version_sql('s')} AS {APPLIED_VERSION}\nFROM {source} AS s{where_clause}\n"
        f"{dedup_clause('s')}"
    )


def refresh_candidates_sql(tables: TableNames) -> str:
    """The claims a full refresh tombstones (bound parameter: ``spec.version_floor`` of the snapshot's time): live,
    last changed before the snapshot. Run after the complete snapshot was merged (docs/backfill.md)."""
    return (
        f"SELECT {KEY_COLUMN}, sourceTable, awsRegion FROM {tables.destination}\n"
        f"WHERE NOT {IS_DELETED} AND {APPLIED_VERSION} < ?\nORDER BY {KEY_COLUMN}"
    )


PENDING_CLAIM_MARKER = "MERGE_PENDING"
