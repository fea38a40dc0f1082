"""Connector-based writer (snowflake-connector-python DB-API, or fakesnow) and the sql/ script runner."""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import logging
import re
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

from claimflow.snowflake import ddl, merge_sql
from claimflow.snowflake.spec import (
    DEFAULT_TABLES,
    RefreshResult,
    TableNames,
    latest_per_claim,
    merge_refresh_tombstones,
    validate_row,
    version_floor,
)
from claimflow.snowflake.tables import (
    batch_insert_sql,
    consume_batch_sql,
    destination_columns,
    history_from_staging_sql,
)

# --- Splitting and running scripts -------------------------------------------------------------------------


def split_statements(sql: str) -> list[str]:
    """Split a script into statements on ``;`` outside quotes, ``$$`` blocks and comments.

    Comment-only fragments are dropped; each statement keeps its leading comments stripped and no trailing ``;``.
    """
    statements: list[str] = []
    buf: list[str] = []
    i, n = 0, len(sql)
    while i < n:
        ch = sql[i]
        two = sql[i : i + 2]
        if two == "--" or two == "//":
            end = sql.find("\n", i)
            end = n if end < 0 else end
            buf.append(sql[i:end])
            i = end
        elif two == "/*":
            end = sql.find("*/", i + 2)
            end = n if end < 0 else end + 2
            buf.append(sql[i:end])
            i = end
        elif two == "$$":
            end = sql.find("$$", i + 2)
            end = n if end < 0 else end + 2
            buf.append(sql[i:end])
            i = end
        elif ch in ("'", '"'):
            j = i + 1
            while j < n:
                if sql[j] == "\\" and ch == "'":
                    j += 2
                    continue
                if sql[j] == ch:
                    if j + 1 < n and sql[j + 1] == ch:  # doubled quote
                        j += 2
                        continue
                    break
                j += 1
            buf.append(sql[i : j + 1])
            i = j + 1
        elif ch == ";":
            statements.append("".join(buf))
            buf = []
            i += 1
        else:
            buf.append(ch)
            i += 1
    statements.append("".join(buf))
    return [s for s in (_strip_comments_edges(s) for s in statements) if s]


_LEADING_COMMENTS = re.compile(r"\A(?:\s+|--[^\n]*(?:\n|\Z)|/\*.*?\*/)*", re.S)


def _strip_comments_edges(statement: str) -> str:
    return _LEADING_COMMENTS.sub("", statement).strip()


_KIND = re.compile(
    r"^(CREATE\s+(?:OR\s+REPLACE\s+)?(?:SECURE\s+)?(?:DYNAMIC\s+)?"
    r"(?:ROW\s+ACCESS\s+POLICY|MASKING\s+POLICY|[A-Z]+))"
    r"|^(ALTER\s+[A-Z]+)|^(GRANT|REVOKE|USE|DROP\s+[A-Z]+|[A-Z]+)",
    re.I,
)


def statement_kind(statement: str) -> str:
    """A short label for a statement: 'CREATE TABLE', 'GRANT', 'ALTER TASK', 'MERGE', ..."""
    match = _KIND.match(statement)
    label = next((g for g in match.groups() if g), "") if match else statement.split(None, 1)[0]
    label = re.sub(r"\s+OR\s+REPLACE", "", label, flags=re.I)
    return re.sub(r"\s+", " ", label).upper()


def statement_object(statement: str) -> str:
    """The first line of a statement, as a human-readable handle in reports."""
    return statement.strip().splitlines()[0][:160]


@dataclass(frozen=True)
class NotExecuted:
    script: str
    index: int  # 0-based statement index in the script
    kind: str
    head: str  # first line of the statement
    error: str  # first line of the error message


@dataclass
class ScriptReport:
    executed: list[tuple[str, int, str]] = field(default_factory=list)  # (script, index, kind)
    not_executed: list[NotExecuted] = field(default_factory=list)


