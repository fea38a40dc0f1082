"""ClaimFlow's Snowflake side: DDL generated from rows.COLUMNS, the merge semantics, the connector writer.

- ``claimflow.snowflake.spec``: the merge semantics ("versioned upsert with tombstones") and the pure-Python
  reference ``apply_events``.
- ``claimflow.snowflake.ddl``: every script under sql/ (``python -m claimflow.snowflake --write sql``), built from
  ``naming`` (object names), ``tables`` (table shapes and the loading SQL), ``merge_sql`` (the merge's one home),
  ``views``, ``governance`` (masking, row access, PHI tags) and ``monitoring`` (audit queries, alerts).
- ``claimflow.snowflake.connector``: ``SnowflakeSink`` (one transaction per batch) and ``apply_sql_scripts``.
- ``claimflow.snowflake.snowpark_merge``: the same merge with the Snowpark DataFrame API (imported lazily: it needs
  the ``snowflake`` extra).
"""

from claimflow.snowflake.connector import (
    BatchResult,
    NotExecuted,
    ScriptReport,
    SnowflakeSink,
    apply_generated_scripts,
    apply_sql_scripts,
    apply_sql_texts,
    fetch_current_state,
    split_statements,
    table_counts,
)
from claimflow.snowflake.ddl import EMULATOR_SCRIPTS, SCHEMA_SCRIPTS, render_scripts
from claimflow.snowflake.naming import DEFAULT_NAMES, Names
from claimflow.snowflake.spec import (
    DEFAULT_TABLES,
    STRATEGY_NAME,
    InvalidRow,
    TableNames,
    apply_events,
    event_version,
    latest_per_claim,
    merge_batch,
)

__all__ = [
    "DEFAULT_NAMES",
    "DEFAULT_TABLES",
    "EMULATOR_SCRIPTS",
    "SCHEMA_SCRIPTS",
    "STRATEGY_NAME",
    "BatchResult",
    "InvalidRow",
    "Names",
    "NotExecuted",
    "ScriptReport",
    "SnowflakeSink",
    "TableNames",
    "apply_events",
    "apply_generated_scripts",
    "apply_sql_scripts",
    "apply_sql_texts",
    "event_version",
    "fetch_current_state",
    "latest_per_claim",
    "merge_batch",
    "render_scripts",
    "split_statements",
    "table_counts",
]
