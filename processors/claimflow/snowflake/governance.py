"""Script 05: PHI classification tags, masking policies and the row access policy by payer.

Which policy protects a column follows from its PHI class in ``claimflow.rows.COLUMNS`` (and the tables' own
columns in ``claimflow.snowflake.tables``); docs/security.md explains each policy.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from claimflow.claims.phi import AGE_CAP, RESTRICTED_ZIP3
from claimflow.rows import COLUMNS, Column, Group, Kind, Phi
from claimflow.snowflake.merge_sql import sql_string
from claimflow.snowflake.naming import Names
from claimflow.snowflake.spec import TableNames
from claimflow.snowflake.tables import DESTINATION_EXTRA, HISTORY_EXTRA, STAGING_EXTRA, ExtraColumn

# Safe Harbor: a year of birth can reveal an age over 89, so that column gets a policy of its own.
BIRTH_DATE_COLUMN = "patientDOB"
AGE_COLUMN = "patientAgeAtService"
CLAIM_AGE_COLUMN = "claimAgeDays"
DAYS_PER_YEAR_BAND = 365


@dataclass(frozen=True)
class MaskingPolicy:
    """One masking policy: its SQL type, what an unprivileged role sees (``masked``, over ``val``), who sees the value
    (``monitor``: the monitor role too, for event and load times only), and why."""

    name: str
    sql_type: str
    masked: str
    comment: str
    monitor: bool = False


MASKING_POLICIES: tuple[MaskingPolicy, ...] = (
    MaskingPolicy("PHI_MASK_VARCHAR", "VARCHAR", "'***MASKED***'", "direct identifiers and free-text PHI"),
    MaskingPolicy("PHI_MASK_VARIANT", "VARIANT", "NULL", "attributes outside the claim schema (unclassified)"),
    MaskingPolicy(
        "PHI_MASK_KEY",
        "VARCHAR",
        "SHA2(val, 256)",
        "the claim number and the partition key derived from it: a stable token, so views still join and count",
    ),
    MaskingPolicy("PHI_MASK_DATE", "DATE", "DATE_TRUNC('YEAR', val)", "PHI dates generalised to January 1st"),
    MaskingPolicy(
        "PHI_MASK_BIRTH_DATE",
        "DATE",
        f"CASE WHEN YEAR(CURRENT_DATE()) - YEAR(val) > {AGE_CAP - 1} THEN NULL ELSE DATE_TRUNC('YEAR', val) END",
        "birth dates generalised to the year; hidden when that year could mean an age over 89",
    ),
    MaskingPolicy(
        "PHI_MASK_ZIP",
        "VARCHAR",
        "CASE WHEN LEFT(val, 3) IN ({restricted}) THEN '000**' ELSE LEFT(val, 3) || '**' END",
        "ZIP codes generalised to ZIP3 (000 for ZIP3 areas of 20,000 people or fewer)",
    ),
    MaskingPolicy(
        "PHI_MASK_TIMESTAMP",
        "TIMESTAMP_NTZ",
        "DATE_TRUNC('YEAR', val)",
        "dates and times of the claim generalised to the start of their year",
    ),
    MaskingPolicy(
        "PHI_MASK_EVENT_TIME",
        "TIMESTAMP_NTZ",
        "DATE_TRUNC('YEAR', val)",
        "event and load times generalised to the start of their year (exact for the monitor role)",
        monitor=True,
    ),
    MaskingPolicy(
        "PHI_MASK_EVENT_US",
        "NUMBER",
        "DATE_PART(EPOCH_MICROSECOND, DATE_TRUNC('YEAR', TO_TIMESTAMP_NTZ(val, 6)))",
        "event time in microseconds generalised to the start of its year (exact for the monitor role)",
        monitor=True,
    ),
    MaskingPolicy(
        "PHI_MASK_CLAIM_AGE",
        "NUMBER",
        f"FLOOR(val / {DAYS_PER_YEAR_BAND}) * {DAYS_PER_YEAR_BAND}",
        "days since service in whole years (0, 365, ...): no finer than the masked date of service",
    ),
    MaskingPolicy(
        "PHI_MASK_AGE",
        "NUMBER",
        f"LEAST(val, {AGE_CAP})",
        f"ages over 89 shown as {AGE_CAP} (the Safe Harbor group of 90 and older)",
    ),
)
POLICIES_BY_NAME = {p.name: p for p in MASKING_POLICIES}


def masking_policy_of(col: Column | ExtraColumn) -> str | None:
    """Which masking policy protects a column, by its PHI class, kind and group (None: not PHI)."""
    if col.phi is Phi.NONE:
        return None
    if col.phi is Phi.RECORD_KEY:
        return "PHI_MASK_KEY"
    if isinstance(col, ExtraColumn):
        return "PHI_MASK_EVENT_TIME"  # staged/loaded/merged at: follow the event times
    if col.name == BIRTH_DATE_COLUMN:
        return "PHI_MASK_BIRTH_DATE"
    if col.name == AGE_COLUMN:
        return "PHI_MASK_AGE"
    if col.name == CLAIM_AGE_COLUMN:
        return "PHI_MASK_CLAIM_AGE"
    if col.kind is Kind.DATE:
        return "PHI_MASK_DATE"
    if col.kind is Kind.TIMESTAMP:
        return "PHI_MASK_EVENT_TIME" if col.group is Group.CDC else "PHI_MASK_TIMESTAMP"
    if col.kind is Kind.INTEGER and col.group is Group.CDC:
        return "PHI_MASK_EVENT_US"
    if col.kind is Kind.ATTRIBUTES:
        return "PHI_MASK_VARIANT"
    if col.kind is not Kind.VARCHAR:
        raise ValueError(f"{col.name}: no masking policy for a {col.kind.value} PHI column")
    if col.name.endswith("Zip"):
        return "PHI_MASK_ZIP"
    return "PHI_MASK_VARCHAR"


def phi_columns() -> list[Column]:
    return [c for c in COLUMNS if c.phi is not Phi.NONE]


def table_phi_columns(extras: Sequence[ExtraColumn]) -> list[Column | ExtraColumn]:
    """Every classified column of a table: the claim row's and the table's own."""
    return [*phi_columns(), *(e for e in extras if e.phi is not Phi.NONE)]


def unmasked_condition(n: Names, monitor: bool = False) -> str:
    """Who sees a value unmasked: the session's PRIMARY role only (CURRENT_ROLE), never a secondary or inherited
    role, so DEFAULT_SECONDARY_ROLES = ('ALL') or a grant to SYSADMIN cannot unmask PHI."""
    roles = [n.phi_reader_role, n.merger_role] + ([n.monitor_role] if monitor else [])
    return "CURRENT_ROLE() IN (" + ", ".join(sql_string(r) for r in roles) + ")"


def masking_policy_sql(n: Names, policy: MaskingPolicy) -> str:
    restricted = ", ".join(sql_string(prefix) for prefix in sorted(RESTRICTED_ZIP3))
    masked = policy.masked.replace("{restricted}", restricted)
    return (
        f"CREATE MASKING POLICY IF NOT EXISTS {n.gov}.{policy.name} AS (val {policy.sql_type}) "
        f"RETURNS {policy.sql_type} ->\n"
        f"    CASE WHEN {unmasked_condition(n, policy.monitor)} THEN val WHEN val IS NULL THEN NULL\n"
        f"         ELSE {masked} END\n"
        f"    COMMENT = {sql_string('ClaimFlow: ' + policy.comment)};"
    )


def _table_extras(t: TableNames) -> tuple[tuple[str, Sequence[ExtraColumn]], ...]:
    return ((t.destination, DESTINATION_EXTRA), (t.history, HISTORY_EXTRA), (t.staging, STAGING_EXTRA))


def governance_script(n: Names) -> str:
    t = n.tables
    fq = f"{n.database}.{n.schema}"
    allowed = ", ".join(sql_string(p.value) for p in Phi if p is not Phi.NONE)
    # Staging too: in stream-and-task mode it keeps every row, and its owner (the admin role, granted to SYSADMIN)
    # must not read there what the policies hide everywhere else.
    masking = "\n".join(
        f"ALTER TABLE {fq}.{table} MODIFY COLUMN {col.name} SET MASKING POLICY {n.gov}.{masking_policy_of(col)} FORCE;"
        for table, extras in _table_extras(t)
        for col in table_phi_columns(extras)
    )
    tags = "\n".join(
        f"ALTER TABLE {fq}.{table} MODIFY COLUMN {col.name} SET TAG {n.gov}.{n.phi_tag} = {sql_string(col.phi.value)};"
        for table, extras in _table_extras(t)
        for col in table_phi_columns(extras)
    )
    policies = "\n\n".join(masking_policy_sql(n, p) for p in MASKING_POLICIES)
    return f"""
