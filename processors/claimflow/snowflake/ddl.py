"""SQL generated from ``claimflow.rows.COLUMNS`` and ``claimflow.snowflake.spec``: every script under ``sql/``.

``python -m claimflow.snowflake --write sql`` rewrites the scripts; ``--check sql`` fails on drift (a test does
the same). Options name the database, schema, warehouse and tables, an existing database (never taken over) and
the quickstart's compatibility views; see ``--help`` and docs/snowflake.md.

Identifiers are unquoted on purpose: Snowflake stores them upper-case, so plain SQL, Snowpark (which upper-cases
unquoted names) and Snowpipe all meet the same columns.
"""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from claimflow.claims.phi import AGE_CAP, RESTRICTED_ZIP3
from claimflow.rows import COLUMNS, Column, Group, Kind, Phi
from claimflow.snowflake.merge_sql import (
    PENDING_CLAIM_MARKER,
    dedup_clause,
    merge_sql,
    sql_string,
    upsert_sql,
    version_sql,
    wrapped,
)
from claimflow.snowflake.spec import (
    APPLIED_VERSION,
    BATCH_ID,
    IS_DELETED,
    KEY_COLUMN,
    LOADED_AT,
    MERGED_AT,
    STAGED_AT,
    STRATEGY_NAME,
    VERSION_LENGTH,
    TableNames,
)

IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_$]{0,254}")


class InvalidIdentifier(ValueError):
    """A database object name that is not a plain unquoted Snowflake identifier."""


def check_identifier(name: str, what: str = "identifier") -> str:
    """Return ``name`` if it is a plain unquoted identifier; raise InvalidIdentifier otherwise (no injection)."""
    if not isinstance(name, str) or not IDENTIFIER.fullmatch(name):
        raise InvalidIdentifier(f"{what} must match {IDENTIFIER.pattern}")
    return name


@dataclass(frozen=True)
class Names:
    """Every object name the scripts use, and how they meet an account that already has some of them.

    ``existing_database_owner``: the database already exists (e.g. the quickstart's ``CDC_DB``) and is owned by
    that role; the scripts then never create it nor take its ownership, and the grants on it are issued by that
    role. ``quickstart_views``: also create views named like the quickstart's ``openflow_insclaim_*`` tables.
    """

    database: str = "CLAIMFLOW_DB"
    schema: str = "CDC"
    warehouse: str = "CLAIMFLOW_WH"
    tables: TableNames = field(default_factory=TableNames)
    stream: str = "CLAIMS_STAGING_STREAM"
    task: str = "CLAIMS_MERGE_TASK"
    payer_access_map: str = "PAYER_ACCESS_MAP"
    admin_role: str = "CLAIMFLOW_ADMIN"
    loader_role: str = "CLAIMFLOW_LOADER"
    merger_role: str = "CLAIMFLOW_MERGER"
    analyst_role: str = "CLAIMFLOW_ANALYST"
    phi_reader_role: str = "CLAIMFLOW_PHI_READER"
    governor_role: str = "CLAIMFLOW_GOVERNOR"
    monitor_role: str = "CLAIMFLOW_MONITOR"
    governance_schema: str = "GOVERNANCE"
    service_user: str = "CLAIMFLOW_SVC"
    phi_tag: str = "PHI_CLASS"
    notification_integration: str = "CLAIMFLOW_ALERTS"
    existing_database_owner: str | None = None
    quickstart_views: bool = False

    def __post_init__(self) -> None:
        for key, value in vars(self).items():
            if isinstance(value, TableNames):
                for table_key, table in vars(value).items():
                    check_identifier(table, table_key)
            elif isinstance(value, str):
                check_identifier(value, key)

    @property
    def gov(self) -> str:
        """The schema that holds the policies, tags and the payer map (owned by the governor role)."""
        return f"{self.database}.{self.governance_schema}"


DEFAULT_NAMES = Names()

# --- Table shapes --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ExtraColumn:
    """A column only Snowflake has (not in the claim row). ``phi``: classified like rows.COLUMNS (load and merge
    times follow the event times within seconds, so they reveal what the event times reveal)."""

    name: str
    snowflake_type: str
    description: str
    not_null: bool = False
    default: str | None = None
    phi: Phi = Phi.NONE


STAGING_EXTRA = (
    ExtraColumn(BATCH_ID, "VARCHAR(64)", "Writer batch that landed the row (NULL for Snowpipe-loaded rows)."),
    ExtraColumn(
        STAGED_AT, "TIMESTAMP_NTZ(6)", "When the row landed, UTC.", default="SYSDATE()", phi=Phi.QUASI_IDENTIFIER
    ),
)
HISTORY_EXTRA = (
    ExtraColumn(BATCH_ID, "VARCHAR(64)", "Writer batch that appended the event (NULL for Snowpipe-loaded rows)."),
    ExtraColumn(
        LOADED_AT,
        "TIMESTAMP_NTZ(6)",
        "When the event was appended, UTC.",
        default="SYSDATE()",
        phi=Phi.QUASI_IDENTIFIER,
    ),
)
DESTINATION_EXTRA = (
    ExtraColumn(IS_DELETED, "BOOLEAN", "Tombstone: TRUE once a REMOVE (or TTL expiry) is the latest event.", True),
    ExtraColumn(
        APPLIED_VERSION,
        f"VARCHAR({VERSION_LENGTH})",
        "Version of the last applied event (time, sequence number, operation, eventId); see docs/snowflake.md.",
        True,
    ),
    ExtraColumn(
        MERGED_AT,
        "TIMESTAMP_NTZ(6)",
        "When the merge last changed the row, UTC.",
        default="SYSDATE()",
        phi=Phi.QUASI_IDENTIFIER,
    ),
)


def staging_columns() -> list[str]:
    return [c.name for c in COLUMNS] + [e.name for e in STAGING_EXTRA]


def destination_columns() -> list[str]:
    return [c.name for c in COLUMNS] + [e.name for e in DESTINATION_EXTRA]


def _column_line(name: str, sf_type: str, not_null: bool, description: str, default: str | None = None) -> str:
    parts = [f"    {name} {sf_type}"]
    if default:
        parts.append(f"DEFAULT {default}")
    if not_null:
        parts.append("NOT NULL")
    parts.append(f"COMMENT {sql_string(description)}")
    return " ".join(parts)


