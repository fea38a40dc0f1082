"""Separation of duties in the generated SQL: the governor role owns every policy and tag, nobody takes ownership of a
database, and the DDL generator takes the quickstart's names without taking over its database."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
import sqlglot
from sqlglot import exp

from claimflow.snowflake import ddl
from claimflow.snowflake.connector import split_statements
from claimflow.snowflake.governance import MASKING_POLICIES
from claimflow.snowflake.naming import DEFAULT_NAMES, Names
from claimflow.snowflake.spec import TableNames
from claimflow.snowflake.views import QUICKSTART_COLUMNS

REPO = Path(__file__).resolve().parents[2]
GOVERNED = re.compile(r"CREATE (MASKING POLICY|ROW ACCESS POLICY|TAG)\b", re.I)
QUICKSTART = Names(
    database="CDC_DB", schema="CLAIMFLOW", warehouse="CDC_WH", existing_database_owner="CDC_RL", quickstart_views=True
)


def _with_roles(scripts: dict[str, str]) -> list[tuple[str, str | None, str]]:
    """(script, role in effect, statement) for every statement, following USE ROLE."""
    out = []
    for name, text in scripts.items():
        role = None
        for statement in split_statements(text):
            use = re.match(r"USE ROLE (\w+)\Z", statement)
            if use:
                role = use.group(1)
            out.append((name, role, statement))
    return out


@pytest.mark.parametrize("names", [DEFAULT_NAMES, QUICKSTART], ids=["default", "quickstart"])
def test_the_governor_creates_every_policy_and_tag_in_its_own_schema(names: Names) -> None:
    governed = [(role, s) for _n, role, s in _with_roles(ddl.render_scripts(names)) if GOVERNED.match(s)]
    assert len(governed) == len(MASKING_POLICIES) + 2  # the masking policies, the row access policy, the tag
    for role, statement in governed:
        assert role == names.governor_role, statement[:80]
        assert f" {names.gov}." in statement.split("->")[0].split(" ALLOWED_VALUES")[0], statement[:80]


@pytest.mark.parametrize("names", [DEFAULT_NAMES, QUICKSTART], ids=["default", "quickstart"])
def test_only_the_governor_sets_policies_and_tags_and_nobody_takes_ownership(names: Names) -> None:
    for script, role, statement in _with_roles(ddl.render_scripts(names)):
        assert not re.search(r"\bGRANT OWNERSHIP\b", statement, re.I), (script, statement[:80])
        if re.search(r"\b(SET|UNSET) (MASKING POLICY|TAG)\b|\b(ADD|DROP ALL) ROW ACCESS POLIC", statement):
            assert role == names.governor_role, (script, statement[:80])
        apply = re.match(r"GRANT APPLY (MASKING POLICY|ROW ACCESS POLICY|TAG) ON ACCOUNT TO ROLE (\w+)", statement)
        if apply:
            assert apply.group(2) == names.governor_role
    setup = ddl.render_scripts(names)["00_setup.sql"]
    # The governor is granted to no role (named stewards only): SYSADMIN and the admin cannot alter policies.
    assert not re.search(rf"GRANT ROLE {names.governor_role} TO ROLE", setup)
    for unmasking in (names.phi_reader_role, names.merger_role, names.monitor_role):
        assert not re.search(rf"GRANT ROLE {unmasking} TO ROLE", setup)
    statements = [s for _n, _r, s in _with_roles(ddl.render_scripts(names))]
    assert not any(re.search(r"COLLATION|COLLATE", s, re.I) for s in statements)  # Snowpipe Streaming refuses them


def test_an_existing_database_is_never_created_dropped_or_taken_over() -> None:
    scripts = ddl.render_scripts(QUICKSTART)
    everything = "\n".join(scripts.values())
    assert "CREATE DATABASE" not in everything and "DROP DATABASE" not in everything
    setup = scripts["00_setup.sql"]
    owner_part = setup[setup.index("USE ROLE CDC_RL;") :]
    assert owner_part.index("GRANT CREATE SCHEMA ON DATABASE CDC_DB TO ROLE CLAIMFLOW_ADMIN;") < owner_part.index(
        "USE ROLE CLAIMFLOW_ADMIN;"
    )
    assert "DROP SCHEMA IF EXISTS CDC_DB.CLAIMFLOW;" in scripts["99_teardown.sql"]
    # A new database is created by the admin role itself: owned without any transfer.
    default = ddl.render_scripts()["00_setup.sql"]
    assert "USE ROLE CLAIMFLOW_ADMIN;\nCREATE DATABASE IF NOT EXISTS CLAIMFLOW_DB" in default


def test_quickstart_compatibility_views_have_the_quickstart_columns() -> None:
    views = ddl.render_scripts(QUICKSTART)["04_views.sql"]
    for view in ("OPENFLOW_INSCLAIM_DEST_TBL", "OPENFLOW_INSCLAIM_EVENT_HIST_TBL", "OPENFLOW_INSCLAIM_CDC_TBL"):
        statement = next(s for s in split_statements(views) if s.startswith(f"CREATE OR REPLACE SECURE VIEW {view}\n"))
        select = sqlglot.parse_one(statement, read="snowflake").find(exp.Select)
        assert select is not None
        assert [e.alias_or_name for e in select.expressions] == list(QUICKSTART_COLUMNS), view
        assert f"GRANT SELECT ON VIEW {view} TO ROLE CLAIMFLOW_ANALYST;" in views
    assert len(QUICKSTART_COLUMNS) == 32
    assert "OPENFLOW_INSCLAIM" not in ddl.render_scripts()["04_views.sql"]  # only on request


def test_table_names_are_options_and_reach_every_script(tmp_path: Path) -> None:
    out = tmp_path / "sql"
    result = subprocess.run(
        [sys.executable, "-W", "error::RuntimeWarning", "-m", "claimflow.snowflake", "--write", str(out),
         "--staging-table", "STG_X", "--history-table", "HIST_X", "--destination-table", "CUR_X",
         "--database", "CDC_DB", "--existing-database-owner", "CDC_RL", "--quickstart-views"],
        capture_output=True, text=True, check=False, cwd=REPO,
    )  # fmt: skip
    assert result.returncode == 0 and result.stderr == "", result.stderr
    text = "\n".join(p.read_text() for p in sorted(out.glob("*.sql")))
    assert not re.search(r"\b(CLAIMS_STAGING|CLAIMS_EVENT_HISTORY|CLAIMS_CURRENT)\b", text)
    for table in ("STG_X", "HIST_X", "CUR_X"):
        assert f"CREATE TABLE IF NOT EXISTS {table} (" in text
    assert ddl.drift(out, Names(database="CDC_DB", tables=TableNames("STG_X", "HIST_X", "CUR_X"),
                                    existing_database_owner="CDC_RL", quickstart_views=True)) == []  # fmt: skip
    bad = subprocess.run(
        [sys.executable, "-m", "claimflow.snowflake", "--write", str(out), "--staging-table", "x;DROP"],
        capture_output=True, text=True, check=False, cwd=REPO,
    )  # fmt: skip
    assert bad.returncode == 2 and "staging must match" in bad.stderr


def test_help_runs_without_a_warning() -> None:
    result = subprocess.run(
        [sys.executable, "-W", "error", "-m", "claimflow.snowflake", "--help"],
        capture_output=True, text=True, check=False, cwd=REPO,
    )  # fmt: skip
    assert result.returncode == 0 and result.stderr == ""
    assert "--existing-database-owner" in result.stdout and "--quickstart-views" in result.stdout