def apply_sql_scripts(connection: Any, paths: Iterable[Path | str], *, stop_on_error: bool = False) -> ScriptReport:
    """Run sql/ scripts statement by statement; return what ran and what the engine refused.

    Meant for fakesnow, which cannot run streams, tasks, policies, grants, roles, warehouses or users: those
    statements land in ``report.not_executed`` so the caller can LIST them. Every error is caught (fakesnow raises
    assertion errors for some statements, not only ProgrammingError); an open transaction is rolled back after a
    failure so later statements run on a clean connection.

    Raises:
        Exception: the first error when ``stop_on_error`` is true.
    """
    scripts = [(Path(p).name, Path(p).read_text(encoding="utf-8")) for p in paths]
    return apply_sql_texts(connection, scripts, stop_on_error=stop_on_error)


def apply_generated_scripts(
    connection: Any, names: Sequence[str] = ddl.EMULATOR_SCRIPTS, *, stop_on_error: bool = False
) -> ScriptReport:
    """Run the generated scripts (identical to sql/, a test guarantees it) without needing the sql/ folder.

    The default, ``ddl.EMULATOR_SCRIPTS``, is 00 to 05: on fakesnow this creates CLAIMFLOW_DB.CDC with its tables
    and views and leaves the session in that schema; roles, grants, warehouse, user, stream, task and policies land
    in ``report.not_executed``.
    """
    rendered = ddl.render_scripts()
    return apply_sql_texts(connection, [(name, rendered[name]) for name in names], stop_on_error=stop_on_error)


def apply_sql_texts(
    connection: Any, scripts: Iterable[tuple[str, str]], *, stop_on_error: bool = False
) -> ScriptReport:
    """apply_sql_scripts over (name, text) pairs."""
    report = ScriptReport()
    cursor = connection.cursor()
    try:
        with _quiet_sqlglot():
            for name, text in scripts:
                _run_script(cursor, connection, name, text, report, stop_on_error)
    finally:
        cursor.close()
    return report


def _run_script(cursor: Any, connection: Any, name: str, text: str, report: ScriptReport, stop_on_error: bool) -> None:
    in_transaction = aborted = False
    for index, statement in enumerate(split_statements(text)):
        kind = statement_kind(statement)
        ends_transaction = kind in ("COMMIT", "ROLLBACK")
        if aborted:
            # A statement of this transaction failed and it was rolled back: running the rest would apply half of
            # it outside any transaction.
            report.not_executed.append(
                NotExecuted(name, index, kind, statement_object(statement), "transaction rolled back earlier")
            )
            if ends_transaction:
                in_transaction = aborted = False
            continue
        try:
            cursor.execute(statement)
        except Exception as exc:
            if stop_on_error:
                raise
            text = str(exc).strip()
            message = text.splitlines()[0] if text else type(exc).__name__
            report.not_executed.append(NotExecuted(name, index, kind, statement_object(statement), message[:200]))
            _rollback_quietly(connection)
            aborted = in_transaction and not ends_transaction
            in_transaction = False if ends_transaction else in_transaction
        else:
            report.executed.append((name, index, kind))
            if kind.startswith("BEGIN") or kind == "START":
                in_transaction = True
            elif ends_transaction:
                in_transaction = False


@contextlib.contextmanager
def _quiet_sqlglot() -> Iterator[None]:
    # fakesnow transpiles through sqlglot, which logs a warning per unsupported construct (column COMMENTs...).
    logger = logging.getLogger("sqlglot")
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        logger.setLevel(level)


def _rollback_quietly(connection: Any) -> None:
    with contextlib.suppress(Exception):  # nothing open to roll back
        connection.rollback()


# --- The writer --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class BatchResult:
    """What one write_batch did. ``consumed`` = staging rows deleted (exactly the rows this batch staged)."""

    batch_id: str
    rows: int
    staged: int
    history_appended: int
    claims_in_batch: int  # rows in the deduplicated merge source
    inserted: int
    updated: int
    consumed: int

    @property
    def applied(self) -> int:
        """Claims whose winning row was newer than the destination (or new to it)."""
        return self.inserted + self.updated

    @property
    def ignored(self) -> int:
        """Claims whose winning row was not newer than the destination (late, replayed or duplicate)."""
        return self.claims_in_batch - self.applied


