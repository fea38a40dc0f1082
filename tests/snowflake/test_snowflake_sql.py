"""The shipped sql/: generated from rows.COLUMNS without drift, parsed statement by statement with sqlglot's
Snowflake dialect, and run on fakesnow where fakesnow can (what it cannot run is listed and asserted exactly)."""

from __future__ import annotations

import json
import logging
import re
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlglot
from _sf_helpers import BASE_TIME_US, SQL_DIR, fakesnow_connection, make_row, reset_tables
from sqlglot import exp

from claimflow.rows import COLUMNS, Phi
from claimflow.snowflake import ddl, merge_sql, spec
from claimflow.snowflake.connector import apply_sql_scripts, split_statements, statement_kind
from claimflow.snowflake.naming import DEFAULT_NAMES
from claimflow.snowflake.tables import DESTINATION_EXTRA, HISTORY_EXTRA, STAGING_EXTRA, batch_insert_sql
from claimflow.snowflake.views import ALL_VIEWS

logging.getLogger("sqlglot").setLevel(logging.ERROR)
pytestmark = pytest.mark.filterwarnings("ignore:Arrow output:UserWarning")

ALL_SCRIPTS = sorted(SQL_DIR.glob("*.sql"))


def _statements() -> Iterator[tuple[str, int, str]]:
    for path in ALL_SCRIPTS:
        for index, statement in enumerate(split_statements(path.read_text(encoding="utf-8"))):
            yield path.name, index, statement


# --- Generated, no drift -------------------------------------------------------------------------------------------


def test_sql_directory_matches_the_generator() -> None:
    assert sorted(p.name for p in ALL_SCRIPTS) == sorted(ddl.SCRIPTS)
    assert ddl.drift(SQL_DIR) == [], "run: python -m claimflow.snowflake --write sql"


def test_generator_follows_rows_columns(monkeypatch: pytest.MonkeyPatch) -> None:
    # A column added to rows.COLUMNS must show up in the generated DDL (so the drift test catches a stale sql/).
    from claimflow.rows import Column, Group, Kind
    from claimflow.snowflake import tables as table_shapes

    extra = Column("driftProbe", Kind.VARCHAR, "VARCHAR(8)", "probe", Group.ENRICHMENT)
    monkeypatch.setattr(table_shapes, "COLUMNS", (*COLUMNS, extra))
    assert "driftProbe VARCHAR(8)" in ddl.render_scripts()["01_tables.sql"]
    assert ddl.drift(SQL_DIR) != []


def _create_table(sql: str, table: str) -> exp.Create:
    for statement in split_statements(sql):
        tree = sqlglot.parse_one(statement, read="snowflake")
        if isinstance(tree, exp.Create) and tree.this.this.name.upper() == table:
            return tree
    raise AssertionError(f"no CREATE TABLE {table}")


@pytest.mark.parametrize(
    ("table", "extra"),
    [
        (spec.DEFAULT_TABLES.staging, STAGING_EXTRA),
        (spec.DEFAULT_TABLES.history, HISTORY_EXTRA),
        (spec.DEFAULT_TABLES.destination, DESTINATION_EXTRA),
    ],
)
def test_table_columns_are_rows_columns_in_order_with_their_types(table: str, extra: tuple) -> None:
    tree = _create_table((SQL_DIR / "01_tables.sql").read_text(encoding="utf-8"), table)
    defs = [e for e in tree.this.expressions if isinstance(e, exp.ColumnDef)]
    got = [(d.name, d.args["kind"].sql(dialect="snowflake")) for d in defs]
    want = [(c.name, c.snowflake_type) for c in COLUMNS] + [(e.name, e.snowflake_type) for e in extra]
    assert [(n, _type(t)) for n, t in got] == [(n, _type(t)) for n, t in want]