-- Governance: PHI classification tags, masking policies, a row access policy by payer, all owned by
-- {n.governor_role} in {n.gov} (the admin role, which owns the tables, can neither alter nor unset them).
-- Masking: {n.phi_reader_role} sees PHI; {n.merger_role} must (it copies rows into {t.destination}); both only as the
-- session's primary role. {n.monitor_role} sees exact event and load times (lag, alerts), nothing else.
-- Everyone else sees direct identifiers masked, the claim number as a token, every date and time of the claim
-- generalised to its year (birth years that could mean an age over 89 hidden, claim ages in whole years, ages over
-- 89 as 90) and ZIP codes as ZIP3 (000 for sparsely populated areas); staging, history and current alike.
-- Column choice comes from rows.COLUMNS' phi class (a derived column is classed by what it can be solved back to).
-- Needs Snowflake Enterprise Edition or higher.
USE ROLE {n.governor_role};
USE WAREHOUSE {n.warehouse};
CREATE SCHEMA IF NOT EXISTS {n.gov}
    COMMENT = 'ClaimFlow governance: masking and row access policies, PHI tag, payer map';

CREATE TAG IF NOT EXISTS {n.gov}.{n.phi_tag} ALLOWED_VALUES {allowed}
    COMMENT = 'HIPAA classification of a column (claimflow.rows.Phi)';

