"""Scripts 06 and 07: the audit queries (who read PHI, who wrote, tags, policies, task runs) and the alerts."""

from __future__ import annotations

from claimflow.snowflake.governance import phi_columns
from claimflow.snowflake.merge_sql import sql_string
from claimflow.snowflake.naming import Names


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
{
        _alert(
            n,
            ALERTS[0],
            task_failed,
            "ClaimFlow: merge task failed",
            f"{n.task} failed; see TASK_HISTORY (sql/06_audit_queries.sql).",
        )
    }

-- Lag: a change took more than {LAG_ALERT_MS // 60000} minutes to reach ClaimFlow or Snowflake in the last hour.
{
        _alert(
            n,
            ALERTS[1],
            lag,
            "ClaimFlow: pipeline lag",
            f"event-to-ingest or ingest-to-load above {LAG_ALERT_MS // 60000} minutes; see V_PIPELINE_LAG.",
        )
    }

-- Bad events: more than {INVALID_ALERT_EVENTS} flagged or incomplete events landed in the last hour.
{
        _alert(
            n,
            ALERTS[2],
            invalid,
            "ClaimFlow: invalid events",
            f"more than {INVALID_ALERT_EVENTS} flagged or incomplete events in an hour; see V_DATA_QUALITY_HOURLY.",
        )
    }
"""
