"""Property: any interleaving of snapshot rows and stream events ends in DynamoDB's final state, on every merge
path (the pure-Python reference, SnowflakeSink on fakesnow, the MERGE statement on fakesnow, Snowpark local
testing); and a full refresh after a complete snapshot tombstones exactly the claims DynamoDB no longer holds.

The model (docs/backfill.md): each claim has a true history of changes at strictly increasing times (ties with the
snapshot's time on purpose: times are drawn from a small range). The stream holds every change from its start S;
the snapshot reflects every change up to its point in time T and carries the version time V = T - margin, with
S <= V <= T (the stream is consumed from before the snapshot). A snapshot row is the item as of T, stamped V; a
change stamped exactly at T may or may not be in it (drawn), which is why a stream event wins a tie.
Optionally Snowflake already holds an older load (rows of changes before S, as a previous pipeline left them):
claims deleted before S are live there and only the full refresh can end them.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, find, given, settings
from hypothesis import strategies as st

from claimflow.event_time import EventTimeRules, creation_time_us
from claimflow.events import is_snapshot_event_id
from claimflow.snowflake import spec

from ._harness import (
    BASE_TIME_US,
    MergeStatementEngine,
    ReferenceEngine,
    SinkEngine,
    SnowparkEngine,
    fakesnow_connection,
    live_state,
    local_session,
    make_row,
    refresh,
    reset_tables,
    snapshot_row,
    write_all,
)

pytestmark = pytest.mark.filterwarnings("ignore:Arrow output:UserWarning")

T0 = BASE_TIME_US


@st.composite
def scenarios(draw: st.DrawFn, max_claims: int = 4, max_changes: int = 5, stale: bool = False) -> dict[str, Any]:
    claims = draw(st.integers(1, max_claims))
    stream_start = draw(st.integers(0, 12))
    version = stream_start + draw(st.integers(0, 6))  # V >= S
    point = version + draw(st.sampled_from([0, 0, 1, 3]))  # T >= V: the clock margin
    # Whether a change stamped exactly at T is in the snapshot: DynamoDB does not say, so both must end right.
    inclusive = draw(st.booleans())
    histories: dict[str, list[tuple[int, str, str, str]]] = {}
    for c in range(claims):
        time = draw(st.integers(0, 10))
        changes, live = [], False
        for i in range(draw(st.integers(1, max_changes))):
            if i:
                time += draw(st.integers(1, 6))
            op = "INSERT" if not live else draw(st.sampled_from(["MODIFY", "MODIFY", "REMOVE"]))
            live = op != "REMOVE"
            changes.append((time, op, f"{c + 1}{i}.00", "paid" if i % 2 else "submitted"))
        histories[f"C{c}"] = changes
    seq = 10**20
    stream, stale_rows, snapshot = [], [], []
    for claim_id, changes in histories.items():
        for time, op, charge, status in changes:
            seq += draw(st.integers(1, 10**6))
            # A record of a many-record FlowFile has no sequence number (docs/change-events.md): then only the
            # operation rank orders it against a snapshot row of the same time. One claim's times are distinct.
            known = draw(st.booleans())
            row = make_row(claim_id, op, T0 + time, seq=str(seq) if known else None,
                           event_id=f"ev-{claim_id}-{time}-{op}", totalCharge=charge, claimStatus=status,
                           ttlDelete=False)  # fmt: skip
            if time >= stream_start:
                stream.append(row)
            elif stale and draw(st.booleans()):
                stale_rows.append(row)  # an earlier load caught this change (and maybe not the later ones)
        as_of_point = [c for c in changes if c[0] < point or (inclusive and c[0] == point)]
        if as_of_point and as_of_point[-1][1] != "REMOVE":
            _time, _op, charge, status = as_of_point[-1]
            snapshot.append(snapshot_row(claim_id, T0 + version, charge, status, len(snapshot)))
    final = {
        claim_id: (changes[-1][2], changes[-1][3]) for claim_id, changes in histories.items()
        if changes[-1][1] != "REMOVE"
    }  # fmt: skip
    rows = stream + snapshot
    copies = [dict(r) for r in draw(st.lists(st.sampled_from(rows), max_size=3))] if rows else []  # redeliveries
    deliveries = draw(st.permutations([*rows, *copies]))
    # The full refresh runs once the snapshot is completely merged: after the last snapshot row's batch.
    last_snapshot = max((i for i, r in enumerate(deliveries) if is_snapshot_event_id(r["eventId"])), default=-1)
    cut = draw(st.integers(last_snapshot + 1, len(deliveries)))
    before, after = deliveries[:cut], deliveries[cut:]
    return {"stale": stale_rows, "before": _batches(draw, before), "after": _batches(draw, after),
            "final": final, "version_us": T0 + version}  # fmt: skip


def _batches(draw: st.DrawFn, rows: list[dict[str, Any]]) -> list[list[dict[str, Any]]]:
    cuts = sorted(draw(st.sets(st.integers(1, max(1, len(rows) - 1)), max_size=3)))
    out, start = [], 0
    for cut in [*cuts, len(rows)]:
        if cut > start:
            out.append(rows[start:cut])
            start = cut
    return out


def run(engine: Any, case: dict[str, Any], full_refresh: bool) -> dict[str, tuple[str, str]]:
    write_all(engine, [case["stale"]])
    write_all(engine, case["before"])
    if full_refresh:
        refresh(engine, case["version_us"])
    write_all(engine, case["after"])
    return live_state(engine)


@settings(max_examples=300, deadline=None)
@given(scenarios())
def test_reference_any_interleaving_ends_in_dynamodbs_state(case: dict[str, Any]) -> None:
    assert run(ReferenceEngine(), case, full_refresh=False) == case["final"]


@settings(max_examples=300, deadline=None)
@given(scenarios(stale=True))
def test_reference_full_refresh_ends_stale_claims(case: dict[str, Any]) -> None:
    assert run(ReferenceEngine(), case, full_refresh=True) == case["final"]


def test_without_the_full_refresh_a_stale_claim_stays_live() -> None:
    """Why the mode exists: a claim deleted while nobody streamed stays live until a full refresh."""
    engine = ReferenceEngine()
    engine.write_batch([make_row("GONE", "INSERT", T0 + 1, seq="1", event_id="ev-gone")])
    engine.write_batch([snapshot_row("KEPT", T0 + 50, "1.00", "paid", 0)])
    assert set(live_state(engine)) == {"GONE", "KEPT"}
    result = refresh(engine, T0 + 50)
    assert (result.candidates, result.written, result.applied) == (1, 1, 1)
    assert set(live_state(engine)) == {"KEPT"}
    tombstone = engine.state["GONE"]
    assert tombstone["eventName"] == "REMOVE" and tombstone[spec.IS_DELETED]
    assert tombstone["dataQualityFlags"] == [spec.ABSENT_FROM_SNAPSHOT]
    assert refresh(engine, T0 + 50).candidates == 0  # idempotent


@pytest.fixture(scope="module")
def fake_conn() -> Iterator[Any]:
    with fakesnow_connection() as (conn, _report):
        yield conn


@pytest.fixture(scope="module")
def snowpark_session() -> Iterator[Any]:
    session = local_session()
    yield session
    session.close()


# With an earlier load, only the full refresh ends the claims it left live: the engines get one with it.
CASES_ON_EVERY_PATH = st.booleans().flatmap(
    lambda full_refresh: scenarios(max_claims=3, max_changes=4, stale=full_refresh).map(lambda c: (full_refresh, c))
)


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(CASES_ON_EVERY_PATH)
def test_every_merge_path_ends_in_dynamodbs_state(
    fake_conn: Any, snowpark_session: Any, drawn: tuple[bool, dict[str, Any]]
) -> None:
    full_refresh, case = drawn
    for make in (SinkEngine, MergeStatementEngine):
        reset_tables(fake_conn)
        engine = make(fake_conn)
        assert run(engine, case, full_refresh) == case["final"], engine.name
    snowpark = SnowparkEngine(snowpark_session)  # create_tables: empty tables each time
    assert run(snowpark, case, full_refresh) == case["final"], snowpark.name


# --- Mixed precision: a stream whose ApproximateCreationDateTimePrecision switched (issue 11 class 4) -------------
#
# The same model across a precision switch: DynamoDB switches the stream at one moment W (the same for every item),
# changes before it carry precision P1, after it P2. A MILLISECOND change carries only its millisecond, so each row
# gets the event time the decoder reads from what DynamoDB wrote (event_time.creation_time_us, placed by the operator's
# EventTimeRules): for a switch from MICROSECOND to MILLISECOND the operator declares a switch-over at or before W
# (drawn), for the other direction nothing. Histories span several milliseconds, with changes of one claim inside
# one millisecond on both sides of the switch. What the model leaves out is what no version can know (docs/
# guarantees.md, "Mixed precision" and "Ties"): two MILLISECOND changes of one claim in one millisecond without
# sequence numbers, and a MICROSECOND change at exactly the first or last microsecond of a millisecond, where a
# millisecond change is read. Snapshot times are whole milliseconds (as an export's exportTime is).

MICRO_TO_MILLI = ("MICROSECOND", "MILLISECOND")
MILLI_TO_MICRO = ("MILLISECOND", "MICROSECOND")


def _stamped(true_time_us: int, precision: str, label: str | None, rules: EventTimeRules) -> int:
    """The event time the decoder reads for a change made at ``true_time_us`` (epoch µs) with ``precision``."""
    value = true_time_us if precision == "MICROSECOND" else true_time_us // 1000
    read = creation_time_us(value, label)
    return rules.placed(read, value, label)


def _rules_for(direction: tuple[str, str], switch_us: int, declared_before_us: int) -> EventTimeRules:
    if direction == MICRO_TO_MILLI:
        return EventTimeRules(millisecond_since_us=switch_us - declared_before_us)
    return EventTimeRules()  # a switch to MICROSECOND needs no declaration


@st.composite
def switch_scenarios(
    draw: st.DrawFn, max_claims: int = 4, max_changes: int = 5, stale: bool = False, declared: bool = True
) -> dict[str, Any]:
    direction = draw(st.sampled_from([MICRO_TO_MILLI, MILLI_TO_MICRO]))
    switch = draw(st.integers(0, 4000))
    rules = _rules_for(direction, T0 + switch, draw(st.integers(0, 1500)))
    if not declared:
        rules = EventTimeRules()  # the behaviour before issue 11 class 4: every millisecond read as its first µs
    stream_start = draw(st.integers(0, 3000))
    version = -(-stream_start // 1000) * 1000 + 1000 * draw(st.integers(0, 3))  # a whole ms, V >= S
    point = version + draw(st.sampled_from([0, 0, 1, 3, 1500]))
    inclusive = draw(st.booleans())
    histories: dict[str, list[tuple[int, str, str, str]]] = {}
    for c in range(draw(st.integers(1, max_claims))):
        time = draw(st.integers(0, 3000))
        changes, live = [], False
        for i in range(draw(st.integers(1, max_changes))):
            if i:
                time += draw(st.one_of(st.integers(1, 6), st.integers(300, 1200)))
            while time % 1000 in (0, 999):  # not at a millisecond's first or last µs (a tie; see above)
                time += 1
            op = "INSERT" if not live else draw(st.sampled_from(["MODIFY", "MODIFY", "REMOVE"]))
            live = op != "REMOVE"
            changes.append((time, op, f"{c + 1}{i}.00", "paid" if i % 2 else "submitted"))
        histories[f"C{c}"] = changes
    seq = 10**20
    stream, stale_rows, snapshot = [], [], []
    for claim_id, changes in histories.items():
        for time, op, charge, status in changes:
            seq += draw(st.integers(1, 10**6))
            precision = direction[0] if time < switch else direction[1]
            label = precision if precision == "MICROSECOND" else draw(st.sampled_from(["MILLISECOND", None]))
            known = precision == "MILLISECOND" or draw(st.booleans())
            row = make_row(claim_id, op, _stamped(T0 + time, precision, label, rules), seq=str(seq) if known else None,
                           event_id=f"ev-{claim_id}-{time}-{op}", totalCharge=charge, claimStatus=status,
                           ttlDelete=False)  # fmt: skip
            if time >= stream_start:
                stream.append(row)
            elif stale and draw(st.booleans()):
                stale_rows.append(row)
        as_of_point = [c for c in changes if c[0] < point or (inclusive and c[0] == point)]
        if as_of_point and as_of_point[-1][1] != "REMOVE":
            _time, _op, charge, status = as_of_point[-1]
            snapshot.append(snapshot_row(claim_id, T0 + version, charge, status, len(snapshot)))
    final = {
        claim_id: (changes[-1][2], changes[-1][3]) for claim_id, changes in histories.items()
        if changes[-1][1] != "REMOVE"
    }  # fmt: skip
    rows = stream + snapshot
    copies = [dict(r) for r in draw(st.lists(st.sampled_from(rows), max_size=3))] if rows else []
    deliveries = draw(st.permutations([*rows, *copies]))
    last_snapshot = max((i for i, r in enumerate(deliveries) if is_snapshot_event_id(r["eventId"])), default=-1)
    cut = draw(st.integers(last_snapshot + 1, len(deliveries)))
    before, after = deliveries[:cut], deliveries[cut:]
    return {"stale": stale_rows, "before": _batches(draw, before), "after": _batches(draw, after),
            "final": final, "version_us": T0 + version}  # fmt: skip


@settings(max_examples=400, deadline=None)
@given(switch_scenarios())
def test_reference_across_a_precision_switch_ends_in_dynamodbs_state(case: dict[str, Any]) -> None:
    assert run(ReferenceEngine(), case, full_refresh=False) == case["final"]


@settings(max_examples=300, deadline=None)
@given(switch_scenarios(stale=True))
def test_reference_full_refresh_across_a_precision_switch(case: dict[str, Any]) -> None:
    assert run(ReferenceEngine(), case, full_refresh=True) == case["final"]


def test_without_the_declared_switch_over_the_model_finds_a_lost_change() -> None:
    """The property fails on the old reading (every millisecond at its first µs): the test can fail."""
    lost = find(switch_scenarios(declared=False),
                lambda case: run(ReferenceEngine(), case, full_refresh=False) != case["final"],
                settings=settings(max_examples=2000, database=None, deadline=None,
                                  derandomize=True))  # fmt: skip (NoSuchExample: fails)
    assert run(ReferenceEngine(), lost, full_refresh=False) != lost["final"]


SWITCH_CASES_ON_EVERY_PATH = st.booleans().flatmap(
    lambda full_refresh: switch_scenarios(max_claims=3, max_changes=4, stale=full_refresh).map(
        lambda c: (full_refresh, c)
    )
)


@settings(max_examples=5, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(SWITCH_CASES_ON_EVERY_PATH)
def test_every_merge_path_across_a_precision_switch_ends_in_dynamodbs_state(
    fake_conn: Any, snowpark_session: Any, drawn: tuple[bool, dict[str, Any]]
) -> None:
    full_refresh, case = drawn
    for make in (SinkEngine, MergeStatementEngine):
        reset_tables(fake_conn)
        engine = make(fake_conn)
        assert run(engine, case, full_refresh) == case["final"], engine.name
    snowpark = SnowparkEngine(snowpark_session)
    assert run(snowpark, case, full_refresh) == case["final"], snowpark.name


def _insert_then_modify_in_one_millisecond(rules: EventTimeRules) -> list[dict[str, Any]]:
    """The issue's case: an INSERT stamped in microseconds, then (after a switch to MILLISECOND) a MODIFY of the same
    claim in the same millisecond; sequence numbers in the order DynamoDB wrote them."""
    insert = make_row("MIX", "INSERT", _stamped(T0 + 500, "MICROSECOND", "MICROSECOND", rules), seq="100",
                      event_id="ev-mix-insert", totalCharge="1.00", claimStatus="submitted")  # fmt: skip
    modify = make_row("MIX", "MODIFY", _stamped(T0 + 700, "MILLISECOND", "MILLISECOND", rules), seq="200",
                      event_id="ev-mix-modify", totalCharge="2.00", claimStatus="paid")  # fmt: skip
    return [insert, modify]


@pytest.mark.parametrize("order", ["in order", "reversed", "one batch"])
def test_every_merge_path_keeps_a_modify_made_after_a_switch_to_milliseconds(
    fake_conn: Any, snowpark_session: Any, order: str
) -> None:
    declared = _insert_then_modify_in_one_millisecond(EventTimeRules(millisecond_since_us=T0 + 600))
    undeclared = _insert_then_modify_in_one_millisecond(EventTimeRules())
    for rows, expected in ((declared, {"MIX": ("2.00", "paid")}), (undeclared, {"MIX": ("1.00", "submitted")})):
        batches = [rows] if order == "one batch" else [[r] for r in (rows if order == "in order" else rows[::-1])]
        engines: list[Any] = [ReferenceEngine(), SnowparkEngine(snowpark_session)]
        for make in (SinkEngine, MergeStatementEngine):
            reset_tables(fake_conn)
            engines.append(make(fake_conn))
            write_all(engines[-1], batches)
            # Without the switch-over the MODIFY, read as the first µs of its millisecond, loses: the documented
            # remaining case (docs/guarantees.md). With it, every path keeps the later change.
            assert live_state(engines[-1]) == expected, engines[-1].name
        for engine in engines[:2]:
            write_all(engine, batches)
            assert live_state(engine) == expected, engine.name
