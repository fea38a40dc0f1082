"""The merge of claimflow.snowflake.spec written with the Snowpark DataFrame API.

Runs against a real account and in Snowpark local testing (``Session.builder.config("local_testing", True)``),
which cannot run ``session.sql()``: everything here is DataFrame API. The version string is computed in Python by
``spec.event_version`` (local testing has no ``LPAD``); it is byte-identical to the SQL expression of ``ddl``
(a test runs both and compares).

One batch = one transaction: BEGIN; append to staging and history; MERGE the deduplicated batch; delete exactly
the batch's staging rows; COMMIT (ROLLBACK on any error). The batch DataFrame is materialised before BEGIN because
Snowpark may create a temporary table for large local data and DDL would commit an open transaction. Local testing
has no transactions either: there, a snapshot of the three tables is restored on error instead, so tests can check
that a failed batch leaves nothing behind.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import uuid
from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any

from snowflake.snowpark import Session, Window
from snowflake.snowpark import functions as F
from snowflake.snowpark.types import (
    ArrayType,
    BooleanType,
    DataType,
    DateType,
    DecimalType,
    LongType,
    StringType,
    StructField,
    StructType,
    TimestampTimeZone,
    TimestampType,
    VariantType,
)

from claimflow.rows import COLUMNS, Column, Kind
from claimflow.snowflake.connector import BatchResult
from claimflow.snowflake.spec import (
    APPLIED_VERSION,
    BATCH_ID,
    DEFAULT_TABLES,
    IS_DELETED,
    KEY_COLUMN,
    LOADED_AT,
    MERGED_AT,
    STAGED_AT,
    RefreshResult,
    TableNames,
    latest_per_claim,
    merge_refresh_tombstones,
    validate_row,
    version_floor,
)

_NUMBER = re.compile(r"NUMBER\((\d+),(\d+)\)")


def _upper(name: str) -> str:
    # Unquoted identifiers are stored upper-case; naming DataFrame columns upper-case keeps Snowpark from quoting
    # camelCase names into columns plain SQL cannot see.
    return name.upper()


def _snowpark_type(col: Column) -> DataType:
    if col.kind is Kind.DECIMAL:
        match = _NUMBER.fullmatch(col.snowflake_type)
        if not match:
            raise ValueError(f"{col.name}: cannot map {col.snowflake_type}")
        return DecimalType(int(match[1]), int(match[2]))
    return {
        Kind.VARCHAR: StringType(),
        Kind.INTEGER: LongType(),
        Kind.BOOLEAN: BooleanType(),
        Kind.DATE: DateType(),
        Kind.TIMESTAMP: TimestampType(TimestampTimeZone.NTZ),
        Kind.STRING_ARRAY: ArrayType(StringType()),
        Kind.PROCEDURES: VariantType(),
        Kind.ATTRIBUTES: VariantType(),
    }[col.kind]


_TS = TimestampType(TimestampTimeZone.NTZ)
_APPEND: dict[str, Any] = {"mode": "append", "column_order": "name", "table_exists": True}


def row_schema() -> list[StructField]:
    return [StructField(_upper(c.name), _snowpark_type(c)) for c in COLUMNS]


def staging_schema() -> StructType:
    return StructType([*row_schema(), StructField(_upper(BATCH_ID), StringType()), StructField(_upper(STAGED_AT), _TS)])


def history_schema() -> StructType:
    return StructType([*row_schema(), StructField(_upper(BATCH_ID), StringType()), StructField(_upper(LOADED_AT), _TS)])


def destination_schema() -> StructType:
    return StructType(
        [
            *row_schema(),
            StructField(_upper(IS_DELETED), BooleanType()),
            StructField(_upper(APPLIED_VERSION), StringType()),
            StructField(_upper(MERGED_AT), _TS),
        ]
    )


def _typed(col: Column, value: Any) -> Any:
    if value is None:
        return None
    kind = col.kind
    if kind is Kind.DECIMAL:
        return Decimal(str(value))
    if kind is Kind.DATE:
        return dt.date.fromisoformat(value)
    if kind is Kind.TIMESTAMP:
        return dt.datetime.fromisoformat(value)
    return value


def typed_values(row: Mapping[str, Any]) -> list[Any]:
    """The row's values in column order, converted from JSON-ready to Python types (exact decimals)."""
    return [_typed(c, row[c.name]) for c in COLUMNS]


