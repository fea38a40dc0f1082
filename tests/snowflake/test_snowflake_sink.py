"""SnowflakeSink on fakesnow: one transaction per batch, exact types, consumption of exactly its own rows."""

from __future__ import annotations

import json
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from _sf_helpers import BASE_TIME_US, SinkEngine, fakesnow_connection, make_row, reset_tables

from claimflow.snowflake import SnowflakeSink, spec
from claimflow.snowflake import connector as connector_module
from claimflow.snowflake.tables import batch_insert_sql

pytestmark = pytest.mark.filterwarnings("ignore:Arrow output:UserWarning")

T = spec.DEFAULT_TABLES


@pytest.fixture(scope="module")
def module_conn() -> Iterator[Any]:
    with fakesnow_connection() as (conn, _report):
        yield conn


@pytest.fixture
def conn(module_conn: Any) -> Any:
    reset_tables(module_conn)
    return module_conn


def _count(conn: Any, table: str) -> int:
    return int(conn.cursor().execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0])


def test_types_keep_the_data(conn: Any) -> None:
    row = make_row("X1", "INSERT", BASE_TIME_US, seq="4" * 56, totalCharge="1234567890.05", patientZip="00501",
                   providerZip="02134-0001", diagnosisCodes=["Z00.00"], totalUnits=123456789,
                   procedureDetails=[{"code": "A0425", "description": "mileage", "modifiers": [], "units": 3,
                                      "charge": "0.10"}])  # fmt: skip
    result = SnowflakeSink(conn).write_batch([row])
    assert (result.staged, result.history_appended, result.inserted, result.consumed) == (1, 1, 1, 1)
    (got,) = SinkEngine(conn).destination().values()
    assert got["totalCharge"] == Decimal("1234567890.05")
    assert got["patientZip"] == "00501" and got["providerZip"] == "02134-0001"
    assert got["kinesisSequenceNumber"] == "4" * 56
    assert got["eventCreationUnixTime"] == BASE_TIME_US and got["totalUnits"] == 123456789
    assert got["procedureDetails"] == row["procedureDetails"] and got["diagnosisCodes"] == ["Z00.00"]
    assert got["dateOfService"] == "2024-05-06" and got["eventTimeUtc"] == row["eventTimeUtc"]


