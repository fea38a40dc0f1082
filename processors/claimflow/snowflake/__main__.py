"""``python -m claimflow.snowflake``: generate or check the scripts under sql/ (see claimflow.snowflake.ddl)."""

from claimflow.snowflake.ddl import main

raise SystemExit(main())