# Bound JSON per INSERT statement: well below Snowflake's 16 MB limit for a bound value.
MAX_JSON_CHUNK_BYTES = 4 * 1024 * 1024


class SnowflakeSink:
    """Appends batches of claim rows to staging and history and merges them, one transaction per batch.

    ``connection`` is a DB-API connection of snowflake-connector-python (real or fakesnow) opened with
    ``paramstyle="qmark"`` (server-side binding); the tables must exist (sql/01_tables.sql).

    The merge runs as UPDATE + INSERT (``merge_sql.upsert_sql``) by default, which works on Snowflake and on fakesnow;
    ``use_merge_statement=True`` runs the single MERGE statement instead (same semantics; Snowflake only, since
    fakesnow cannot run MERGE inside a transaction).

    ``stage_rows(cursor, batch_id, rows) -> staged count`` replaces the JSON ``INSERT`` into staging when given
    (the demo's embedded emulator bulk-loads through DuckDB, ``claimflow.demo.snowflake_emulator``); it runs
    inside the batch's transaction, and history, merge and consume stay this class's SQL.
    """

    def __init__(
        self,
        connection: Any,
        tables: TableNames = DEFAULT_TABLES,
        *,
        use_merge_statement: bool = False,
        stage_rows: Callable[[Any, str, Sequence[Mapping[str, Any]]], int] | None = None,
    ) -> None:
        self._connection = connection
        self._stage_rows = stage_rows
        self._tables = tables
        self._insert = batch_insert_sql(tables)
        self._history = history_from_staging_sql(tables)
        self._merge = merge_sql.batch_merge_sql(tables) if use_merge_statement else None
        self._update, self._insert_new = merge_sql.batch_upsert_sql(tables)
        self._consume = consume_batch_sql(tables)

    def write_batch(self, rows: Sequence[Mapping[str, Any]], batch_id: str | None = None) -> BatchResult:
        """Stage, historise, merge and consume ``rows`` in ONE transaction (rolled back on any error).

        Raises:
            InvalidRow: a row misses a column or has an unusable ordering key (nothing is written).
            Exception: any database error, after the transaction was rolled back.
        """
        for index, row in enumerate(rows):
            validate_row(row, index)
        batch_id = batch_id or uuid.uuid4().hex
        if not rows:
            return BatchResult(batch_id, 0, 0, 0, 0, 0, 0, 0)
        claims = len(latest_per_claim(rows))
        cursor = self._connection.cursor()
        try:
            cursor.execute("BEGIN TRANSACTION")
            staged = 0
            if self._stage_rows is not None:
                staged = self._stage_rows(cursor, batch_id, rows)
            else:
                for chunk in _json_chunks(rows, MAX_JSON_CHUNK_BYTES):
                    cursor.execute(self._insert, (batch_id, chunk))
                    staged += _rowcount(cursor)
            cursor.execute(self._history, (batch_id,))
            history = _rowcount(cursor)
            if self._merge is not None:
                cursor.execute(self._merge, (batch_id,))
                inserted, updated = _merge_counts(cursor)
            else:
                cursor.execute(self._update, (batch_id,))
                updated = _rowcount(cursor)
                cursor.execute(self._insert_new, (batch_id,))
                inserted = _rowcount(cursor)
            cursor.execute(self._consume, (batch_id,))
            consumed = _rowcount(cursor)
            cursor.execute("COMMIT")
        except BaseException:
            _rollback_on(cursor, self._connection)
            raise
        finally:
            cursor.close()
        return BatchResult(batch_id, len(rows), staged, history, claims, inserted, updated, consumed)

    def full_refresh(
        self,
        snapshot_time_us: int,
        source: str,
        *,
        keep: frozenset[str] = frozenset(),
        batch_size: int = 2000,
    ) -> RefreshResult:
        """Tombstone every live claim last changed before ``snapshot_time_us`` (a complete snapshot at that time,
        already merged, does not hold it): key-only REMOVE rows at the snapshot's time, merged as batches like any
        other rows, so a newer stream event that arrives meanwhile still wins. ``keep``: claim ids never to
        tombstone (the snapshot's rejected items). See docs/backfill.md."""
        cursor = self._connection.cursor()
        try:
            cursor.execute(merge_sql.refresh_candidates_sql(self._tables), (version_floor(snapshot_time_us),))
            candidates = [(str(r[0]), r[1], r[2]) for r in cursor.fetchall()]
        finally:
            cursor.close()
        return merge_refresh_tombstones(
            candidates, snapshot_time_us, source, self.write_batch, keep=keep, batch_size=batch_size
        )