def _create_table(name: str, comment: str, extras: Sequence[ExtraColumn], key_not_null_only: bool) -> str:
    lines = []
    for col in COLUMNS:
        # Staging and history accept whatever arrives (a bad row must still be auditable); only the CDC columns the
        # merge orders by are required. The destination requires what rows.py declares.
        not_null = (not col.nullable) if not key_not_null_only else col.name in _ORDERING_REQUIRED
        lines.append(_column_line(col.name, col.snowflake_type, not_null, col.description))
    for extra in extras:
        lines.append(_column_line(extra.name, extra.snowflake_type, extra.not_null, extra.description, extra.default))
    body = ",\n".join(lines)
    return f"CREATE TABLE IF NOT EXISTS {name} (\n{body}\n)\nCOMMENT = {sql_string(comment)};\n"


_ORDERING_REQUIRED = frozenset({"eventName", "eventCreationUnixTime", "eventId", KEY_COLUMN})


def staging_table_sql(tables: TableNames) -> str:
    return _create_table(
        tables.staging,
        "ClaimFlow CDC staging: insert-only landing of every claim row; consumed by the merge.",
        STAGING_EXTRA,
        key_not_null_only=True,
    )


def history_table_sql(tables: TableNames) -> str:
    return _create_table(
        tables.history,
        "ClaimFlow event history: append-only audit trail of every change event received.",
        HISTORY_EXTRA,
        key_not_null_only=True,
    )


def destination_table_sql(tables: TableNames) -> str:
    return _create_table(
        tables.destination,
        f"ClaimFlow current state: one row per claim, {STRATEGY_NAME}.",
        DESTINATION_EXTRA,
        key_not_null_only=False,
    )


# --- Loading rows ----------------------------------------------------------------------------------------------


def _json_cast(col: Column, ref: str) -> str:
    path = f'{ref}:"{col.name}"'
    if col.kind is Kind.STRING_ARRAY:
        return f"STRIP_NULL_VALUE({path})::ARRAY"
    if col.kind in (Kind.PROCEDURES, Kind.ATTRIBUTES):
        return f"STRIP_NULL_VALUE({path})"
    return f"{path}::{col.snowflake_type}"


def batch_insert_sql(tables: TableNames) -> str:
    """INSERT of a JSON array of rows (one bound string) into staging, tagged with a bound batch id.

    Binding the batch as one JSON document keeps ARRAY/VARIANT columns native (``VALUES (PARSE_JSON(?))`` is not
    accepted by Snowflake) and costs one round trip per chunk instead of one per row.
    """
    names = wrapped(staging_columns(), indent="    ")
    casts = ",\n    ".join(_json_cast(col, "f.value") for col in COLUMNS)
    return (
        f"INSERT INTO {tables.staging} (\n    {names}\n)\n"
        f"SELECT\n    {casts},\n    ?,\n    SYSDATE()\n"
        f"FROM TABLE(FLATTEN(INPUT => PARSE_JSON(?))) AS f"
    )


def history_from_staging_sql(tables: TableNames) -> str:
    """Append the batch's staging rows to history (same transaction, so history holds exactly what was merged)."""
    cols = wrapped([*(c.name for c in COLUMNS), BATCH_ID], indent="    ")
    return (
        f"INSERT INTO {tables.history} (\n    {cols}, {LOADED_AT}\n)\n"
        f"SELECT\n    {cols}, SYSDATE()\nFROM {tables.staging}\nWHERE {BATCH_ID} = ?"
    )


def consume_batch_sql(tables: TableNames) -> str:
    """Delete exactly the rows of one batch (never rows that arrived later: they carry another or no batch id)."""
    return f"DELETE FROM {tables.staging} WHERE {BATCH_ID} = ?"


# --- Scripts ---------------------------------------------------------------------------------------------------

_HEADER = """-- ClaimFlow Snowflake setup, script {name}.
-- GENERATED by `python -m claimflow.snowflake --write sql` from processors/claimflow/rows.py and
-- processors/claimflow/snowflake/: do not edit by hand (tests/snowflake fails on drift).
-- Run the scripts in order, e.g. `snow sql -f sql/{name}` (Snowflake CLI) or `snowsql -f sql/{name}`.
"""


def _context(n: Names, role: str) -> str:
    return f"USE ROLE {role};\nUSE WAREHOUSE {n.warehouse};\nUSE SCHEMA {n.database}.{n.schema};\n"


def _database_part(n: Names) -> str:
    """Database and schema: created by the admin role itself (no ownership is ever transferred), or, for a database
    that already exists, only a schema inside it, with the grants on the database issued by its owner."""
    r = n
    db_grants = "\n".join(
        [
            f"GRANT USAGE ON DATABASE {n.database} TO ROLE {role};"
            for role in (r.loader_role, r.analyst_role, r.monitor_role, r.governor_role)
        ]
        + [f"GRANT CREATE SCHEMA ON DATABASE {n.database} TO ROLE {r.governor_role};"]
    )
    if n.existing_database_owner is None:
        return f"""
-- Database and schema, created (and so owned) by {r.admin_role}: no GRANT OWNERSHIP anywhere.
USE ROLE ACCOUNTADMIN;
GRANT CREATE DATABASE ON ACCOUNT TO ROLE {r.admin_role};
USE ROLE {r.admin_role};
CREATE DATABASE IF NOT EXISTS {n.database} COMMENT = 'ClaimFlow healthcare-claims CDC';
{db_grants}
"""
    owner = n.existing_database_owner
    return f"""
-- {n.database} already exists and belongs to {owner}: ClaimFlow never creates it nor takes its ownership. Its owner
-- lets {r.admin_role} create the ClaimFlow schema in it, and grants the other roles USAGE on it.
USE ROLE {owner};
GRANT USAGE ON DATABASE {n.database} TO ROLE {r.admin_role};
GRANT CREATE SCHEMA ON DATABASE {n.database} TO ROLE {r.admin_role};
{db_grants}
USE ROLE {r.admin_role};
"""


