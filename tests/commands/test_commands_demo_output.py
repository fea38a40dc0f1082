"""The demo names what it skipped and says which claimStatus vocabulary each printed view holds."""

from __future__ import annotations

import re
from pathlib import Path

from claimflow.commands.demo import STATUS_COLUMN_LABELS, column_label, skipped_line

VIEWS_SQL = Path(__file__).resolve().parents[2] / "sql" / "04_views.sql"


def test_skipped_statements_are_named_by_kind_with_their_scripts() -> None:
    entries = [
        "05_governance.sql#3 ALTER TABLE", "05_governance.sql#4 ALTER TABLE", "03_stream_task.sql#1 ALTER TABLE",
        "01_tables.sql#9 GRANT", "04_views.sql#12 GRANT", "03_stream_task.sql#2 CREATE TASK",
    ]
    assert skipped_line(entries) == (
        "skipped (the emulator cannot run them; meant for a real account, see docs/snowflake.md): 6 sql/ statements: "
        "3 ALTER TABLE (03_stream_task, 05_governance), 2 GRANT (01_tables, 04_views), 1 CREATE TASK (03_stream_task)"
    )


def test_status_columns_are_labelled_by_view() -> None:
    assert column_label("Claims summary (V_CLAIMS_SUMMARY)", "CLAIMSTATUS") == "CLAIMSTATUS (code)"
    assert column_label("Recent events (latest 10) (V_RECENT_EVENTS)", "CLAIMSTATUS") == "CLAIMSTATUS (as written)"
    assert column_label("Recent events (latest 10) (V_RECENT_EVENTS)", "PAYMENTSTATUS") == "PAYMENTSTATUS"
    assert column_label("Something else (V_OTHER)", "CLAIMSTATUS") == "CLAIMSTATUS"


def test_the_labels_match_what_the_views_select() -> None:
    """When sql/04_views.sql gives the views one vocabulary, this fails: drop the labels then."""
    sql = VIEWS_SQL.read_text(encoding="utf-8")
    for view, label in STATUS_COLUMN_LABELS.items():
        body = re.search(rf"VIEW {view}\b.*?;", sql, re.S)
        assert body, view
        selects_code = re.search(r"COALESCE\(\w+\.claimStatusCode, UPPER\(\w+\.claimStatus\)\) AS claimStatus",
                                 body.group(0))
        assert bool(selects_code) == label.endswith("(code)"), view
        if not selects_code:
            assert re.search(r"^\s+\w+\.claimStatus,$", body.group(0), re.M), view