def _type(sql_type: str) -> str:
    # Both sides through sqlglot's type builder, so NUMBER/DECIMAL and TIMESTAMP_NTZ/TIMESTAMPNTZ spellings agree.
    return exp.DataType.build(sql_type, dialect="snowflake").sql(dialect="snowflake")


def test_phi_columns_are_masked_and_tagged_with_their_class() -> None:
    text = (SQL_DIR / "05_governance.sql").read_text(encoding="utf-8")
    phi = [c for c in COLUMNS if c.phi is not Phi.NONE]
    assert {"patientFirstName", "patientLastName", "patientDOB", "patientPhone", "patientEmail", "patientStreet",
            "memberId", "claimAgeDays", "patientAgeAtService", "createdTimeStamp", "eventTimeUtc",
            "claimId"} <= {c.name for c in phi}  # fmt: skip
    for col in phi:
        for table in (spec.DEFAULT_TABLES.destination, spec.DEFAULT_TABLES.history, spec.DEFAULT_TABLES.staging):
            pattern = (
                rf"ALTER TABLE CLAIMFLOW_DB\.CDC\.{table} MODIFY COLUMN {col.name} "
                rf"SET MASKING POLICY CLAIMFLOW_DB\.GOVERNANCE\.PHI_MASK_\w+ FORCE;"
            )
            assert re.search(pattern, text), (table, col.name)
        assert f"MODIFY COLUMN {col.name} SET TAG CLAIMFLOW_DB.GOVERNANCE.PHI_CLASS = '{col.phi.value}';" in text
    masked = set(re.findall(r"MODIFY COLUMN (\w+) SET MASKING POLICY", text))
    extras = {e.name for e in (*STAGING_EXTRA, *HISTORY_EXTRA, *DESTINATION_EXTRA) if e.phi is not Phi.NONE}
    assert extras == {"stagedAt", "loadedAt", "mergedAt"}
    assert masked == {c.name for c in phi} | extras  # no non-PHI column masked by accident
    # Unmasked only for the session's primary role: neither secondary roles nor the hierarchy unmask PHI.
    assert "CURRENT_ROLE() IN ('CLAIMFLOW_PHI_READER', 'CLAIMFLOW_MERGER')" in text
    assert "IS_ROLE_IN_SESSION('CLAIMFLOW_PHI_READER')" not in text


# --- Every statement parses --------------------------------------------------------------------------------------

# Statements sqlglot's Snowflake dialect keeps as a generic Command (not parsed into a tree), by script and kind.
EXPECTED_COMMANDS = {
    ("00_setup.sql", "CREATE ROLE"): 7,
    ("00_setup.sql", "CREATE USER"): 1,
    # GRANT ROLE / APPLY ... ON ACCOUNT / CREATE DATABASE / EXECUTE TASK|ALERT ON ACCOUNT / CREATE TASK|ALERT ON SCHEMA
    ("00_setup.sql", "GRANT"): 5,
    ("03_stream_task.sql", "ALTER TASK"): 1,
    ("03_stream_task.sql", "CREATE STREAM"): 1,
    ("03_stream_task.sql", "CREATE TASK"): 1,
    ("03_stream_task.sql", "GRANT"): 1,  # GRANT SELECT ON STREAM
    ("05_governance.sql", "ALTER TABLE"): 134,  # SET MASKING POLICY (66) / SET TAG (66) / ROW ACCESS POLICY (2)
    ("05_governance.sql", "CREATE MASKING POLICY"): 11,
    ("07_alerts.sql", "CREATE NOTIFICATION"): 1,
    ("07_alerts.sql", "GRANT"): 1,  # GRANT USAGE ON INTEGRATION
    ("07_alerts.sql", "CREATE ALERT"): 3,
    ("07_alerts.sql", "ALTER ALERT"): 3,
    ("99_teardown.sql", "ALTER ALERT"): 3,
    ("99_teardown.sql", "ALTER TASK"): 1,
    ("99_teardown.sql", "DROP USER"): 1,
}
# Statements sqlglot cannot parse at all (it reads CREATE ROW ACCESS POLICY as another dialect's syntax). They are
# checked against the documented Snowflake grammar with a regular expression instead.
EXPECTED_UNPARSABLE = {("05_governance.sql", "CREATE ROW ACCESS POLICY"): 1}
ROW_ACCESS_POLICY = re.compile(
    r"CREATE ROW ACCESS POLICY IF NOT EXISTS [\w.]+ AS \(\w+ VARCHAR\) RETURNS BOOLEAN ->.+COMMENT = '[^']*'\Z", re.S
)