def setup_script(n: Names) -> str:
    r = n
    return f"""
-- Roles (least privilege, separation of duties; docs/security.md has the role table):
--   {r.loader_role}     writes staging and history only (Snowpipe Streaming / NiFi loader).
--   {r.merger_role}     inherits {r.loader_role}; consumes staging, writes the destination, owns the merge task.
--                         Sees PHI unmasked (it must copy it), and is granted to the service user only.
--   {r.analyst_role}    reads the secure views only; PHI masked and generalised.
--   {r.phi_reader_role} PHI unmasked through the same views, only while it is the session's PRIMARY role.
--   {r.monitor_role}    operational views and alerts: exact event/load times, no other PHI.
--   {r.admin_role}      owns the database, the schema, tables and views; inherits {r.analyst_role} (masked);
--                         granted to SYSADMIN. Cannot change, unset or drop a policy or a tag.
--   {r.governor_role}   owns the masking and row access policies, the PHI tag and the payer map (schema
--                         {n.governance_schema}); applies them with APPLY MASKING POLICY / APPLY ROW ACCESS POLICY /
--                         APPLY TAG. Granted to the data stewards only, NOT to SYSADMIN.
-- The policies unmask by CURRENT_ROLE() (the primary role only): neither the role hierarchy nor secondary roles
-- (DEFAULT_SECONDARY_ROLES = ('ALL')) unmask PHI. Tags, masking and row access policies need Snowflake Enterprise
-- Edition or higher.
USE ROLE SECURITYADMIN;
CREATE ROLE IF NOT EXISTS {r.admin_role} COMMENT = 'ClaimFlow: owns the ClaimFlow database objects';
CREATE ROLE IF NOT EXISTS {r.loader_role} COMMENT = 'ClaimFlow: appends to staging and history';
CREATE ROLE IF NOT EXISTS {r.merger_role} COMMENT = 'ClaimFlow: merges staging into the current-state table';
CREATE ROLE IF NOT EXISTS {r.analyst_role} COMMENT = 'ClaimFlow: reads secure views, PHI masked';
CREATE ROLE IF NOT EXISTS {r.phi_reader_role} COMMENT = 'ClaimFlow: reads secure views with PHI unmasked';
CREATE ROLE IF NOT EXISTS {r.monitor_role} COMMENT = 'ClaimFlow: pipeline health views and alerts';
CREATE ROLE IF NOT EXISTS {r.governor_role} COMMENT = 'ClaimFlow: owns masking/row access policies and tags';
GRANT ROLE {r.loader_role} TO ROLE {r.merger_role};
GRANT ROLE {r.analyst_role} TO ROLE {r.phi_reader_role};
GRANT ROLE {r.analyst_role} TO ROLE {r.admin_role};
GRANT ROLE {r.admin_role} TO ROLE SYSADMIN;

-- Centralised policy management: only {r.governor_role} sets or unsets policies and tags; a table owner cannot.
USE ROLE ACCOUNTADMIN;
GRANT APPLY MASKING POLICY ON ACCOUNT TO ROLE {r.governor_role};
GRANT APPLY ROW ACCESS POLICY ON ACCOUNT TO ROLE {r.governor_role};
GRANT APPLY TAG ON ACCOUNT TO ROLE {r.governor_role};

-- Warehouse.
USE ROLE SYSADMIN;
CREATE WAREHOUSE IF NOT EXISTS {n.warehouse}
    WAREHOUSE_SIZE = 'XSMALL' AUTO_SUSPEND = 60 AUTO_RESUME = TRUE INITIALLY_SUSPENDED = TRUE
    COMMENT = 'ClaimFlow merge and views';
GRANT USAGE ON WAREHOUSE {n.warehouse} TO ROLE {r.admin_role};
GRANT USAGE ON WAREHOUSE {n.warehouse} TO ROLE {r.loader_role};
GRANT USAGE ON WAREHOUSE {n.warehouse} TO ROLE {r.analyst_role};
GRANT USAGE ON WAREHOUSE {n.warehouse} TO ROLE {r.monitor_role};
GRANT USAGE ON WAREHOUSE {n.warehouse} TO ROLE {r.governor_role};
{_database_part(n)}
-- No DEFAULT_DDL_COLLATION: Snowpipe Streaming does not support columns with collations, so the tables must not
-- get one (nor inherit one from an account- or database-level DEFAULT_DDL_COLLATION). The merge needs none: a
-- version is fixed-width zero-padded digit fields joined by '.', which sort alike under any collation.
CREATE SCHEMA IF NOT EXISTS {n.database}.{n.schema}
    COMMENT = 'ClaimFlow staging, history, current state, views';
GRANT USAGE ON SCHEMA {n.database}.{n.schema} TO ROLE {r.loader_role};
GRANT USAGE ON SCHEMA {n.database}.{n.schema} TO ROLE {r.analyst_role};
GRANT USAGE ON SCHEMA {n.database}.{n.schema} TO ROLE {r.monitor_role};
GRANT USAGE ON SCHEMA {n.database}.{n.schema} TO ROLE {r.governor_role};
GRANT CREATE TASK ON SCHEMA {n.database}.{n.schema} TO ROLE {r.merger_role};
GRANT CREATE ALERT ON SCHEMA {n.database}.{n.schema} TO ROLE {r.monitor_role};

-- The merge task runs as its owner ({r.merger_role}); the alerts as theirs ({r.monitor_role}).
USE ROLE ACCOUNTADMIN;
GRANT EXECUTE TASK ON ACCOUNT TO ROLE {r.merger_role};
GRANT EXECUTE ALERT ON ACCOUNT TO ROLE {r.monitor_role};

-- Service user for NiFi / Openflow on BYOC: key-pair authentication only (TYPE = SERVICE users cannot have a
-- password). An Openflow runtime on Snowpark Container Services authenticates as its own Snowflake-managed
-- identity instead (grant that runtime's role {r.loader_role}). Generate the key pair (see docs/snowflake.md):
--   openssl genrsa 2048 | openssl pkcs8 -topk8 -v2 aes256 -inform PEM -out rsa_key.p8
--   openssl rsa -in rsa_key.p8 -pubout -out rsa_key.pub
-- and paste the public key body (without the BEGIN/END lines) below before running this statement.
USE ROLE SECURITYADMIN;
CREATE USER IF NOT EXISTS {n.service_user}
    TYPE = SERVICE
    RSA_PUBLIC_KEY = 'REPLACE_WITH_PUBLIC_KEY_BODY'
    DEFAULT_ROLE = {r.merger_role}
    DEFAULT_WAREHOUSE = {n.warehouse}
    DEFAULT_NAMESPACE = {n.database}.{n.schema}
    COMMENT = 'ClaimFlow NiFi/Openflow service user (key-pair auth)';
GRANT ROLE {r.merger_role} TO USER {n.service_user};
"""