def create_tables(session: Session, tables: TableNames = DEFAULT_TABLES) -> None:
    """Create the three tables empty, for Snowpark local testing (a real account runs sql/01_tables.sql)."""
    for name, schema in (
        (tables.staging, staging_schema()),
        (tables.history, history_schema()),
        (tables.destination, destination_schema()),
    ):
        session.create_dataframe([], schema=schema).write.save_as_table(name, mode="overwrite")


def is_local_testing(session: Session) -> bool:
    """True for a Snowpark local-testing session (no SQL, no transactions)."""
    try:
        from snowflake.snowpark.mock._connection import MockServerConnection
    except ImportError:  # pragma: no cover - layout of a future Snowpark
        return False
    return isinstance(getattr(session, "_conn", None), MockServerConnection)


class _SqlTransaction:
    def __init__(self, session: Session) -> None:
        self._session = session

    def begin(self) -> None:
        self._session.sql("BEGIN TRANSACTION").collect()

    def commit(self) -> None:
        self._session.sql("COMMIT").collect()

    def rollback(self) -> None:
        self._session.sql("ROLLBACK").collect()


class _SnapshotTransaction:
    """Local testing only: restore the tables' previous content on rollback."""

    def __init__(self, session: Session, tables: TableNames) -> None:
        self._session = session
        self._names = (tables.staging, tables.history, tables.destination)
        self._saved: dict[str, Any] = {}

    def begin(self) -> None:
        self._saved = {}
        for name in self._names:
            table = self._session.table(name)
            self._saved[name] = (table.schema, table.collect())

    def commit(self) -> None:
        self._saved = {}

    def rollback(self) -> None:
        for name, (schema, rows) in self._saved.items():
            # collect() returns ARRAY/VARIANT values as JSON text; create_dataframe wants Python values.
            json_fields = [isinstance(f.datatype, ArrayType | VariantType) for f in schema.fields]
            data = [
                [json.loads(v) if j and isinstance(v, str) else v for v, j in zip(r, json_fields, strict=True)]
                for r in rows
            ]
            self._session.create_dataframe(data, schema=schema).write.save_as_table(name, mode="overwrite")
        self._saved = {}


