"""The embedded Snowflake emulator (fakesnow on DuckDB) made fast enough for large demo runs.

Two costs dominated a batch on fakesnow, neither of them the project's SQL itself:

1. **Translation.** fakesnow parses and rewrites every statement with sqlglot on every ``execute``, about 60 ms for
   each of the sink's big statements, per batch (and for each of the reconciliation's reads by claim id). The
   statements never change (only their bound parameters do), so
   ``install_statement_cache`` keeps fakesnow's own translation of each parameterised DML text and runs the cached
   translation again. The SQL that runs is still exactly what fakesnow makes of the project's statement.
2. **Staging by JSON.** The sink stages a batch as one bound JSON array flattened by ``PARSE_JSON``/``FLATTEN`` and
   60 ``value:"col"::TYPE`` casts; on DuckDB that is about 0.4 ms per row and holds the parsed JSON in memory.
   ``DuckDBStager`` loads the batch as an Arrow table (DuckDB's native bulk path) and inserts it into the staging
   table with one ``CAST`` per column to the column's own type. History, merge and consume then run as the
   project's SQL. ``tests/demo`` checks that both ways stage identical rows.

Only the embedded emulator is changed; a real Snowflake connection is left alone.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence
from typing import Any

import orjson

from claimflow import rows
from claimflow.snowflake.spec import DEFAULT_TABLES, TableNames

_CACHED_COMMANDS = ("INSERT", "UPDATE", "DELETE", "SELECT")
_lock = threading.Lock()


def install_statement_cache() -> None:
    """Make fakesnow translate each parameterised INSERT/UPDATE/DELETE/SELECT text once and reuse the translation.

    Only statements with bound parameters are cached (the sink's, and the reconciliation's reads of the current
    table by claim id); DDL, transaction control and anything without parameters take fakesnow's normal path.
    Idempotent.
    """
    from fakesnow.cursor import FakeSnowflakeCursor

    if getattr(FakeSnowflakeCursor.execute, "claimflow_cache", False):
        return
    import sqlglot.expressions as exp
    from fakesnow.dialect import parse_one

    original = FakeSnowflakeCursor.execute
    cache: dict[str, list[tuple[Any, bool]]] = {}

    def execute(self: Any, command: str, params: Any = None, *args: Any, **kwargs: Any) -> Any:
        if params is None or args or kwargs or command.lstrip()[:6].upper() not in _CACHED_COMMANDS:
            return original(self, command, params, *args, **kwargs)
        statements = cache.get(command)
        if statements is None:
            # What fakesnow's execute does for such a statement, minus the repetition (see its execute()).
            expression = parse_one(command)
            self.check_db_and_schema(expression)
            statements = []
            for statement in self._transform_explode(expression):
                transformed = self._transform(statement, None)
                statements.append((transformed, transformed.find(exp.Placeholder) is not None))
            with _lock:
                cache[command] = statements
        bound = list(params)
        for transformed, has_placeholders in statements:
            self._execute(transformed, bound if has_placeholders else None)
        return self

    execute.claimflow_cache = True  # type: ignore[attr-defined]
    execute.original = original  # type: ignore[attr-defined]
    FakeSnowflakeCursor.execute = execute  # type: ignore[method-assign]


def uninstall_statement_cache() -> None:
    from fakesnow.cursor import FakeSnowflakeCursor

    original = getattr(FakeSnowflakeCursor.execute, "original", None)
    if original is not None:
        FakeSnowflakeCursor.execute = original  # type: ignore[method-assign]


_ARROW_NATIVE = {rows.Kind.VARCHAR: "string", rows.Kind.INTEGER: "int64", rows.Kind.BOOLEAN: "bool"}
_JSON_KINDS = frozenset({rows.Kind.STRING_ARRAY, rows.Kind.PROCEDURES, rows.Kind.ATTRIBUTES})
_VIEW = "claimflow_staging_batch"


class DuckDBStager:
    """Stages a batch of claim rows into the emulator's staging table through DuckDB's Arrow bulk path.

    Use as ``SnowflakeSink(connection, stage_rows=DuckDBStager(connection))``; the sink calls it inside its
    transaction, on the same DuckDB connection, in place of the JSON ``INSERT``.
    """

    def __init__(self, connection: Any, tables: TableNames = DEFAULT_TABLES) -> None:
        self._duck = connection._duck_conn
        self._staging = tables.staging
        types = self._column_types()
        casts = []
        for column in rows.COLUMNS:
            target = types[column.name.upper()]
            casts.append(f'CAST("{column.name}" AS {target})')
        names = ", ".join(rows.COLUMN_NAMES)
        self._sql = (
            f"INSERT INTO {self._staging} ({names}, batchId, stagedAt) "
            f"SELECT {', '.join(casts)}, ?, CAST(CURRENT_TIMESTAMP AT TIME ZONE 'UTC' AS TIMESTAMP) FROM {_VIEW}"
        )

    def _column_types(self) -> dict[str, str]:
        found = self._duck.execute(
            "SELECT upper(column_name), data_type FROM information_schema.columns "
            "WHERE upper(table_name) = upper(?) AND table_schema = current_schema()",
            [self._staging.split(".")[-1]],
        ).fetchall()
        types = {str(name): str(kind) for name, kind in found}
        missing = [c.name for c in rows.COLUMNS if c.name.upper() not in types]
        if missing:
            raise RuntimeError(f"{self._staging} has no column(s) {', '.join(missing)}")
        return types

    def arrow_batch(self, batch: Sequence[Mapping[str, Any]]) -> Any:
        import pyarrow as pa

        arrays = {}
        for column in rows.COLUMNS:
            values = [row.get(column.name) for row in batch]
            if column.kind in _JSON_KINDS:
                values = [None if v is None else orjson.dumps(v).decode() for v in values]
                arrays[column.name] = pa.array(values, type=pa.string())
            elif column.kind in _ARROW_NATIVE:
                arrays[column.name] = pa.array(values, type=_ARROW_NATIVE[column.kind])
            else:  # dates, timestamps, decimals: the row's text, cast by DuckDB to the column's type
                arrays[column.name] = pa.array([None if v is None else str(v) for v in values], type=pa.string())
        return pa.table(arrays)

    def __call__(self, cursor: Any, batch_id: str, batch: Sequence[Mapping[str, Any]]) -> int:
        table = self.arrow_batch(batch)
        self._duck.register(_VIEW, table)
        try:
            self._duck.execute(self._sql, [batch_id])
            (count,) = self._duck.fetchone() or (0,)
        finally:
            self._duck.unregister(_VIEW)
        return int(count)
