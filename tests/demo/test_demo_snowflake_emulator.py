"""The embedded emulator's fast paths: bulk staging stages exactly what the project's JSON INSERT stages, and the
statement cache runs fakesnow's own translation again with new parameters."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from claimflow.claims import ClaimSettings
from claimflow.demo.generator import ClaimGenerator, GeneratorConfig, to_attribute_values
from claimflow.demo.reconcile import expected_row
from claimflow.demo.runner import DemoOptions, _snowflake
from claimflow.demo.snowflake_emulator import DuckDBStager
from claimflow.snowflake import SnowflakeSink
from claimflow.snowflake.spec import DEFAULT_TABLES


def _rows(count: int) -> list[dict[str, Any]]:
    generator = ClaimGenerator(GeneratorConfig(claims=count, seed=11))
    out = []
    for index in range(count):
        item = generator.new_claim(index)
        row = expected_row(to_attribute_values(item), "us-east-1", "InsuranceClaims", 1_772_368_205_123_456 + index,
                           ClaimSettings())  # fmt: skip
        row.update(eventId=f"event-{index}", kinesisShardId="shardId-000000000000",
                   kinesisSequenceNumber=str(10**30 + index), kinesisArrivalTime="2026-03-01T12:30:05")  # fmt: skip
        out.append(row)
    out[1]["dataQualityFlags"] = None  # a NULL array
    out[2]["diagnosisCodes"] = []  # an empty one
    out[3]["ttlDelete"] = True
    out[4]["patientDOB"] = None
    return out


def _staged(cursor: Any, batch_id: str) -> dict[str, tuple[Any, ...]]:
    cursor.execute(f"SELECT * FROM {DEFAULT_TABLES.staging} WHERE batchId = ? ORDER BY eventId", (batch_id,))
    names = [d[0].upper() for d in cursor.description]
    keep = [i for i, name in enumerate(names) if name not in ("BATCHID", "STAGEDAT")]
    return {str(r[names.index("EVENTID")]): tuple(r[i] for i in keep) for r in cursor.fetchall()}


def test_demo_bulk_staging_equals_the_json_insert(tmp_path: Path) -> None:
    from claimflow.snowflake.connector import MAX_JSON_CHUNK_BYTES, _json_chunks
    from claimflow.snowflake.tables import batch_insert_sql

    rows = _rows(40)
    with _snowflake(DemoOptions(workdir=tmp_path)) as (connection, _):
        cursor = connection.cursor()
        for chunk in _json_chunks(rows, MAX_JSON_CHUNK_BYTES):
            cursor.execute(batch_insert_sql(DEFAULT_TABLES), ("by-json", chunk))
        assert DuckDBStager(connection)(cursor, "by-arrow", rows) == len(rows)
        by_json, by_arrow = _staged(cursor, "by-json"), _staged(cursor, "by-arrow")
        cursor.close()
    assert len(by_json) == len(rows)
    assert by_arrow == by_json


def test_demo_sink_with_bulk_staging_merges_like_the_json_path(tmp_path: Path) -> None:
    rows = _rows(30)
    later = [dict(row, eventCreationUnixTime=row["eventCreationUnixTime"] + 10, eventId=row["eventId"] + "b",
                  claimStatus="PAID") for row in rows[:10]]  # fmt: skip
    states = []
    for name, use_bulk in (("json", False), ("arrow", True)):
        with _snowflake(DemoOptions(workdir=tmp_path / name)) as (connection, _):
            sink = SnowflakeSink(connection, stage_rows=DuckDBStager(connection) if use_bulk else None)
            first = sink.write_batch(rows)
            second = sink.write_batch(later + rows[:5])  # newer versions and replays in one batch
            assert (first.staged, first.inserted, first.consumed) == (30, 30, 30)
            assert (second.staged, second.updated, second.claims_in_batch) == (15, 10, 10)
            cursor = connection.cursor()
            cursor.execute(f"SELECT claimId, eventId, claimStatus FROM {DEFAULT_TABLES.destination} ORDER BY claimId")
            states.append(cursor.fetchall())
            cursor.execute(f"SELECT COUNT(*) FROM {DEFAULT_TABLES.history}")
            assert cursor.fetchone()[0] == 45
            cursor.close()
    assert states[0] == states[1]
    assert sum(1 for _, _, status in states[1] if status == "PAID") == 10


def test_demo_statement_cache_answers_selects_like_fakesnow(tmp_path: Path) -> None:
    from fakesnow.cursor import FakeSnowflakeCursor

    from claimflow.demo.reconcile import _fetch_live

    rows = _rows(12)
    with _snowflake(DemoOptions(workdir=tmp_path)) as (connection, _):
        SnowflakeSink(connection).write_batch(rows)
        cursor = connection.cursor()
        cached = FakeSnowflakeCursor.execute
        assert getattr(cached, "claimflow_cache", False)
        ids = [r["claimId"] for r in rows]
        asks = [ids[:5], ids[5:10], ["no-such-claim", ids[11]]]
        answers = [_fetch_live(cursor, DEFAULT_TABLES, ids) for ids in asks]
        FakeSnowflakeCursor.execute = cached.original  # type: ignore[method-assign]  # fakesnow's own path
        try:
            assert [_fetch_live(cursor, DEFAULT_TABLES, ids) for ids in asks] == answers
        finally:
            FakeSnowflakeCursor.execute = cached  # type: ignore[method-assign]
        cursor.close()
    assert [len(a) for a in answers] == [5, 5, 1]
    assert answers[0][rows[0]["claimId"]]["claimStatus"] == rows[0]["claimStatus"]