def test_every_statement_parses_with_sqlglot_snowflake() -> None:
    commands: Counter[tuple[str, str]] = Counter()
    unparsable: Counter[tuple[str, str]] = Counter()
    parsed = 0
    for script, _index, statement in _statements():
        kind = statement_kind(statement)
        try:
            trees = sqlglot.parse(statement, read="snowflake")
        except sqlglot.errors.ParseError:
            unparsable[(script, kind)] += 1
            assert ROW_ACCESS_POLICY.match(statement), statement[:80]
            continue
        assert len(trees) == 1 and trees[0] is not None, (script, statement[:80])
        if isinstance(trees[0], exp.Command):
            commands[(script, kind)] += 1
        else:
            parsed += 1
    assert dict(commands) == EXPECTED_COMMANDS
    assert dict(unparsable) == EXPECTED_UNPARSABLE
    assert parsed > 60


def test_merge_statements_parse_into_merge_trees() -> None:
    t = spec.DEFAULT_TABLES
    for sql in (merge_sql.batch_merge_sql(t), merge_sql.merge_sql(t.destination, "CLAIMS_STAGING_STREAM")):
        tree = sqlglot.parse_one(sql, read="snowflake")
        assert isinstance(tree, exp.Merge)
        whens = tree.args["whens"].expressions
        assert [bool(w.args.get("matched")) for w in whens] == [True, False]
        assert whens[0].args.get("condition") is not None  # only newer versions update
        assert tree.find(exp.Qualify) is not None  # deduplicated source
    update, insert = merge_sql.batch_upsert_sql(t)
    assert isinstance(sqlglot.parse_one(update, read="snowflake"), exp.Update)
    assert isinstance(sqlglot.parse_one(insert, read="snowflake"), exp.Insert)
    insert_rows = sqlglot.parse_one(batch_insert_sql(t), read="snowflake")
    assert isinstance(insert_rows, exp.Insert) and "VALUES" not in batch_insert_sql(t)  # never VALUES(PARSE_JSON)


def test_task_merges_with_the_statement_the_conformance_suite_runs() -> None:
    """The task's MERGE (stream source, cannot run on fakesnow) differs from the tested batch MERGE only in its
    source and filter."""
    t, n = spec.DEFAULT_TABLES, DEFAULT_NAMES
    task_merge = merge_sql.merge_sql(t.destination, n.stream, "s.METADATA$ACTION = 'INSERT'")
    assert task_merge in (SQL_DIR / "03_stream_task.sql").read_text(encoding="utf-8")
    stream_source = f"FROM {n.stream} AS s\n    WHERE s.METADATA$ACTION = 'INSERT'"
    assert stream_source in task_merge
    as_batch = task_merge.replace(stream_source, f"FROM {t.staging} AS s\n    WHERE s.batchId = ?")
    assert as_batch == merge_sql.batch_merge_sql(t)


