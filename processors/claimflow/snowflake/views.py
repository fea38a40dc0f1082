"""Script 04: the secure views analysts and the monitor role read, and the quickstart's compatibility views."""

from __future__ import annotations

from claimflow.rows import COLUMNS, Group
from claimflow.snowflake.merge_sql import sql_string, version_sql
from claimflow.snowflake.naming import Names
from claimflow.snowflake.spec import IS_DELETED, KEY_COLUMN, LOADED_AT, MERGED_AT

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
{n.context(n.admin_role)}
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
    {first_delivery("d")}
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
    SELECT h.*, {version_sql("h")} AS eventVersion
    FROM {t.history} AS h
    {first_delivery("h")}
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
        SELECT h.*, {version_sql("h")} AS eventVersion
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
