"""The script splitter and statement labels used by apply_sql_scripts."""

from __future__ import annotations

from claimflow.snowflake.connector import split_statements, statement_kind


def test_split_respects_quotes_comments_and_dollar_blocks() -> None:
    sql = """
    -- a comment; with a semicolon
    CREATE TABLE T (c VARCHAR COMMENT 'it''s; fine');
    /* block; comment */ INSERT INTO T VALUES ('a;b'), ("x;y");
    CREATE FUNCTION F() RETURNS VARCHAR AS $$ 'x;y' $$;
    SELECT 'back\\'slash;' AS s;
    -- trailing comment only
    """
    statements = split_statements(sql)
    assert [statement_kind(s) for s in statements] == ["CREATE TABLE", "INSERT", "CREATE FUNCTION", "SELECT"]
    assert statements[0].endswith("COMMENT 'it''s; fine')")
    assert statements[2].endswith("$$ 'x;y' $$")
    assert statements[3] == "SELECT 'back\\'slash;' AS s"


def test_statement_kinds() -> None:
    assert statement_kind("CREATE OR REPLACE SECURE VIEW V AS SELECT 1") == "CREATE SECURE VIEW"
    assert statement_kind("create row access policy if not exists P as (x varchar) returns boolean -> true") == (
        "CREATE ROW ACCESS POLICY"
    )
    assert statement_kind("CREATE MASKING POLICY IF NOT EXISTS P AS (v VARCHAR) RETURNS VARCHAR -> v") == (
        "CREATE MASKING POLICY"
    )
    assert statement_kind("ALTER TASK T RESUME") == "ALTER TASK"
    assert statement_kind("BEGIN TRANSACTION") == "BEGIN"
    assert statement_kind("GRANT ROLE A TO ROLE B") == "GRANT"