def test_a_failing_batch_rolls_back_everything(conn: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    sink = SnowflakeSink(conn)
    sink.write_batch([make_row("K1", "INSERT", BASE_TIME_US)])
    before = (_count(conn, T.staging), _count(conn, T.history), SinkEngine(conn).destination())
    # Break the consume step: staging, history and the merge already ran inside the transaction.
    monkeypatch.setattr(sink, "_consume", "DELETE FROM NO_SUCH_TABLE WHERE batchId = ?")
    with pytest.raises(Exception, match="NO_SUCH_TABLE"):
        sink.write_batch([make_row("K1", "MODIFY", BASE_TIME_US + 1), make_row("K2", "INSERT", BASE_TIME_US)])
    after = (_count(conn, T.staging), _count(conn, T.history), SinkEngine(conn).destination())
    assert after == before
    monkeypatch.undo()
    sink.write_batch([make_row("K2", "INSERT", BASE_TIME_US)])  # the connection is usable afterwards
    assert set(SinkEngine(conn).destination()) == {"K1", "K2"}


def test_consumes_only_its_own_rows(conn: Any) -> None:
    # Rows another loader landed (Snowpipe: no batch id) or another writer staged must stay in staging.
    cur = conn.cursor()
    cur.execute(batch_insert_sql(T).replace("?,\n    SYSDATE()", "NULL,\n    SYSDATE()", 1),
                (json.dumps([make_row("O1", "INSERT", BASE_TIME_US)]),))  # fmt: skip
    result = SnowflakeSink(conn).write_batch([make_row("O1", "MODIFY", BASE_TIME_US + 1)])
    assert result.consumed == 1
    remaining = cur.execute(f"SELECT claimId, eventName, batchId FROM {T.staging}").fetchall()
    assert remaining == [("O1", "INSERT", None)]


def test_invalid_rows_are_refused_before_anything_is_written(conn: Any) -> None:
    sink = SnowflakeSink(conn)
    good = make_row("I1", "INSERT", BASE_TIME_US)
    cases = {
        "missing columns": {k: v for k, v in good.items() if k != "payerId"},
        "unknown columns": {**good, "ssn": "000-00-0000"},
        "eventName must be one of": {**good, "eventName": "UPSERT"},
        "kinesisSequenceNumber": {**good, "kinesisSequenceNumber": "1" * 65},
        "eventCreationUnixTime": {**good, "eventCreationUnixTime": "1717"},
        "claimId": {**good, "claimId": ""},
    }
    for reason, bad in cases.items():
        with pytest.raises(spec.InvalidRow, match=reason) as info:
            sink.write_batch([good, bad])
        assert str(info.value).startswith("row 1 (eventId ")
        assert "000-00-0000" not in str(info.value)
    assert (_count(conn, T.staging), _count(conn, T.history), _count(conn, T.destination)) == (0, 0, 0)


def test_large_batches_are_bound_in_chunks(conn: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(connector_module, "MAX_JSON_CHUNK_BYTES", 4000)  # about two rows per chunk
    rows = [make_row(f"L{i:03d}", "INSERT", BASE_TIME_US + i) for i in range(9)]
    rows += [make_row("L000", "MODIFY", BASE_TIME_US + 100)]
    result = SnowflakeSink(conn).write_batch(rows)
    assert (result.rows, result.staged, result.history_appended, result.consumed) == (10, 10, 10, 10)
    assert (result.claims_in_batch, result.inserted, result.updated, result.ignored) == (9, 9, 0, 0)
    assert SinkEngine(conn).destination()["L000"]["eventName"] == "MODIFY"


def test_merge_statement_mode_is_refused_by_fakesnow_inside_a_transaction(conn: Any) -> None:
    """The single-MERGE mode is for Snowflake: fakesnow's MERGE emulation cannot run in a transaction. This test
    documents that limit (and that the failed batch leaves nothing behind)."""
    sink = SnowflakeSink(conn, use_merge_statement=True)
    with pytest.raises(Exception, match="single attached database"):
        sink.write_batch([make_row("M1", "INSERT", BASE_TIME_US)])
    assert (_count(conn, T.staging), _count(conn, T.history), _count(conn, T.destination)) == (0, 0, 0)


def test_replaying_a_batch_changes_nothing(conn: Any) -> None:
    sink = SnowflakeSink(conn)
    batch = [make_row("Y1", "INSERT", BASE_TIME_US), make_row("Y1", "REMOVE", BASE_TIME_US + 9)]
    first = sink.write_batch(batch)
    state = SinkEngine(conn).destination()
    again = sink.write_batch([dict(r) for r in batch])
    assert (first.inserted, again.inserted, again.updated, again.ignored) == (1, 0, 0, 1)
    assert SinkEngine(conn).destination() == state
    assert _count(conn, T.history) == 4  # the audit trail still records the redelivery


def test_exact_python_values_and_empty_batches(conn: Any) -> None:
    import datetime as dt

    row = make_row("D1", "INSERT", BASE_TIME_US, totalCharge=Decimal("10.05"), dateOfService=dt.date(2024, 1, 2))
    assert SnowflakeSink(conn).write_batch([]).rows == 0
    SnowflakeSink(conn).write_batch([row])
    got = SinkEngine(conn).destination()["D1"]
    assert got["totalCharge"] == Decimal("10.05") and got["dateOfService"] == "2024-01-02"


def test_reading_back_current_state_and_counts(conn: Any) -> None:
    from claimflow.snowflake import fetch_current_state, table_counts

    SnowflakeSink(conn).write_batch([make_row("Q1", "INSERT", BASE_TIME_US), make_row("Q2", "INSERT", BASE_TIME_US),
                                     make_row("Q2", "REMOVE", BASE_TIME_US + 1)])  # fmt: skip
    state = fetch_current_state(conn)
    assert set(state) == {"Q1", "Q2"} and state["Q2"]["isDeleted"] is True and state["Q1"]["claimId"] == "Q1"
    assert table_counts(conn) == {"staging": 0, "history": 3, "destination": 2, "live": 1}


def test_fakesnow_keeps_every_result_whatever_the_sink_does_so_the_demo_releases_them(
    conn: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """fakesnow caches each statement's result, SQL and parsed tree on the connection (``results_cache``, for
    RESULT_SCAN) until the connection ends; closing the cursor does not release them, and neither would a cursor
    per statement. The sink closes its cursor (asserted here); the growth is the emulator's, so the demo clears the
    cache between batches (demo.reconcile.release_emulator_results). If this starts failing, fakesnow stopped
    keeping results and the demo's workaround can go."""
    from claimflow.demo.reconcile import release_emulator_results

    closed: list[bool] = []
    original_cursor = conn.cursor

    def tracking_cursor(*args: Any, **kwargs: Any) -> Any:
        cursor = original_cursor(*args, **kwargs)
        original_close = cursor.close

        def close() -> Any:
            closed.append(True)
            return original_close()

        cursor.close = close
        return cursor

    release_emulator_results(conn)
    rows = [make_row(f"R{i}", "INSERT", BASE_TIME_US + i) for i in range(50)]
    monkeypatch.setattr(conn, "cursor", tracking_cursor)
    SnowflakeSink(conn).write_batch(rows)
    monkeypatch.undo()
    assert closed == [True]  # one cursor per batch, closed
    kept = conn.results_cache
    assert len(kept) >= 6  # BEGIN, stage, history, update, insert, consume, COMMIT: all still held
    # What weighs (~1 MB a batch, measured with tracemalloc): each entry keeps the statement's parsed sqlglot tree,
    # and the sink's statements are wide (one expression per claim column).
    assert all(entry[4] is not None for entry in kept.values())
    release_emulator_results(conn)
    assert conn.results_cache == {}
    assert _count(conn, T.destination) == 50  # releasing results loses no data


def test_a_custom_stager_replaces_only_the_staging_insert(conn: Any) -> None:
    calls: list[tuple[str, int]] = []
    json_insert = batch_insert_sql(T)

    def stage(cursor: Any, batch_id: str, rows: Any) -> int:
        calls.append((batch_id, len(rows)))
        cursor.execute(json_insert, (batch_id, json.dumps(list(rows))))
        return 7  # what the stager reports is what the result says

    sink = SnowflakeSink(conn, stage_rows=stage)
    result = sink.write_batch([make_row("S1", "INSERT", BASE_TIME_US), make_row("S2", "INSERT", BASE_TIME_US)], "b1")
    assert calls == [("b1", 2)]
    assert (result.staged, result.history_appended, result.inserted, result.consumed) == (7, 2, 2, 2)
    assert set(SinkEngine(conn).destination()) == {"S1", "S2"}

    def broken(cursor: Any, batch_id: str, rows: Any) -> int:
        cursor.execute(json_insert, (batch_id, json.dumps(list(rows))))
        raise RuntimeError("stager failed")

    with pytest.raises(RuntimeError, match="stager failed"):
        SnowflakeSink(conn, stage_rows=broken).write_batch([make_row("S3", "INSERT", BASE_TIME_US)])
    assert _count(conn, T.staging) == 0 and set(SinkEngine(conn).destination()) == {"S1", "S2"}  # rolled back


def test_extra_attributes_land_in_their_variant_column_and_the_views(conn: Any) -> None:
    """A new attribute survives end to end: claim row -> CLAIMS_CURRENT.extraAttributes (VARIANT) -> V_CLAIMS, and
    V_DATA_QUALITY counts the events that had one. fakesnow runs no masking policy: the masking of the column is
    checked on the generated SQL (tests/security)."""
    extras = {"loyalty_tier": '{"S":"gold"}', "patient.middle_name": '{"S":"Quinn"}', "visits": '{"N":"12.50"}'}
    row = make_row("E1", "INSERT", BASE_TIME_US, extraAttributes=extras, dataQualityFlags=["UNKNOWN_FIELDS:3"])
    SnowflakeSink(conn).write_batch([row, make_row("E2", "INSERT", BASE_TIME_US)])
    got = SinkEngine(conn).destination()
    assert json.loads(got["E1"]["extraAttributes"]) == extras and got["E2"]["extraAttributes"] is None
    cursor = conn.cursor()
    (value,) = cursor.execute("SELECT extraAttributes FROM V_CLAIMS WHERE claimId = 'E1'").fetchone()
    stored = json.loads(value) if isinstance(value, str) else value
    assert {path: json.loads(text) for path, text in stored.items()}["visits"] == {"N": "12.50"}
    # fakesnow cannot create V_DATA_QUALITY itself (the scripts' report lists it, see test_snowflake_sql): the
    # new column's expression, as generated into sql/04_views.sql, runs over the history here instead.
    views = (Path(__file__).resolve().parents[2] / "sql" / "04_views.sql").read_text(encoding="utf-8")
    (line,) = [line for line in views.splitlines() if "AS eventsWithExtraAttributes" in line]
    expression = line.strip().removesuffix(" AS eventsWithExtraAttributes").replace("q.", "")
    (with_extras,) = cursor.execute(f"SELECT {expression} FROM {T.history}").fetchone()
    assert with_extras == 1
