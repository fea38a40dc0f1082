"""Property: for any claim histories, any permutation of their events with any duplicates, split into any batches,
the merge ends in the state of applying each history in order (the latest event per claim, tombstone if REMOVE).

The pure-Python reference is checked with many examples; the SQL sink (fakesnow) and the Snowpark merge (local
testing) with a modest number, to keep the suite fast. Each engine also asserts its merge source has one row per
claim (the emulators would not raise Snowflake's nondeterministic-merge error).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
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
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from claimflow.snowflake import spec

pytestmark = pytest.mark.filterwarnings("ignore:Arrow output:UserWarning")

OPS = ("INSERT", "MODIFY", "REMOVE")


@st.composite
def histories(draw: st.DrawFn, max_claims: int = 3, max_events: int = 5) -> list[list[dict[str, Any]]]:
    """Per claim, its events in true order: strictly increasing (time, sequence number) versions. Timestamps may
    repeat (then the sequence number, compared numerically, orders them), sequence numbers may be huge."""
    claims = draw(st.integers(1, max_claims))
    result = []
    for c in range(claims):
        n = draw(st.integers(1, max_events))
        time_us = BASE_TIME_US + draw(st.integers(0, 10))
        seq = draw(st.sampled_from([9, 99, 10**55]))
        events = []
        for i in range(n):
            if i:
                if draw(st.booleans()):
                    time_us += draw(st.integers(1, 1000))
                seq += draw(st.integers(1, 10**3))  # always increases: the pair is a true order
            op = draw(st.sampled_from(OPS))
            events.append(make_row(f"P{c}", op, time_us, seq=str(seq), event_id=f"e{c}-{i}", ttlDelete=op == "REMOVE"))
        result.append(events)
    return result


@st.composite
def cut_into_batches(draw: st.DrawFn, stream: list[dict[str, Any]]) -> list[list[dict[str, Any]]]:
    """``stream`` cut at up to three drawn places into consecutive, non-empty batches."""
    cuts = sorted(draw(st.sets(st.integers(1, max(1, len(stream) - 1)), max_size=3)))
    batches, start = [], 0
    for cut in [*cuts, len(stream)]:
        if cut > start:
            batches.append(stream[start:cut])
            start = cut
    return batches


@st.composite
def deliveries(draw: st.DrawFn, max_claims: int = 3, max_events: int = 5) -> tuple[list[list[dict]], list[list[dict]]]:
    """(histories, batches): all events, shuffled, some delivered more than once, cut into batches."""
    hist = draw(histories(max_claims, max_events))
    events = [e for h in hist for e in h]
    copies = draw(st.lists(st.sampled_from(events), max_size=4)) if events else []
    stream = draw(st.permutations([*events, *(dict(e) for e in copies)]))
    batches = draw(cut_into_batches(stream))
    return hist, batches


def expected_state(hist: list[list[dict[str, Any]]]) -> dict[str, dict[str, Any]]:
    """Applying each history in its true order: the last event wins."""
    state = {}
    for events in hist:
        last = events[-1]
        row = dict(last)
        row[spec.IS_DELETED] = last["eventName"] == "REMOVE"
        row[spec.APPLIED_VERSION] = spec.event_version(last)
        state[last["claimId"]] = normalise(row, (spec.IS_DELETED, spec.APPLIED_VERSION))
    return state


@settings(max_examples=300, deadline=None)
@given(deliveries(max_claims=4, max_events=8))
def test_reference_is_order_and_duplicate_proof(case: tuple[list, list]) -> None:
    hist, batches = case
    engine = ReferenceEngine()
    for batch in batches:
        for claim_id, row in spec.latest_per_claim(batch).items():  # the merge source: one row per claim
            assert row["claimId"] == claim_id
        engine.write_batch(batch)
    assert engine.destination() == expected_state(hist)
    assert len(engine.history()) == sum(len(b) for b in batches)


@pytest.fixture(scope="module")
def fake_conn() -> Iterator[Any]:
    with fakesnow_connection() as (conn, _report):
        yield conn


@pytest.fixture(scope="module")
def snowpark_session() -> Iterator[Any]:
    session = local_session()
    yield session
    session.close()


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(deliveries(max_claims=3, max_events=4))
def test_sql_and_snowpark_paths_are_order_and_duplicate_proof(
    fake_conn: Any, snowpark_session: Any, case: tuple[list, list]
) -> None:
    hist, batches = case
    want = expected_state(hist)
    for make in (SinkEngine, MergeStatementEngine):
        reset_tables(fake_conn)
        engine = make(fake_conn)
        for batch in batches:
            engine.write_batch(batch)  # MergeStatementEngine asserts its merge source has one row per claim
        assert engine.destination() == want, engine.name
    snowpark = SnowparkEngine(snowpark_session)
    for batch in batches:
        snowpark.write_batch(batch)  # asserts its merge source has one row per claim
    assert snowpark.destination() == want


# --- Record-mode FlowFiles: no sequence numbers, ties in the same microsecond -----------------------------------


@st.composite
def record_mode_deliveries(draw: st.DrawFn) -> tuple[dict[str, dict[str, Any]], list[list[dict[str, Any]]]]:
    """(expected final state, batches) for consecutive record-mode FlowFiles of one shard: no sequence numbers,
    each change's flowFileRecordIndex its place in its FlowFile, times never decreasing and often equal inside a
    FlowFile (a REMOVE and a re-INSERT, or two MODIFYs, in one microsecond). FlowFiles follow each other in time,
    so a tie never spans two of them (across FlowFiles nothing in the records orders a tie: docs/guarantees.md).
    Event ids are random, so an eventId tie-break is wrong about half the time. Rows are then shuffled, some
    redelivered, and cut into batches."""
    claims = [f"P{c}" for c in range(draw(st.integers(1, 3)))]
    time_us = BASE_TIME_US
    last: dict[str, dict[str, Any]] = {}
    events: list[dict[str, Any]] = []
    for _ in range(draw(st.integers(1, 3))):  # FlowFiles
        time_us += 1000
        for index in range(draw(st.integers(1, 6))):
            time_us += draw(st.sampled_from([0, 0, 1]))
            claim = draw(st.sampled_from(claims))
            op = draw(st.sampled_from(OPS))
            event_id = draw(st.uuids()).hex
            row = make_row(claim, op, time_us, event_id=event_id, flowFileRecordIndex=index)
            row["kinesisSequenceNumber"] = None
            events.append(row)
            last[claim] = row
    want = {}
    for claim, row in last.items():
        state = dict(row)
        state[spec.IS_DELETED] = row["eventName"] == "REMOVE"
        state[spec.APPLIED_VERSION] = spec.event_version(row)
        want[claim] = normalise(state, (spec.IS_DELETED, spec.APPLIED_VERSION))
    copies = draw(st.lists(st.sampled_from(events), max_size=3))
    stream = draw(st.permutations([*events, *(dict(e) for e in copies)]))
    batches = draw(cut_into_batches(stream))
    return want, batches


@settings(max_examples=300, deadline=None)
@given(record_mode_deliveries())
def test_reference_keeps_flowfile_order_in_ties_without_sequence_numbers(case: tuple[dict, list]) -> None:
    want, batches = case
    engine = ReferenceEngine()
    for batch in batches:
        engine.write_batch(batch)
    assert engine.destination() == want


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(record_mode_deliveries())
def test_sql_and_snowpark_keep_flowfile_order_in_ties_without_sequence_numbers(
    fake_conn: Any, snowpark_session: Any, case: tuple[dict, list]
) -> None:
    want, batches = case
    for make in (SinkEngine, MergeStatementEngine):
        reset_tables(fake_conn)
        engine = make(fake_conn)
        for batch in batches:
            engine.write_batch(batch)
        assert engine.destination() == want, engine.name
    snowpark = SnowparkEngine(snowpark_session)
    for batch in batches:
        snowpark.write_batch(batch)
    assert snowpark.destination() == want