def tables_script(n: Names) -> str:
    t = n.tables
    return f"""
{_context(n, n.admin_role)}
-- Staging: insert-only landing of every claim row plus CDC metadata. Consumed by the merge
-- (writer batches delete exactly their own rows in the merge transaction; see docs/snowflake.md).
{staging_table_sql(t)}
-- History: append-only audit trail of every event ever received (never updated, never deleted).
{history_table_sql(t)}
-- Destination: current state, one row per claim; tombstones (isDeleted) and the applied version keep a late,
-- older event from resurrecting or overwriting a claim.
{destination_table_sql(t)}
GRANT INSERT ON TABLE {t.staging} TO ROLE {n.loader_role};
GRANT INSERT ON TABLE {t.history} TO ROLE {n.loader_role};
GRANT SELECT, UPDATE, DELETE ON TABLE {t.staging} TO ROLE {n.merger_role};
GRANT SELECT, INSERT, UPDATE ON TABLE {t.destination} TO ROLE {n.merger_role};
"""


def merge_script(n: Names) -> str:
    t = n.tables
    marker = sql_string(PENDING_CLAIM_MARKER)
    update, insert = upsert_sql(t.destination, t.staging, f"s.{BATCH_ID} = {marker}")
    return f"""
-- Merge: {STRATEGY_NAME}.
-- One-shot merge of every row pending in staging (rows loaded by Snowpipe / PutSnowpipeStreaming carry no
-- batchId). One real transaction: claim the pending rows, merge exactly those, consume exactly those. Rows that
-- arrive while this runs are not claimed (batchId still NULL) and wait for the next run: nothing is lost.
-- The merge is written as UPDATE + INSERT (the same semantics as the MERGE statement of the task in 03, which is
-- the continuous version of this script); the UPDATE's table lock serialises concurrent runs.
{_context(n, n.merger_role)}
BEGIN TRANSACTION;

UPDATE {t.staging} SET {BATCH_ID} = {marker} WHERE {BATCH_ID} IS NULL;

{update};

{insert};

DELETE FROM {t.staging} WHERE {BATCH_ID} = {marker};

COMMIT;
"""


def dynamic_table_sql(n: Names) -> str:
    """The dynamic-table alternative to destination + stream + task (documented, not created by default)."""
    t = n.tables
    return (
        f"CREATE OR REPLACE DYNAMIC TABLE {t.destination}_DT\n"
        f"    TARGET_LAG = '1 minute'\n"
        f"    WAREHOUSE = {n.warehouse}\n"
        f"AS\n"
        f"SELECT h.*, (h.eventName = 'REMOVE') AS {IS_DELETED},\n"
        f"    {version_sql('h')} AS {APPLIED_VERSION}\n"
        f"FROM {t.history} AS h\n"
        f"{dedup_clause('h')};"
    )


def _commented(sql: str) -> str:
    return "\n".join(f"-- {line}".rstrip() for line in sql.splitlines())


def stream_task_script(n: Names) -> str:
    t = n.tables
    return f"""
-- Continuous operation: an append-only stream on staging and a task that merges whatever the stream holds.
-- A single MERGE statement is its own transaction; the stream offset advances only when it commits, so every
-- staged row is merged exactly once (and a re-merge would change nothing: the merge is idempotent).
-- In this mode staging keeps its rows (an insert-only log); prune it by age if needed.
{_context(n, n.admin_role)}
ALTER TABLE {t.staging} SET CHANGE_TRACKING = TRUE;

CREATE STREAM IF NOT EXISTS {n.stream}
    ON TABLE {t.staging}
    APPEND_ONLY = TRUE
    COMMENT = 'ClaimFlow: staged claim rows not merged yet';

GRANT SELECT ON STREAM {n.stream} TO ROLE {n.merger_role};

-- The task is owned by {n.merger_role} so that it reads PHI unmasked and sees every payer's rows.
USE ROLE {n.merger_role};

CREATE OR REPLACE TASK {n.task}
    WAREHOUSE = {n.warehouse}
    SCHEDULE = '1 MINUTE'
    COMMENT = 'ClaimFlow: merge staged claim rows into {t.destination}'
WHEN SYSTEM$STREAM_HAS_DATA('{n.stream}')
AS
{merge_sql(t.destination, n.stream, "s.METADATA$ACTION = 'INSERT'")};

ALTER TASK {n.task} RESUME;

-- Alternative without stream and task: a dynamic table that derives the current state declaratively
-- (Snowflake refreshes it incrementally). It keeps the same ordering key and tombstones, reads history
-- (so staging is not needed), and replaces the destination table and the merge. Not created by default.
--
{_commented(dynamic_table_sql(n))}
"""


# Canonical statuses that mean "not decided yet" (claims engineer's claimStatusCode values).
PENDING_STATUSES = ("SUBMITTED", "RECEIVED", "IN_REVIEW", "PENDING", "PENDED")


# Exact money types of the aggregate views: a sum of NUMBER(12,2) charges needs room to grow; an average cannot
# exceed the largest charge, so it keeps the column's own type.
MONEY_TYPE = next(c.snowflake_type for c in COLUMNS if c.name == "totalCharge")
MONEY_SUM_TYPE = "NUMBER(38,2)"


def first_delivery(alias: str) -> str:
    """QUALIFY clause keeping one row per eventId of the history table: the earliest delivery (ingest, then load
    time). History itself keeps every copy for audit; V_DATA_QUALITY counts the copies."""
    order = f"{alias}.ingestTime, {alias}.{LOADED_AT}"
    return f"QUALIFY ROW_NUMBER() OVER (PARTITION BY {alias}.eventId ORDER BY {order}) = 1"


