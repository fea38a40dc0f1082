"""Test helpers for tests/snowflake: synthetic claim rows, fakesnow and Snowpark local sessions, and one driver per
merge path exposing the same ``write_batch`` / ``destination()`` / ``history()`` interface.

(No __init__.py in this folder on purpose: as a package named ``snowflake`` it would shadow the real
snowflake-connector / Snowpark namespace package for the whole test session.)
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import warnings
from collections.abc import Iterator, Mapping, Sequence
from decimal import Decimal
from pathlib import Path
from typing import Any

from claimflow.rows import COLUMNS, COLUMNS_BY_NAME, Kind, empty_row
from claimflow.snowflake import SnowflakeSink, apply_sql_scripts, ddl, merge_sql, spec
from claimflow.snowflake.connector import ScriptReport
from claimflow.snowflake.tables import batch_insert_sql, consume_batch_sql, history_from_staging_sql

REPO = Path(__file__).resolve().parents[2]
SQL_DIR = REPO / "sql"

BASE_TIME_US = 1_717_171_717_000_000


def iso_us(time_us: int) -> str:
    try:
        return (dt.datetime(1970, 1, 1) + dt.timedelta(microseconds=time_us)).strftime("%Y-%m-%dT%H:%M:%S.%f")
    except OverflowError:  # ordering-key edge cases beyond year 9999: the timestamp column does not matter there
        return "9999-12-31T00:00:00.000000"


def make_row(
    claim_id: str,
    op: str,
    time_us: int,
    *,
    seq: str | None = None,
    event_id: str | None = None,
    ingest_us: int | None = None,
    **fields: Any,
) -> dict[str, Any]:
    """A complete, JSON-ready claim row with synthetic (non-PHI) values; ``fields`` override columns."""
    row = empty_row()
    row.update(
        eventName=op,
        eventCreationUnixTime=time_us,
        eventTimeUtc=iso_us(time_us),
        eventId=event_id or f"ev-{claim_id}-{time_us}-{seq or 'x'}-{op}",
        ttlDelete=False,
        sourceTable="InsuranceClaims",
        awsRegion="us-west-2",
        kinesisShardId="shardId-000000000000",
        kinesisSequenceNumber=seq,
        kinesisPartitionKey=claim_id,
        kinesisArrivalTime=iso_us(time_us + 1000),
        ingestTime=iso_us(ingest_us if ingest_us is not None else time_us + 5000),
        claimId=claim_id,
        diagnosisCodes=["E11.9", "I10"],
        dateOfService="2024-05-06",
        totalCharge=f"{(time_us % 100000) / 100:.2f}",
        procedureDetails=[{"code": "99213", "description": None, "modifiers": ["25"], "units": 1, "charge": "125.00"}],
        memberId=f"M-{claim_id}",
        insurancePlan="Gold PPO",
        patientZip="02134",
        patientState="MA",
        patientCity="Testville",
        patientStreet="1 Synthetic Way",
        patientGender="F",
        patientDOB="1980-02-29",
        patientLastName="Testperson",
        patientPhone="555-0100",
        patientFirstName="Alex",
        patientEmail="alex@example.invalid",
        claimStatus="submitted" if op == "INSERT" else "in review",
        claimStatusCode="SUBMITTED" if op == "INSERT" else "IN_REVIEW",
        createdTimeStamp=iso_us(BASE_TIME_US),
        providerName="Example Clinic",
        providerNPI="1234567893",
        providerZip="07030",
        billSubmitDate="2024-05-07",
        payerName="Example Health",
        payerId="PAYER-001",
        paymentStatus="PENDING",
        diagnosisCount=2,
        procedureCount=1,
        totalUnits=1,
        dataQualityFlags=[],
        phiMode="passthrough",
    )
    for key in fields:
        assert key in COLUMNS_BY_NAME, key
    row.update(fields)
    return row


# --- Normalising what each engine returns -------------------------------------------------------------------------


def _norm(kind: Kind, value: Any) -> Any:
    if value is None:
        return None
    if kind is Kind.DECIMAL:
        return Decimal(str(value))
    if kind is Kind.INTEGER:
        return int(value)
    if kind is Kind.BOOLEAN:
        return bool(value)
    if kind is Kind.DATE:
        return value.isoformat() if isinstance(value, dt.date) else str(value)
    if kind is Kind.TIMESTAMP:
        if isinstance(value, dt.datetime):
            return value.strftime("%Y-%m-%dT%H:%M:%S.%f")
        return dt.datetime.fromisoformat(str(value)).strftime("%Y-%m-%dT%H:%M:%S.%f")
    if kind in (Kind.STRING_ARRAY, Kind.PROCEDURES):
        return json.loads(value) if isinstance(value, str) else value
    return value


def normalise(record: Mapping[str, Any], extra: Sequence[str] = ()) -> dict[str, Any]:
    """Engine output (any key case) -> comparable dict of the row columns plus ``extra`` columns."""
    upper = {k.upper(): v for k, v in record.items()}
    out = {c.name: _norm(c.kind, upper[c.name.upper()]) for c in COLUMNS}
    for name in extra:
        out[name] = upper[name.upper()]
    return out


DEST_EXTRA = (spec.IS_DELETED, spec.APPLIED_VERSION)
HISTORY_KEY = ("eventId", "ingestTime")


def sort_history(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return sorted(rows, key=lambda r: (r["eventId"], r["ingestTime"], json.dumps(r, sort_keys=True, default=str)))


# --- Engines ---------------------------------------------------------------------------------------------------


class ReferenceEngine:
    name = "reference"

    def __init__(self) -> None:
        self.state: dict[str, dict[str, Any]] = {}
        self.events: list[dict[str, Any]] = []

    def write_batch(self, rows: Sequence[Mapping[str, Any]]) -> None:
        spec.merge_batch(self.state, rows)
        self.events.extend(dict(r) for r in rows)

    def destination(self) -> dict[str, dict[str, Any]]:
        return {k: normalise(v, DEST_EXTRA) for k, v in self.state.items()}

    def history(self) -> list[dict[str, Any]]:
        return sort_history([normalise(r) for r in self.events])


@contextlib.contextmanager
def fakesnow_connection() -> Iterator[tuple[Any, ScriptReport]]:
    """A fakesnow connection with CLAIMFLOW_DB.CDC built from sql/ (the scripts' report alongside)."""
    import fakesnow
    import snowflake.connector

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with fakesnow.patch():
            conn = snowflake.connector.connect(paramstyle="qmark")
            # 00_setup creates the database and schema (its account-level statements are reported, not run).
            report = apply_sql_scripts(conn, [SQL_DIR / name for name in ddl.EMULATOR_SCRIPTS])
            try:
                yield conn, report
            finally:
                conn.close()


def reset_tables(conn: Any) -> None:
    t = spec.DEFAULT_TABLES
    cur = conn.cursor()
    for table in (t.staging, t.history, t.destination):
        cur.execute(f"DELETE FROM {table}")


def _fetch_dicts(conn: Any, sql: str) -> list[dict[str, Any]]:
    cur = conn.cursor()
    cur.execute(sql)
    names = [d[0] for d in cur.description]
    return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]