def _json_chunks(rows: Sequence[Mapping[str, Any]], limit: int) -> Iterable[str]:
    parts: list[str] = []
    size = 2
    for row in rows:
        text = json.dumps(row, ensure_ascii=False, separators=(",", ":"), default=_json_value)
        if parts and size + len(text) + 1 > limit:
            yield "[" + ",".join(parts) + "]"
            parts, size = [], 2
        parts.append(text)
        size += len(text) + 1
    if parts:
        yield "[" + ",".join(parts) + "]"


def _json_value(value: Any) -> str:
    # Rows are JSON-ready by contract; tolerate the exact Python types a caller may still hold.
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, dt.datetime):
        return value.strftime("%Y-%m-%dT%H:%M:%S.%f")
    if isinstance(value, dt.date):
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} is not JSON-ready")


def _rowcount(cursor: Any) -> int:
    count = cursor.rowcount
    return int(count) if count is not None and count >= 0 else 0


def _merge_counts(cursor: Any) -> tuple[int, int]:
    row = cursor.fetchone()
    names = [d[0].lower() for d in (cursor.description or [])]
    counts = dict(zip(names, row or (), strict=False))
    return int(counts.get("number of rows inserted", 0) or 0), int(counts.get("number of rows updated", 0) or 0)


def _rollback_on(cursor: Any, connection: Any) -> None:
    try:
        cursor.execute("ROLLBACK")
    except Exception:
        _rollback_quietly(connection)


# --- Reading back (reconciliation, demos) --------------------------------------------------------------------

_DESTINATION_NAMES = {name.upper(): name for name in destination_columns()}


def fetch_current_state(connection: Any, tables: TableNames = DEFAULT_TABLES) -> dict[str, dict[str, Any]]:
    """claimId -> destination row (tombstones included; keys spelled as in rows.COLUMNS, values as the driver
    returns them: Decimal, date, datetime, ARRAY/VARIANT as JSON text)."""
    cursor = connection.cursor()
    try:
        cursor.execute(f"SELECT * FROM {tables.destination}")
        names = [_DESTINATION_NAMES.get(d[0].upper(), d[0]) for d in cursor.description]
        return {row["claimId"]: row for row in (dict(zip(names, r, strict=True)) for r in cursor.fetchall())}
    finally:
        cursor.close()


def table_counts(connection: Any, tables: TableNames = DEFAULT_TABLES) -> dict[str, int]:
    """Row counts of staging, history and destination, and of live (not deleted) claims."""
    cursor = connection.cursor()
    try:
        counts = {}
        for label, table in (("staging", tables.staging), ("history", tables.history),
                             ("destination", tables.destination)):  # fmt: skip
            cursor.execute(f"SELECT COUNT(*) FROM {table}")
            counts[label] = int(cursor.fetchone()[0])
        cursor.execute(f"SELECT COUNT(*) FROM {tables.destination} WHERE NOT isDeleted")
        counts["live"] = int(cursor.fetchone()[0])
        return counts
    finally:
        cursor.close()