{policies}

{masking}

{tags}

-- Row access by payer: a role sees the claims of the payers mapped to it in {n.gov}.{n.payer_access_map}
-- (INSERT INTO {n.gov}.{n.payer_access_map} VALUES ('CLAIMFLOW_ANALYST', 'PAYER-001');), maintained by
-- {n.governor_role} only. {n.merger_role} must see every row (a hidden row would make the MERGE insert a
-- duplicate); so do {n.phi_reader_role} and {n.monitor_role} (granted aggregate views only), as primary role.
CREATE TABLE IF NOT EXISTS {n.gov}.{n.payer_access_map} (
    roleName VARCHAR(256) NOT NULL COMMENT 'Role that may see the payer''s claims.',
    payerId VARCHAR(64) NOT NULL COMMENT 'Payer identifier (claims.payerId).'
)
COMMENT = 'ClaimFlow row access: role -> payer';

CREATE ROW ACCESS POLICY IF NOT EXISTS {n.gov}.PAYER_ROW_ACCESS AS (payer_id VARCHAR) RETURNS BOOLEAN ->
    CURRENT_ROLE() IN ({sql_string(n.merger_role)}, {sql_string(n.phi_reader_role)}, {sql_string(n.monitor_role)})
    OR EXISTS (
        SELECT 1 FROM {n.gov}.{n.payer_access_map} AS m
        WHERE m.payerId = payer_id AND IS_ROLE_IN_SESSION(m.roleName)
    )
    COMMENT = 'ClaimFlow: rows visible per payer';

ALTER TABLE {fq}.{t.destination} DROP ALL ROW ACCESS POLICIES;
ALTER TABLE {fq}.{t.destination} ADD ROW ACCESS POLICY {n.gov}.PAYER_ROW_ACCESS ON (payerId);
ALTER TABLE {fq}.{t.history} DROP ALL ROW ACCESS POLICIES;
ALTER TABLE {fq}.{t.history} ADD ROW ACCESS POLICY {n.gov}.PAYER_ROW_ACCESS ON (payerId);

-- Back to the ClaimFlow schema for whatever runs next in this session.
USE SCHEMA {fq};
"""
