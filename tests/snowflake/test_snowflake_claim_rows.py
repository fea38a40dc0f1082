"""Contract with the claims engineer: rows built by claimflow.claims from synthetic Kinesis records load and merge
identically on every path (reference, SnowflakeSink on fakesnow, Snowpark local testing)."""

from __future__ import annotations

import pytest
from _sf_helpers import ReferenceEngine, SinkEngine, SnowparkEngine, fakesnow_connection, local_session

from claimflow.claims import ClaimSettings, route_records
from claimflow.claims.synthetic import claim_records
from claimflow.snowflake import spec

pytestmark = pytest.mark.filterwarnings("ignore:Arrow output:UserWarning")


def test_built_rows_merge_the_same_on_every_path() -> None:
    routed = list(route_records(b"\n".join(claim_records(40)), ClaimSettings(), ingest_time_us=1_761_955_300_000_000))
    rows = [r.row for r in routed if r.row is not None]
    assert len(rows) == len(routed)  # synthetic records are all valid
    assert {r["eventName"] for r in rows} == {"INSERT", "MODIFY", "REMOVE"}
    for index, row in enumerate(rows):
        spec.validate_row(row, index)
    batches = [rows[:15], rows[15:], rows[5:25]]  # the last one is a partial redelivery
    reference = ReferenceEngine()
    for batch in batches:
        reference.write_batch(batch)
    with fakesnow_connection() as (conn, _report):
        sink = SinkEngine(conn)
        for batch in batches:
            sink.write_batch(batch)
        assert sink.destination() == reference.destination()
        assert sink.history() == reference.history()
    snowpark = SnowparkEngine(local_session())
    for batch in batches:
        snowpark.write_batch(batch)
    assert snowpark.destination() == reference.destination()
    deleted = {k for k, v in reference.destination().items() if v["isDeleted"]}
    assert deleted == {r["claimId"] for r in rows if r["eventName"] == "REMOVE"}