def views_script(n: Names) -> str:
    t = n.tables
    pending = ", ".join(sql_string(s) for s in PENDING_STATUSES)
    grants = "\n".join(
        [f"GRANT SELECT ON VIEW {v} TO ROLE {n.analyst_role};" for v in ANALYST_VIEWS]
        + [f"GRANT SELECT ON VIEW {v} TO ROLE {n.monitor_role};" for v in MONITOR_VIEWS]
        + [f"GRANT SELECT ON VIEW {v} TO ROLE {n.analyst_role};" for v in quickstart_view_names(n)]
    )
    claim_cols = ",\n    ".join(f"c.{c.name}" for c in COLUMNS if c.group is not Group.CDC or c.name == "eventName")
    return f"""
-- Secure views for analysts. Every view hides tombstones (deleted claims). PHI columns stay masked by the
-- policies in 05 unless the session has {n.phi_reader_role}.
{_context(n, n.admin_role)}
-- Current claims (all claim and enrichment columns; PHI masked by policy).
CREATE OR REPLACE SECURE VIEW V_CLAIMS
COMMENT = 'ClaimFlow: current claims (tombstones hidden)'
AS
SELECT
    {claim_cols},
    c.eventTimeUtc AS lastEventTime,
    c.{MERGED_AT}
FROM {t.destination} AS c
WHERE NOT c.{IS_DELETED};

-- Quickstart view 1: claims by status. Money stays exact: sums and the (rounded) average are cast to NUMBER
-- with 2 decimals (some engines, fakesnow among them, would return a float otherwise).
CREATE OR REPLACE SECURE VIEW V_CLAIMS_SUMMARY
COMMENT = 'ClaimFlow: claim counts and charges by status'
AS
SELECT
    COALESCE(c.claimStatusCode, UPPER(c.claimStatus)) AS claimStatus,
    c.paymentStatus,
    COUNT(*) AS claimCount,
    CAST(SUM(c.totalCharge) AS {MONEY_SUM_TYPE}) AS totalCharges,
    CAST(ROUND(AVG(c.totalCharge), 2) AS {MONEY_TYPE}) AS averageCharge,
    MAX(c.eventTimeUtc) AS lastChangeTime
FROM {t.destination} AS c
WHERE NOT c.{IS_DELETED}
GROUP BY 1, 2;

-- Quickstart view 2: the latest 100 change events of claims that still exist (no PHI columns). History keeps every
-- delivery (Kinesis may deliver a record twice); this view shows each event once, its first delivery.
CREATE OR REPLACE SECURE VIEW V_RECENT_EVENTS
COMMENT = 'ClaimFlow: latest change events of live claims, each event once'
AS
SELECT
    h.eventName,
    h.eventTimeUtc,
    h.eventId,
    h.claimId,
    h.claimStatus,
    h.paymentStatus,
    h.totalCharge,
    h.payerName,
    h.ingestTime
FROM (
    SELECT d.*
    FROM {t.history} AS d
    {first_delivery('d')}
) AS h
JOIN {t.destination} AS c ON c.{KEY_COLUMN} = h.{KEY_COLUMN}
WHERE NOT c.{IS_DELETED}
QUALIFY ROW_NUMBER() OVER (ORDER BY h.eventCreationUnixTime DESC, h.eventId DESC) <= 100;

-- Quickstart view 3: claims not decided yet.
CREATE OR REPLACE SECURE VIEW V_PENDING_CLAIMS
COMMENT = 'ClaimFlow: claims awaiting a decision or payment'
AS
SELECT
    c.claimId,
    COALESCE(c.claimStatusCode, UPPER(c.claimStatus)) AS claimStatus,
    c.paymentStatus,
    c.payerName,
    c.providerName,
    c.totalCharge,
    c.dateOfService,
    c.billSubmitDate,
    c.claimAgeDays
FROM {t.destination} AS c
WHERE NOT c.{IS_DELETED}
  AND (COALESCE(c.claimStatusCode, UPPER(c.claimStatus)) IN ({pending}) OR UPPER(c.paymentStatus) = 'PENDING');

-- Status timeline of each live claim from history: one row per distinct event (first delivery), in version order,
-- so a duplicate delivery never shows a status change twice.
CREATE OR REPLACE SECURE VIEW V_CLAIM_STATUS_TIMELINE
COMMENT = 'ClaimFlow: status changes per claim from the event history'
AS
SELECT
    e.claimId,
    e.eventName,
    e.eventTimeUtc,
    e.eventId,
    e.claimStatus,
    LAG(e.claimStatus) OVER (PARTITION BY e.claimId ORDER BY e.eventVersion) AS previousStatus,
    e.paymentStatus,
    ROW_NUMBER() OVER (PARTITION BY e.claimId ORDER BY e.eventVersion) AS step
FROM (
    SELECT h.*, {version_sql('h')} AS eventVersion
    FROM {t.history} AS h
    {first_delivery('h')}
) AS e
JOIN {t.destination} AS c ON c.{KEY_COLUMN} = e.{KEY_COLUMN}
WHERE NOT c.{IS_DELETED};

-- Data quality over the whole history: duplicates, late events, flagged and incomplete rows.
--   duplicateEventCopies: extra copies of one eventId; duplicateClaimVersions: extra rows with the same claim and
--   version under another eventId; lateEvents: events that arrived (ingestTime) after a newer event of the same
--   claim had been received (the merge ignored them if that newer one was applied); flaggedEvents: rows with
--   data-quality flags; invalidEvents: INSERT/MODIFY rows missing a charge, date of service or payer;
--   eventsWithExtraAttributes: rows whose item had attributes outside the claim schema (kept in extraAttributes,
--   read from the unmasked flags: the column itself is masked for this view's readers).
CREATE OR REPLACE SECURE VIEW V_DATA_QUALITY
COMMENT = 'ClaimFlow: duplicate, late, flagged and incomplete events'
AS
SELECT
    COUNT(*) AS eventsTotal,
    COUNT(DISTINCT q.eventId) AS distinctEvents,
    COUNT(*) - COUNT(DISTINCT q.eventId) AS duplicateEventCopies,
    COUNT(DISTINCT q.eventId) - COUNT(DISTINCT q.claimId || '|' || q.eventVersion) AS duplicateClaimVersions,
    COUNT_IF(q.newestBefore IS NOT NULL AND q.newestBefore > q.eventVersion) AS lateEvents,
    COUNT_IF(COALESCE(ARRAY_SIZE(q.dataQualityFlags), 0) > 0) AS flaggedEvents,
    COUNT_IF(q.eventName <> 'REMOVE'
             AND (q.totalCharge IS NULL OR q.dateOfService IS NULL OR q.payerId IS NULL)) AS invalidEvents,
    COUNT_IF(TO_JSON(q.dataQualityFlags) LIKE '%"UNKNOWN_FIELDS:%') AS eventsWithExtraAttributes
FROM (
    SELECT
        v.*,
        MAX(v.eventVersion) OVER (
            PARTITION BY v.claimId ORDER BY v.ingestTime, v.eventVersion
            ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING
        ) AS newestBefore
    FROM (
        SELECT h.*, {version_sql('h')} AS eventVersion
        FROM {t.history} AS h
    ) AS v
) AS q;

-- Pipeline lag per hour of ingest: source change -> ClaimFlow ingest -> Snowflake load.
CREATE OR REPLACE SECURE VIEW V_PIPELINE_LAG
COMMENT = 'ClaimFlow: latency from the DynamoDB change to ingest and load'
AS
SELECT
    DATE_TRUNC('HOUR', h.ingestTime) AS ingestHour,
    COUNT(*) AS events,
    AVG(DATEDIFF('millisecond', h.eventTimeUtc, h.ingestTime)) AS avgEventToIngestMs,
    MAX(DATEDIFF('millisecond', h.eventTimeUtc, h.ingestTime)) AS maxEventToIngestMs,
    APPROX_PERCENTILE(DATEDIFF('millisecond', h.eventTimeUtc, h.ingestTime), 0.95) AS p95EventToIngestMs,
    AVG(DATEDIFF('millisecond', h.eventTimeUtc, h.kinesisArrivalTime)) AS avgEventToKinesisMs,
    MAX(DATEDIFF('millisecond', h.ingestTime, h.{LOADED_AT})) AS maxIngestToLoadMs
FROM {t.history} AS h
GROUP BY 1;

-- Data quality per hour of ingest (the alerts' thresholds read it): flagged and incomplete events, extra copies.
CREATE OR REPLACE SECURE VIEW V_DATA_QUALITY_HOURLY
COMMENT = 'ClaimFlow: flagged, incomplete and duplicate events per ingest hour'
AS
SELECT
    DATE_TRUNC('HOUR', h.ingestTime) AS ingestHour,
    COUNT(*) AS events,
    COUNT(*) - COUNT(DISTINCT h.eventId) AS duplicateEventCopies,
    COUNT_IF(COALESCE(ARRAY_SIZE(h.dataQualityFlags), 0) > 0) AS flaggedEvents,
    COUNT_IF(h.eventName <> 'REMOVE'
             AND (h.totalCharge IS NULL OR h.dateOfService IS NULL OR h.payerId IS NULL)) AS invalidEvents
FROM {t.history} AS h
GROUP BY 1;
{quickstart_views_sql(n)}
{grants}
"""