def test_scripts_use_real_transactions_and_never_delete_by_claim_id() -> None:
    merge = (SQL_DIR / "02_merge.sql").read_text(encoding="utf-8")
    kinds = [statement_kind(s) for s in split_statements(merge)]
    assert kinds[kinds.index("BEGIN") :] == ["BEGIN", "UPDATE", "UPDATE", "INSERT", "DELETE", "COMMIT"]
    everything = "\n".join(p.read_text(encoding="utf-8") for p in ALL_SCRIPTS)
    assert not re.search(r"DELETE\s+FROM\s+\w+\s+WHERE\s+claimId\s+IN", everything, re.I)
    assert "EXECUTE IMMEDIATE" not in everything and "\nBEGIN\n" not in everything  # no scripting blocks
    assert "WHEN SYSTEM$STREAM_HAS_DATA('CLAIMS_STAGING_STREAM')" in everything
    assert "APPEND_ONLY = TRUE" in everything
    statements = [statement for _script, _index, statement in _statements()]
    assert any("RSA_PUBLIC_KEY = " in s for s in statements)
    assert not any(re.search(r"\bPASSWORD\s*=", s, re.I) for s in statements)


# --- fakesnow ----------------------------------------------------------------------------------------------------

# What fakesnow cannot execute, by script and statement kind: parsed (above), not executed.
EXPECTED_NOT_EXECUTED = {
    ("00_setup.sql", "CREATE ROLE"): 7,
    ("00_setup.sql", "GRANT"): 27,
    ("00_setup.sql", "CREATE WAREHOUSE"): 1,
    ("00_setup.sql", "CREATE USER"): 1,
    ("01_tables.sql", "GRANT"): 4,
    ("03_stream_task.sql", "ALTER TABLE"): 1,  # SET CHANGE_TRACKING
    ("03_stream_task.sql", "CREATE STREAM"): 1,
    ("03_stream_task.sql", "GRANT"): 1,
    ("03_stream_task.sql", "CREATE TASK"): 1,
    ("03_stream_task.sql", "ALTER TASK"): 1,
    ("04_views.sql", "GRANT"): 8,  # 5 analyst views, 3 monitor views
    ("05_governance.sql", "CREATE MASKING POLICY"): 11,
    ("05_governance.sql", "ALTER TABLE"): 70,  # SET MASKING POLICY (66), DROP ALL / ADD ROW ACCESS POLICY (4)
    ("05_governance.sql", "CREATE ROW ACCESS POLICY"): 1,
    ("07_alerts.sql", "CREATE NOTIFICATION"): 1,
    ("07_alerts.sql", "GRANT"): 2,
    ("07_alerts.sql", "CREATE ALERT"): 3,
    ("07_alerts.sql", "ALTER ALERT"): 3,
}


@pytest.fixture(scope="module")
def fake() -> Iterator[tuple[Any, Any]]:
    with fakesnow_connection() as (conn, report):
        yield conn, report


def test_fakesnow_runs_the_schema_scripts_and_lists_what_it_cannot(fake: tuple[Any, Any]) -> None:
    conn, report = fake
    got = Counter((n.script, n.kind) for n in report.not_executed)
    assert dict(got) == EXPECTED_NOT_EXECUTED
    ran = Counter((script, kind) for script, _i, kind in report.executed)
    assert ran[("00_setup.sql", "CREATE DATABASE")] == 1 and ran[("00_setup.sql", "CREATE SCHEMA")] == 1
    assert ran[("01_tables.sql", "CREATE TABLE")] == 3
    assert ran[("05_governance.sql", "CREATE TABLE")] == 1  # the payer map, in the governor's schema
    assert ran[("04_views.sql", "CREATE SECURE VIEW")] == 8
    assert ran[("02_merge.sql", "INSERT")] == 1 and ran[("02_merge.sql", "COMMIT")] == 1
    # fakesnow accepts CREATE TAG / SET TAG as no-ops: executed, without effect.
    assert ran[("05_governance.sql", "CREATE TAG")] == 1
    cur = conn.cursor()
    for view in ALL_VIEWS:
        cur.execute(f"SELECT * FROM {view}")
        cur.fetchall()


