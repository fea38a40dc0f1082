"""``python -m claimflow.snowflake``: generate or check the scripts under sql/ (built by claimflow.snowflake.ddl)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from claimflow.snowflake import ddl
from claimflow.snowflake.naming import DEFAULT_NAMES, InvalidIdentifier, Names
from claimflow.snowflake.spec import TableNames


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m claimflow.snowflake",
        description=(ddl.__doc__ or "").splitlines()[0],
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
        "--existing-database-owner",
        metavar="ROLE",
        default=None,
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
        for file_name, text in ddl.render_scripts(names).items():
            (args.write / file_name).write_text(text, encoding="utf-8")
        return 0
    stale = ddl.drift(args.check, names)
    for file_name in stale:
        print(f"{file_name}: differs from the generated text", file=sys.stderr)
    return 1 if stale else 0


if __name__ == "__main__":
    raise SystemExit(main())