# Who reads which view: analysts the claim views (PHI masked); the monitor role the pipeline-health views, which
# need exact event and load times (masked for analysts, so those views would mean nothing to them).
ANALYST_VIEWS = ("V_CLAIMS", "V_CLAIMS_SUMMARY", "V_RECENT_EVENTS", "V_PENDING_CLAIMS", "V_CLAIM_STATUS_TIMELINE")
MONITOR_VIEWS = ("V_DATA_QUALITY", "V_PIPELINE_LAG", "V_DATA_QUALITY_HOURLY")
ALL_VIEWS = ANALYST_VIEWS + MONITOR_VIEWS

# The quickstart's tables, as compatibility views over ClaimFlow's (for dashboards that query those names).
QUICKSTART_VIEWS = {
    "OPENFLOW_INSCLAIM_DEST_TBL": "destination",
    "OPENFLOW_INSCLAIM_EVENT_HIST_TBL": "history",
    "OPENFLOW_INSCLAIM_CDC_TBL": "staging",
}
# The quickstart's 32 columns: the claim columns it had, after its two CDC columns.
QUICKSTART_COLUMNS: tuple[str, ...] = (
    "eventName",
    "eventCreationUnixTime",
    *(c.name for c in COLUMNS if c.in_quickstart),
)


def quickstart_view_names(n: Names) -> tuple[str, ...]:
    return tuple(QUICKSTART_VIEWS) if n.quickstart_views else ()


def quickstart_views_sql(n: Names) -> str:
    """Views named like the quickstart's tables, with its 32 columns (ClaimFlow's exact types: NUMBER(12,2) money,
    VARCHAR ZIP codes; eventCreationUnixTime as the quickstart's string). Tombstones hidden; events once each."""
    if not n.quickstart_views:
        return ""
    t = n.tables
    cols = ",\n    ".join(
        "TO_VARCHAR(x.eventCreationUnixTime) AS eventCreationUnixTime" if c == "eventCreationUnixTime" else f"x.{c}"
        for c in QUICKSTART_COLUMNS
    )
    sources = {
        "destination": f"{t.destination} AS x\nWHERE NOT x.{IS_DELETED}",
        "history": f"(\n    SELECT d.* FROM {t.history} AS d\n    {first_delivery('d')}\n) AS x",
        "staging": f"{t.staging} AS x",
    }
    parts = ["\n-- Compatibility views named like the quickstart's tables (generated with --quickstart-views)."]
    for view, table in QUICKSTART_VIEWS.items():
        parts.append(
            f"CREATE OR REPLACE SECURE VIEW {view}\nCOMMENT = 'ClaimFlow: the quickstart''s {view.lower()} columns'\n"
            f"AS\nSELECT\n    {cols}\nFROM {sources[table]};"
        )
    return "\n\n".join(parts) + "\n"


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


def _masking_policy(col: Column | ExtraColumn) -> str | None:
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
        f"ALTER TABLE {fq}.{table} MODIFY COLUMN {col.name} SET MASKING POLICY {n.gov}.{_masking_policy(col)} FORCE;"
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