class _FakesnowReads:
    conn: Any

    def destination(self) -> dict[str, dict[str, Any]]:
        rows = _fetch_dicts(self.conn, f"SELECT * FROM {spec.DEFAULT_TABLES.destination}")
        out = {r["CLAIMID"]: normalise(r, DEST_EXTRA) for r in rows}
        assert len(out) == len(rows), "destination holds more than one row per claim"
        return out

    def history(self) -> list[dict[str, Any]]:
        rows = _fetch_dicts(self.conn, f"SELECT * FROM {spec.DEFAULT_TABLES.history}")
        return sort_history([normalise(r) for r in rows])

    def staging_count(self) -> int:
        return int(_fetch_dicts(self.conn, f"SELECT COUNT(*) AS N FROM {spec.DEFAULT_TABLES.staging}")[0]["N"])


class SinkEngine(_FakesnowReads):
    """SnowflakeSink on fakesnow: one real transaction per batch, merge as UPDATE + INSERT."""

    name = "sql-sink"

    def __init__(self, conn: Any) -> None:
        self.conn = conn
        self.sink = SnowflakeSink(conn)

    def write_batch(self, rows: Sequence[Mapping[str, Any]]) -> None:
        self.sink.write_batch(rows)


class MergeStatementEngine(_FakesnowReads):
    """The MERGE statement text on fakesnow. fakesnow cannot run MERGE inside a transaction, so the statements run
    in autocommit here; the transaction itself is exercised by SinkEngine. Also checks the merge source has one row
    per claim (neither emulator raises Snowflake's nondeterministic-merge error)."""

    name = "sql-merge"

    def __init__(self, conn: Any) -> None:
        self.conn = conn
        self.batches = 0

    def write_batch(self, rows: Sequence[Mapping[str, Any]]) -> None:
        t = spec.DEFAULT_TABLES
        self.batches += 1
        batch_id = f"merge-{self.batches}"
        cur = self.conn.cursor()
        cur.execute(batch_insert_sql(t), (batch_id, json.dumps(list(rows))))
        cur.execute(history_from_staging_sql(t), (batch_id,))
        source = merge_sql.merge_source_sql(t.staging, f"s.{spec.BATCH_ID} = ?")
        cur.execute(f"SELECT claimId, COUNT(*) FROM ({source}) GROUP BY claimId HAVING COUNT(*) > 1", (batch_id,))
        assert cur.fetchall() == [], "merge source has more than one row for a claim"
        cur.execute(f"SELECT COUNT(*) FROM ({source})", (batch_id,))
        assert cur.fetchone()[0] == len({r["claimId"] for r in rows})
        cur.execute(merge_sql.batch_merge_sql(t), (batch_id,))
        cur.execute(consume_batch_sql(t), (batch_id,))


class SnowparkEngine:
    name = "snowpark"

    def __init__(self, session: Any) -> None:
        from claimflow.snowflake.snowpark_merge import SnowparkMerger, create_tables

        self.session = session
        create_tables(session)
        self.merger = SnowparkMerger(session)

    def write_batch(self, rows: Sequence[Mapping[str, Any]]) -> None:
        from claimflow.snowflake.snowpark_merge import merge_source_claim_counts

        if rows:
            counts = merge_source_claim_counts(self.session, rows)
            assert set(counts) == {r["claimId"] for r in rows}
            assert set(counts.values()) == {1}, "merge source has more than one row for a claim"
        self.merger.write_batch(rows)

    def destination(self) -> dict[str, dict[str, Any]]:
        rows = [r.as_dict() for r in self.session.table(spec.DEFAULT_TABLES.destination).collect()]
        out = {r["CLAIMID"]: normalise(r, DEST_EXTRA) for r in rows}
        assert len(out) == len(rows), "destination holds more than one row per claim"
        return out

    def history(self) -> list[dict[str, Any]]:
        rows = self.session.table(spec.DEFAULT_TABLES.history).collect()
        return sort_history([normalise(r.as_dict()) for r in rows])

    def staging_count(self) -> int:
        return int(self.session.table(spec.DEFAULT_TABLES.staging).count())


def local_session() -> Any:
    from snowflake.snowpark import Session

    return Session.builder.config("local_testing", True).create()
