"""The merge harness of tests/snowflake (engines, synthetic rows, fakesnow and Snowpark sessions), for the backfill
tests, and the snapshot rows and full refresh of each merge path."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "snowflake"))

from _sf_helpers import (
    BASE_TIME_US,
    MergeStatementEngine,
    ReferenceEngine,
    SinkEngine,
    SnowparkEngine,
    fakesnow_connection,
    local_session,
    make_row,
    normalise,
    reset_tables,
)

from claimflow.snowflake import merge_sql, spec

__all__ = [
    "BASE_TIME_US",
    "MergeStatementEngine",
    "ReferenceEngine",
    "SinkEngine",
    "SnowparkEngine",
    "fakesnow_connection",
    "live_state",
    "local_session",
    "make_row",
    "normalise",
    "refresh",
    "reset_tables",
]

SOURCE = "5a5a5a5a5a5a5a5a"


def refresh(engine: Any, snapshot_time_us: int, keep: frozenset[str] = frozenset()) -> spec.RefreshResult:
    """The full refresh on ``engine``'s merge path: the path's own candidates query, tombstones merged by it."""
    if isinstance(engine, ReferenceEngine):
        candidates = [(c, engine.state[c]["sourceTable"], engine.state[c]["awsRegion"])
                      for c in spec.refresh_candidates(engine.state, snapshot_time_us)]  # fmt: skip
        rows, kept = spec.refresh_tombstones(candidates, snapshot_time_us, SOURCE, spec.utc_now_iso(), keep)
        before = {k: v[spec.APPLIED_VERSION] for k, v in engine.state.items()}
        engine.write_batch(rows)
        applied = sum(1 for r in rows if engine.state[r["claimId"]][spec.APPLIED_VERSION] != before.get(r["claimId"]))
        return spec.RefreshResult(len(candidates), kept, len(rows), applied)
    if isinstance(engine, SinkEngine):
        return engine.sink.full_refresh(snapshot_time_us, SOURCE, keep=keep)
    if isinstance(engine, MergeStatementEngine):
        cur = engine.conn.cursor()
        cur.execute(merge_sql.refresh_candidates_sql(spec.DEFAULT_TABLES), (spec.version_floor(snapshot_time_us),))
        candidates = [(r[0], r[1], r[2]) for r in cur.fetchall()]
        rows, kept = spec.refresh_tombstones(candidates, snapshot_time_us, SOURCE, spec.utc_now_iso(), keep)
        if rows:
            engine.write_batch(rows)
        return spec.RefreshResult(len(candidates), kept, len(rows), len(rows))
    if isinstance(engine, SnowparkEngine):
        return engine.merger.full_refresh(snapshot_time_us, SOURCE, keep=keep)
    raise TypeError(type(engine).__name__)


def live_state(engine: Any) -> dict[str, tuple[str, str]]:
    """claimId -> (totalCharge, claimStatus) of every live claim: what DynamoDB's items say, CDC columns aside."""
    return {
        claim_id: (str(row["totalCharge"]), str(row["claimStatus"]))
        for claim_id, row in engine.destination().items()
        if not row[spec.IS_DELETED]
    }


def snapshot_row(claim_id: str, time_us: int, charge: str, status: str, n: int) -> dict[str, Any]:
    return make_row(claim_id, "INSERT", time_us, seq=None, event_id=f"snapshot:{SOURCE}:{n:032x}",
                    totalCharge=charge, claimStatus=status, kinesisShardId=None)  # fmt: skip


def write_all(engine: Any, batches: Sequence[Sequence[dict[str, Any]]]) -> None:
    for batch in batches:
        if batch:
            engine.write_batch(batch)