def audit_script(n: Names) -> str:
    phi_upper = ", ".join(sql_string(c.name.upper()) for c in phi_columns())
    prefix = sql_string(f"{n.database}.{n.schema}.%")
    return f"""
-- Audit queries (read-only; ACCOUNT_USAGE views lag up to ~3 hours and need a role granted
-- IMPORTED PRIVILEGES on the SNOWFLAKE database, e.g. ACCOUNTADMIN).
USE ROLE ACCOUNTADMIN;

-- Who read PHI columns of ClaimFlow objects in the last 7 days (through views too: base objects).
SELECT
    ah.query_start_time,
    ah.user_name,
    obj.value:"objectName"::VARCHAR AS object_name,
    col.value:"columnName"::VARCHAR AS column_name,
    ah.query_id
FROM SNOWFLAKE.ACCOUNT_USAGE.ACCESS_HISTORY AS ah,
    LATERAL FLATTEN(INPUT => ah.base_objects_accessed) AS obj,
    LATERAL FLATTEN(INPUT => obj.value:"columns") AS col
WHERE ah.query_start_time >= DATEADD('day', -7, CURRENT_TIMESTAMP())
  AND obj.value:"objectName"::VARCHAR ILIKE {prefix}
  AND col.value:"columnName"::VARCHAR IN ({phi_upper})
ORDER BY ah.query_start_time DESC;

-- Who wrote to the ClaimFlow tables in the last 7 days.
SELECT
    ah.query_start_time,
    ah.user_name,
    obj.value:"objectName"::VARCHAR AS object_name,
    ah.query_id
FROM SNOWFLAKE.ACCOUNT_USAGE.ACCESS_HISTORY AS ah,
    LATERAL FLATTEN(INPUT => ah.objects_modified) AS obj
WHERE ah.query_start_time >= DATEADD('day', -7, CURRENT_TIMESTAMP())
  AND obj.value:"objectName"::VARCHAR ILIKE {prefix}
ORDER BY ah.query_start_time DESC;

-- Which columns carry the PHI tag.
SELECT object_database, object_schema, object_name, column_name, tag_value
FROM SNOWFLAKE.ACCOUNT_USAGE.TAG_REFERENCES
WHERE tag_name = '{n.phi_tag}' AND object_database = '{n.database}' AND object_deleted IS NULL
ORDER BY object_name, column_name;

-- Which policies protect the current-state table.
SELECT policy_name, policy_kind, ref_column_name, policy_status
FROM TABLE({n.database}.INFORMATION_SCHEMA.POLICY_REFERENCES(
    REF_ENTITY_NAME => '{n.database}.{n.schema}.{n.tables.destination}', REF_ENTITY_DOMAIN => 'table'));

-- The merge task's recent runs.
SELECT name, state, scheduled_time, completed_time, error_message
FROM TABLE({n.database}.INFORMATION_SCHEMA.TASK_HISTORY(TASK_NAME => '{n.task}'))
ORDER BY scheduled_time DESC
LIMIT 20;
"""


# Alert thresholds (edit and regenerate, or ALTER ALERT in the account).
ALERT_SCHEDULE = "5 MINUTE"
LAG_ALERT_MS = 15 * 60 * 1000  # event -> ingest or ingest -> load slower than 15 minutes in the last hour
INVALID_ALERT_EVENTS = 10  # flagged or incomplete events landed in the last hour
ALERT_RECIPIENT = "claimflow-oncall@example.org"  # placeholder: must be a verified e-mail of a user in the account


def _alert(n: Names, name: str, condition: str, subject: str, body: str) -> str:
    send = (
        f"CALL SYSTEM$SEND_EMAIL({sql_string(n.notification_integration)}, {sql_string(ALERT_RECIPIENT)}, "
        f"{sql_string(subject)}, {sql_string(body)})"
    )
    return (
        f"CREATE OR REPLACE ALERT {name}\n"
        f"    WAREHOUSE = {n.warehouse}\n"
        f"    SCHEDULE = {sql_string(ALERT_SCHEDULE)}\n"
        f"    IF (EXISTS (\n{condition}\n    ))\n"
        f"    THEN {send};\n"
        f"ALTER ALERT {name} RESUME;"
    )


ALERTS = ("CLAIMFLOW_MERGE_TASK_FAILED", "CLAIMFLOW_PIPELINE_LAG", "CLAIMFLOW_INVALID_EVENTS")


def alerts_script(n: Names) -> str:
    since = "SNOWFLAKE.ALERT.LAST_SUCCESSFUL_SCHEDULED_TIME()"
    task_failed = (
        f"        SELECT 1 FROM TABLE({n.database}.INFORMATION_SCHEMA.TASK_HISTORY(\n"
        f"            TASK_NAME => {sql_string(n.task)},\n"
        f"            SCHEDULED_TIME_RANGE_START => COALESCE({since}, DATEADD('hour', -1, CURRENT_TIMESTAMP())),\n"
        f"            SCHEDULED_TIME_RANGE_END => SNOWFLAKE.ALERT.SCHEDULED_TIME()))\n"
        f"        WHERE STATE IN ('FAILED', 'FAILED_AND_AUTO_SUSPENDED')"
    )
    lag = (
        f"        SELECT 1 FROM V_PIPELINE_LAG\n"
        f"        WHERE ingestHour >= DATEADD('hour', -1, DATE_TRUNC('HOUR', SYSDATE()))\n"
        f"          AND (maxEventToIngestMs > {LAG_ALERT_MS} OR maxIngestToLoadMs > {LAG_ALERT_MS})"
    )
    invalid = (
        f"        SELECT 1 FROM V_DATA_QUALITY_HOURLY\n"
        f"        WHERE ingestHour >= DATEADD('hour', -1, DATE_TRUNC('HOUR', SYSDATE()))\n"
        f"        GROUP BY ingestHour\n"
        f"        HAVING SUM(flaggedEvents + invalidEvents) > {INVALID_ALERT_EVENTS}"
    )
    return f"""
-- Alerts: the merge task failed, the pipeline lags, bad events pile up. Owned by {n.monitor_role} (sees exact
-- event/load times and the task's history, no other PHI); messages carry no data values.
-- PLACEHOLDER: the notification integration and the recipient ({ALERT_RECIPIENT}) must be replaced with a real,
-- verified address (or use a webhook/queue integration) before this runs in an account.
-- NiFi's own dead letter (the invalid/failure queues) never reaches Snowflake: alert on it in NiFi/Openflow
-- (queue back-pressure, bulletins) and in CloudWatch (infra/).
USE ROLE ACCOUNTADMIN;
CREATE NOTIFICATION INTEGRATION IF NOT EXISTS {n.notification_integration}
    TYPE = EMAIL
    ENABLED = TRUE
    ALLOWED_RECIPIENTS = ({sql_string(ALERT_RECIPIENT)})
    COMMENT = 'ClaimFlow alerts (placeholder recipient)';
GRANT USAGE ON INTEGRATION {n.notification_integration} TO ROLE {n.monitor_role};

-- The task's history is visible to roles with MONITOR on it.
USE ROLE {n.merger_role};
GRANT MONITOR ON TASK {n.database}.{n.schema}.{n.task} TO ROLE {n.monitor_role};

USE ROLE {n.monitor_role};
USE WAREHOUSE {n.warehouse};
USE SCHEMA {n.database}.{n.schema};

-- The merge task failed (any run since the last check).
{_alert(n, ALERTS[0], task_failed, "ClaimFlow: merge task failed",
        f"{n.task} failed; see TASK_HISTORY (sql/06_audit_queries.sql).")}

-- Lag: a change took more than {LAG_ALERT_MS // 60000} minutes to reach ClaimFlow or Snowflake in the last hour.
{_alert(n, ALERTS[1], lag, "ClaimFlow: pipeline lag",
        f"event-to-ingest or ingest-to-load above {LAG_ALERT_MS // 60000} minutes; see V_PIPELINE_LAG.")}

-- Bad events: more than {INVALID_ALERT_EVENTS} flagged or incomplete events landed in the last hour.
{_alert(n, ALERTS[2], invalid, "ClaimFlow: invalid events",
        f"more than {INVALID_ALERT_EVENTS} flagged or incomplete events in an hour; see V_DATA_QUALITY_HOURLY.")}
"""


