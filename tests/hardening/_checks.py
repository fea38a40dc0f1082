"""What real Snowflake would refuse in a row that the emulators accept: a value wider than its DDL column."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from claimflow.rows import COLUMNS

_VARCHAR = re.compile(r"VARCHAR\((\d+)\)")
_NUMBER = re.compile(r"NUMBER\((\d+),0\)")


def fits_ddl(row: Mapping[str, Any]) -> None:
    """Raise AssertionError naming the column (never the value) when a value does not fit its column."""
    for column in COLUMNS:
        value = row.get(column.name)
        if value is None:
            continue
        varchar = _VARCHAR.fullmatch(column.snowflake_type)
        if varchar and isinstance(value, str):
            assert len(value) <= int(varchar.group(1)), f"{column.name}: {len(value)} chars > {column.snowflake_type}"
        number = _NUMBER.fullmatch(column.snowflake_type)
        if number and isinstance(value, int) and not isinstance(value, bool):
            assert len(str(abs(value))) <= int(number.group(1)), f"{column.name}: too many digits"
