"""The generated Snowflake scripts: PHI masked wherever it is stored, Safe Harbor generalisation in the policies,
no grants to PUBLIC, a password-less service user."""

from __future__ import annotations

import re
from pathlib import Path

from claimflow.claims.phi import RESTRICTED_ZIP3
from claimflow.rows import COLUMNS, Phi
from claimflow.snowflake import spec

SQL_DIR = Path(__file__).resolve().parents[2] / "sql"


def _script(name: str) -> str:
    return (SQL_DIR / name).read_text(encoding="utf-8")


def test_every_phi_column_is_masked_in_every_table_that_stores_it() -> None:
    text = _script("05_governance.sql")
    tables = spec.DEFAULT_TABLES
    for col in (c for c in COLUMNS if c.phi is not Phi.NONE):
        for table in (tables.staging, tables.history, tables.destination):
            pattern = (
                rf"ALTER TABLE CLAIMFLOW_DB\.CDC\.{table} MODIFY COLUMN {col.name} "
                rf"SET MASKING POLICY CLAIMFLOW_DB\.GOVERNANCE\.PHI_MASK_\w+ FORCE;"
            )
            assert re.search(pattern, text), (table, col.name)


def test_zip_policy_sends_sparse_zip3_areas_to_000() -> None:
    text = _script("05_governance.sql")
    policy = text[text.index("CREATE MASKING POLICY IF NOT EXISTS CLAIMFLOW_DB.GOVERNANCE.PHI_MASK_ZIP "):]
    policy = policy[: policy.index(";")]
    listed = set(re.findall(r"'(\d{3})'", policy))
    assert listed == set(RESTRICTED_ZIP3)
    assert "THEN '000**'" in policy


def test_birth_dates_have_a_policy_that_hides_years_meaning_an_age_over_89() -> None:
    text = _script("05_governance.sql")
    assert "MODIFY COLUMN patientDOB SET MASKING POLICY CLAIMFLOW_DB.GOVERNANCE.PHI_MASK_BIRTH_DATE FORCE;" in text
    policy = text[text.index("CREATE MASKING POLICY IF NOT EXISTS CLAIMFLOW_DB.GOVERNANCE.PHI_MASK_BIRTH_DATE "):]
    assert "YEAR(CURRENT_DATE()) - YEAR(val) > 89 THEN NULL" in policy[: policy.index(";")]


def test_no_grant_to_public_and_no_password_for_the_service_user() -> None:
    for path in SQL_DIR.glob("*.sql"):
        text = path.read_text(encoding="utf-8")
        assert not re.search(r"\bTO\s+(ROLE\s+)?PUBLIC\b", text, re.IGNORECASE), path.name
    setup = _script("00_setup.sql")
    user = setup[setup.index("CREATE USER"):]
    user = user[: user.index(";")]
    assert "TYPE = SERVICE" in user and "PASSWORD" not in user.upper()