def teardown_script(n: Names) -> str:
    alerts = "\n".join(f"ALTER ALERT IF EXISTS {n.database}.{n.schema}.{a} SUSPEND;" for a in ALERTS)
    if n.existing_database_owner is None:
        drop = f"USE ROLE {n.admin_role};\nDROP DATABASE IF EXISTS {n.database};"
    else:  # never drop a database ClaimFlow did not create: only its own schemas
        drop = (
            f"USE ROLE {n.governor_role};\nDROP SCHEMA IF EXISTS {n.gov};\n"
            f"USE ROLE {n.admin_role};\nDROP SCHEMA IF EXISTS {n.database}.{n.schema};"
        )
    return f"""
-- Teardown: removes everything the scripts created (the data too). Irreversible after Time Travel expires.
USE ROLE {n.monitor_role};
{alerts}
USE ROLE {n.merger_role};
ALTER TASK IF EXISTS {n.database}.{n.schema}.{n.task} SUSPEND;
{drop}
USE ROLE SYSADMIN;
DROP WAREHOUSE IF EXISTS {n.warehouse};
USE ROLE ACCOUNTADMIN;
DROP INTEGRATION IF EXISTS {n.notification_integration};
USE ROLE SECURITYADMIN;
DROP USER IF EXISTS {n.service_user};
DROP ROLE IF EXISTS {n.phi_reader_role};
DROP ROLE IF EXISTS {n.analyst_role};
DROP ROLE IF EXISTS {n.merger_role};
DROP ROLE IF EXISTS {n.loader_role};
DROP ROLE IF EXISTS {n.monitor_role};
DROP ROLE IF EXISTS {n.governor_role};
DROP ROLE IF EXISTS {n.admin_role};
"""


SCRIPTS = {
    "00_setup.sql": setup_script,
    "01_tables.sql": tables_script,
    "02_merge.sql": merge_script,
    "03_stream_task.sql": stream_task_script,
    "04_views.sql": views_script,
    "05_governance.sql": governance_script,
    "06_audit_queries.sql": audit_script,
    "07_alerts.sql": alerts_script,
    "99_teardown.sql": teardown_script,
}

# Scripts that build the schema, in order (without the account-level setup, the audit queries and the teardown).
SCHEMA_SCRIPTS = (
    "01_tables.sql", "02_merge.sql", "03_stream_task.sql", "04_views.sql", "05_governance.sql", "07_alerts.sql"
)
# What an emulator (fakesnow) runs to build everything from scratch: the account setup too (it creates the
# database and schema; the account-level statements are reported as not executed).
EMULATOR_SCRIPTS = ("00_setup.sql", *SCHEMA_SCRIPTS)


def render_scripts(names: Names = DEFAULT_NAMES) -> dict[str, str]:
    """File name -> full text of every script under sql/."""
    out = {}
    for file_name, build in SCRIPTS.items():
        body = build(names).strip("\n")
        body = re.sub(r"\n{3,}", "\n\n", body)
        out[file_name] = _HEADER.format(name=file_name) + "\n" + body + "\n"
    return out


def drift(directory: Path, names: Names = DEFAULT_NAMES) -> list[str]:
    """Names of scripts in ``directory`` that differ from (or are missing against) the generated text."""
    return [
        file_name
        for file_name, text in render_scripts(names).items()
        if not (directory / file_name).is_file() or (directory / file_name).read_text(encoding="utf-8") != text
    ]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m claimflow.snowflake",
        description=__doc__.splitlines()[0],
        epilog="Quickstart users: --database CDC_DB --existing-database-owner CDC_RL --warehouse CDC_WH "
        "--quickstart-views (see docs/snowflake.md).",
    )
    mode = parser.add_mutually_exclusive_group(required=True)
    mode.add_argument("--write", type=Path, metavar="DIR", help="write the scripts into DIR")
    mode.add_argument("--check", type=Path, metavar="DIR", help="exit 1 if a script in DIR differs")
    d, t = DEFAULT_NAMES, DEFAULT_NAMES.tables
    parser.add_argument("--database", default=d.database, help=f"database (default {d.database})")
    parser.add_argument("--schema", default=d.schema, help=f"schema of the tables and views (default {d.schema})")
    parser.add_argument("--warehouse", default=d.warehouse, help=f"warehouse (default {d.warehouse})")
    parser.add_argument("--staging-table", default=t.staging, help=f"default {t.staging}")
    parser.add_argument("--history-table", default=t.history, help=f"default {t.history}")
    parser.add_argument("--destination-table", default=t.destination, help=f"current state (default {t.destination})")
    parser.add_argument(
        "--existing-database-owner", metavar="ROLE", default=None,
        help="the database already exists and ROLE owns it: never create it or take its ownership; ROLE issues "
        "the grants on it (the quickstart: CDC_RL)",
    )
    parser.add_argument(
        "--quickstart-views", action="store_true",
        help="also create views named like the quickstart's tables (OPENFLOW_INSCLAIM_DEST_TBL, "
        "OPENFLOW_INSCLAIM_EVENT_HIST_TBL, OPENFLOW_INSCLAIM_CDC_TBL)",
    )  # fmt: skip
    args = parser.parse_args(argv)
    try:
        names = Names(
            database=args.database,
            schema=args.schema,
            warehouse=args.warehouse,
            tables=TableNames(args.staging_table, args.history_table, args.destination_table),
            existing_database_owner=args.existing_database_owner,
            quickstart_views=args.quickstart_views,
        )
    except InvalidIdentifier as error:
        parser.error(str(error))
    if args.write:
        args.write.mkdir(parents=True, exist_ok=True)
        for file_name, text in render_scripts(names).items():
            (args.write / file_name).write_text(text, encoding="utf-8")
        return 0
    stale = drift(args.check, names)
    for file_name in stale:
        print(f"{file_name}: differs from the generated text", file=sys.stderr)
    return 1 if stale else 0


if __name__ == "__main__":
    raise SystemExit(main())