class SnowparkMerger:
    """Appends batches to staging and history and merges them into the destination, one transaction per batch."""

    def __init__(self, session: Session, tables: TableNames = DEFAULT_TABLES) -> None:
        self._session = session
        self._tables = tables
        self._local = is_local_testing(session)
        self._transaction: _SqlTransaction | _SnapshotTransaction = (
            _SnapshotTransaction(session, tables) if self._local else _SqlTransaction(session)
        )

    def write_batch(self, rows: Sequence[Mapping[str, Any]], batch_id: str | None = None) -> BatchResult:
        """Stage, historise, merge and consume ``rows`` in one transaction (rolled back on any error).

        Raises:
            InvalidRow: a row misses a column or has an unusable ordering key (nothing is written).
            Exception: any Snowflake error, after the rollback.
        """
        versions = [validate_row(row, index) for index, row in enumerate(rows)]
        batch_id = batch_id or uuid.uuid4().hex
        if not rows:
            return BatchResult(batch_id, 0, 0, 0, 0, 0, 0, 0)
        now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
        data = [[*typed_values(row), batch_id, now, version] for row, version in zip(rows, versions, strict=True)]
        schema = StructType([*staging_schema().fields, StructField(_upper(APPLIED_VERSION), StringType())])
        batch = self._session.create_dataframe(data, schema=schema)
        if not self._local:
            batch = batch.cache_result()  # materialise before BEGIN: no DDL inside the transaction
        claims = len(latest_per_claim(rows))
        row_cols = [_upper(c.name) for c in COLUMNS]
        self._transaction.begin()
        try:
            staged_df = batch.select([*row_cols, _upper(BATCH_ID), _upper(STAGED_AT)])
            # table_exists=True: a plain INSERT, never Snowpark's CREATE TABLE IF NOT EXISTS (DDL would commit).
            staged_df.write.save_as_table(self._tables.staging, **_APPEND)
            history_df = batch.select([*row_cols, _upper(BATCH_ID), F.col(_upper(STAGED_AT)).alias(_upper(LOADED_AT))])
            history_df.write.save_as_table(self._tables.history, **_APPEND)
            inserted, updated = self._merge(batch, row_cols, now)
            staging = self._session.table(self._tables.staging)
            consumed = staging.delete(staging[_upper(BATCH_ID)] == F.lit(batch_id)).rows_deleted
            self._transaction.commit()
        except BaseException:
            self._transaction.rollback()
            raise
        return BatchResult(batch_id, len(rows), len(rows), len(rows), claims, inserted, updated, consumed)

    def full_refresh(
        self,
        snapshot_time_us: int,
        source: str,
        *,
        keep: frozenset[str] = frozenset(),
        batch_size: int = 2000,
    ) -> RefreshResult:
        """SnowflakeSink.full_refresh with the DataFrame API: the live claims last changed before the snapshot get
        key-only REMOVE rows at the snapshot's time, merged as batches (a newer stream event still wins)."""
        target = self._session.table(self._tables.destination)
        candidates_df = target.filter(
            (~target[_upper(IS_DELETED)]) & (target[_upper(APPLIED_VERSION)] < F.lit(version_floor(snapshot_time_us)))
        ).select(_upper(KEY_COLUMN), "SOURCETABLE", "AWSREGION")
        candidates = sorted((r[0], r[1], r[2]) for r in candidates_df.collect())
        return merge_refresh_tombstones(
            candidates, snapshot_time_us, source, self.write_batch, keep=keep, batch_size=batch_size
        )

    def _merge(self, batch: Any, row_cols: list[str], now: dt.datetime) -> tuple[int, int]:
        version = _upper(APPLIED_VERSION)
        key = _upper(KEY_COLUMN)
        # The tombstone flag and merge time are source columns rather than expressions in the assignments: local
        # testing evaluates assignment expressions against a re-indexed subset and mis-aligns literals.
        source = dedup_source(batch.select([*row_cols, version])).select(
            [
                *row_cols,
                version,
                (F.col("EVENTNAME") == F.lit("REMOVE")).alias(_upper(IS_DELETED)),
                F.lit(now).cast(_TS).alias(_upper(MERGED_AT)),
            ]
        )
        target = self._session.table(self._tables.destination)
        values = {c: source[c] for c in [*row_cols, _upper(IS_DELETED), version, _upper(MERGED_AT)]}
        result = target.merge(
            source,
            target[key] == source[key],
            [
                F.when_matched(source[version] > target[version]).update(values),
                F.when_not_matched().insert(values),
            ],
        )
        return result.rows_inserted, result.rows_updated


def dedup_source(frame: Any) -> Any:
    """One row per claim: highest APPLIEDVERSION, earliest INGESTTIME on a tie (spec.latest_per_claim)."""
    key = _upper(KEY_COLUMN)
    window = Window.partition_by(key).order_by(F.col(_upper(APPLIED_VERSION)).desc(), F.col("INGESTTIME").asc())
    return frame.with_column("_RN", F.row_number().over(window)).filter(F.col("_RN") == 1).drop("_RN")


def merge_source_claim_counts(session: Session, rows: Sequence[Mapping[str, Any]]) -> dict[str, int]:
    """claimId -> rows in the deduplicated Snowpark merge source (every value must be 1), for tests."""
    versions = [validate_row(row, index) for index, row in enumerate(rows)]
    data = [[*typed_values(row), version] for row, version in zip(rows, versions, strict=True)]
    schema = StructType([*row_schema(), StructField(_upper(APPLIED_VERSION), StringType())])
    key = _upper(KEY_COLUMN)
    source = dedup_source(session.create_dataframe(data, schema=schema))
    counts = source.group_by(key).agg(F.count(F.lit(1)).alias("N")).collect()
    return {r[key]: r["N"] for r in counts}
