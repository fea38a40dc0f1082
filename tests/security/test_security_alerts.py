"""Alerts on the Snowflake side (issue 12, point 6): merge task failures from TASK_HISTORY, lag and bad-event
thresholds from the views, owned by the monitor role, sent through the placeholder integration, no data values."""

from __future__ import annotations

import re

import sqlglot

from claimflow.snowflake import ddl
from claimflow.snowflake.connector import split_statements
from claimflow.snowflake.naming import DEFAULT_NAMES

NAMES = DEFAULT_NAMES
ALERT = re.compile(r"CREATE OR REPLACE ALERT (\w+)\b.*?\bIF \(EXISTS \((.*)\)\)\s+THEN (CALL .*)\Z", re.S)


def _alerts() -> dict[str, tuple[str | None, str, str]]:
    """Alert name -> (role in effect, condition query, action)."""
    role, found = None, {}
    for statement in split_statements(ddl.render_scripts(NAMES)["07_alerts.sql"]):
        use = re.match(r"USE ROLE (\w+)\Z", statement)
        role = use.group(1) if use else role
        alert = ALERT.match(statement)
        if alert:
            found[alert.group(1)] = (role, alert.group(2).strip(), alert.group(3))
    return found


def test_three_alerts_watch_task_failures_lag_and_bad_events() -> None:
    alerts = _alerts()
    sources = {"MERGE_TASK_FAILED": "TASK_HISTORY", "PIPELINE_LAG": "V_PIPELINE_LAG",
               "INVALID_EVENTS": "V_DATA_QUALITY_HOURLY"}  # fmt: skip
    assert {name.removeprefix("CLAIMFLOW_") for name in alerts} == set(sources)
    views = ddl.render_scripts(NAMES)["04_views.sql"]
    for name, (role, condition, action) in alerts.items():
        source = sources[name.removeprefix("CLAIMFLOW_")]
        assert role == NAMES.monitor_role, name
        assert source in condition, name
        sqlglot.parse_one(condition, read="snowflake")  # the condition is one valid query
        if source.startswith("V_"):  # the columns the threshold reads are the view's
            view = re.search(rf"CREATE OR REPLACE SECURE VIEW {source}\b.*?;", views, re.S | re.I)
            assert view, source
            for column in re.findall(r"\b(ingestHour|max\w+Ms|flaggedEvents|invalidEvents)\b", condition):
                assert column in view.group(0), (name, column)
        # The message is literals only: no column or expression could put a value into an e-mail.
        call = sqlglot.parse_one(action.removeprefix("CALL "), read="snowflake")
        assert len(call.expressions) == 4, name  # integration, recipient, subject, body
        assert all(isinstance(arg, sqlglot.exp.Literal) for arg in call.expressions), name
        assert "'CLAIMFLOW_ALERTS'" in action, name
    text = ddl.render_scripts(NAMES)["07_alerts.sql"]
    assert len(re.findall(r"ALTER ALERT \w+ RESUME", text)) == len(alerts)  # created suspended, then resumed
    assert "PLACEHOLDER" in text  # the integration's recipient must be replaced before use