def test_generated_scripts_equal_the_files_on_fakesnow(fake: tuple[Any, Any]) -> None:
    import snowflake.connector  # patched by the fixture's fakesnow.patch(): a fresh session on the same emulator

    from claimflow.snowflake import apply_generated_scripts

    conn = snowflake.connector.connect(paramstyle="qmark")
    report = apply_generated_scripts(conn)  # idempotent: IF NOT EXISTS / OR REPLACE throughout
    assert dict(Counter((n.script, n.kind) for n in report.not_executed)) == EXPECTED_NOT_EXECUTED
    where = conn.cursor().execute("SELECT CURRENT_DATABASE(), CURRENT_SCHEMA()").fetchone()
    assert where == ("CLAIMFLOW_DB", "CDC")
    conn.close()


def test_merge_script_consumes_only_the_rows_it_claimed(fake: tuple[Any, Any]) -> None:
    """sql/02_merge.sql in one transaction on rows landed by a Snowpipe-like loader (no batchId)."""
    conn, _ = fake
    reset_tables(conn)
    t = spec.DEFAULT_TABLES
    cur = conn.cursor()
    rows = [make_row("S1", "INSERT", BASE_TIME_US), make_row("S1", "MODIFY", BASE_TIME_US + 5),
            make_row("S2", "REMOVE", BASE_TIME_US)]  # fmt: skip
    cur.execute(batch_insert_sql(t).replace("?,\n    SYSDATE()", "NULL,\n    SYSDATE()", 1), (json.dumps(rows),))
    # A row of another writer's open batch (not NULL batchId) must survive the script.
    cur.execute(batch_insert_sql(t), ("other-writer", json.dumps([make_row("S3", "INSERT", BASE_TIME_US)])))
    report = apply_sql_scripts(conn, [SQL_DIR / "02_merge.sql"])
    assert report.not_executed == []
    cur.execute(f"SELECT claimId, eventName, isDeleted FROM {t.destination} ORDER BY claimId")
    assert cur.fetchall() == [("S1", "MODIFY", False), ("S2", "REMOVE", True)]
    cur.execute(f"SELECT claimId, batchId FROM {t.staging}")
    assert cur.fetchall() == [("S3", "other-writer")]


def test_failed_statement_aborts_the_rest_of_its_transaction(fake: tuple[Any, Any], tmp_path: Path) -> None:
    conn, _ = fake
    reset_tables(conn)
    t = spec.DEFAULT_TABLES
    script = tmp_path / "x.sql"
    script.write_text(
        f"BEGIN TRANSACTION;\nDELETE FROM {t.history};\nSELECT no_such_column FROM {t.history};\n"
        f"DELETE FROM {t.destination};\nCOMMIT;\nSELECT 1;\n"
    )
    report = apply_sql_scripts(conn, [script])
    assert [(n.index, n.kind) for n in report.not_executed] == [(2, "SELECT"), (3, "DELETE"), (4, "COMMIT")]
    assert [k for _s, _i, k in report.executed] == ["BEGIN", "DELETE", "SELECT"]


def test_sql_version_expression_equals_the_python_version(fake: tuple[Any, Any]) -> None:
    conn, _ = fake
    reset_tables(conn)
    t = spec.DEFAULT_TABLES
    rows = [
        make_row("V1", "INSERT", 0, seq=None, event_id="a"),
        make_row("V2", "MODIFY", BASE_TIME_US, seq="9", event_id="b"),
        make_row("V3", "REMOVE", 9_999_999_999_999_999_999, seq="4" * 56, event_id="c" * 64),
        make_row("V4", "MODIFY", 12, seq="1" + "0" * 63, event_id="x.y"),
    ]
    cur = conn.cursor()
    cur.execute(batch_insert_sql(t), ("v", json.dumps(rows)))
    cur.execute(f"SELECT claimId, {merge_sql.version_sql('s')} FROM {t.staging} AS s ORDER BY claimId")
    assert cur.fetchall() == [(r["claimId"], spec.event_version(r)) for r in rows]
