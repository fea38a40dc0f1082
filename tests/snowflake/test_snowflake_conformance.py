"""One suite of CDC scenarios run through every merge path: the pure-Python reference, SnowflakeSink (one
transaction, UPDATE + INSERT) on fakesnow, the MERGE statement on fakesnow, and the Snowpark DataFrame merge in
Snowpark local testing. All must end in the same destination and history, and in the scenario's expected state."""

from __future__ import annotations

from collections.abc import Callable, Iterator
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
    reset_tables,
)

pytestmark = pytest.mark.filterwarnings("ignore:Arrow output:UserWarning")

T = BASE_TIME_US
Batches = list[list[dict[str, Any]]]


def _in_order() -> Batches:
    return [[make_row("C1", "INSERT", T)], [make_row("C1", "MODIFY", T + 10)], [make_row("C1", "MODIFY", T + 20)]]


def _out_of_order() -> Batches:
    return [[make_row("C1", "MODIFY", T + 20)], [make_row("C1", "INSERT", T), make_row("C1", "MODIFY", T + 10)]]


def _duplicates() -> Batches:
    first, second = make_row("C1", "INSERT", T), make_row("C1", "MODIFY", T + 10)
    return [[first, dict(first), second], [dict(second), dict(first)]]


def _insert_modify_one_batch() -> Batches:
    return [[make_row("C1", "INSERT", T), make_row("C1", "MODIFY", T + 10, totalCharge="999.99")]]


def _insert_remove_one_batch() -> Batches:
    return [[make_row("C1", "INSERT", T), make_row("C1", "REMOVE", T + 10)]]


def _modify_before_insert() -> Batches:
    return [[make_row("C1", "MODIFY", T + 10)], [make_row("C1", "INSERT", T)]]


def _late_old_event_after_remove() -> Batches:
    return [
        [make_row("C1", "INSERT", T), make_row("C1", "MODIFY", T + 10)],
        [make_row("C1", "REMOVE", T + 30)],
        [make_row("C1", "MODIFY", T + 20)],
        [make_row("C1", "INSERT", T + 5)],
    ]


def _ttl_delete() -> Batches:
    return [[make_row("C1", "INSERT", T)], [make_row("C1", "REMOVE", T + 10, ttlDelete=True)]]


def _replay_whole_batch() -> Batches:
    a = [make_row("C1", "INSERT", T), make_row("C2", "INSERT", T + 1), make_row("C3", "INSERT", T + 2)]
    b = [make_row("C1", "MODIFY", T + 10), make_row("C2", "REMOVE", T + 11)]
    return [a, b, [dict(r) for r in a], [dict(r) for r in b]]


def _sequence_numbers_numeric() -> Batches:
    # Same timestamp: the Kinesis sequence number decides, numerically ("10" > "9"; 56-digit values compare right).
    long_low = "4962" + "0" * 51 + "9"
    long_high = "4962" + "0" * 50 + "10"
    return [
        [make_row("C1", "MODIFY", T, seq="10", event_id="b"), make_row("C1", "MODIFY", T, seq="9", event_id="a")],
        [make_row("C2", "MODIFY", T, seq=long_high, event_id="d")],
        [make_row("C2", "MODIFY", T, seq=long_low, event_id="c")],
    ]


def _insert_for_existing_older_claim() -> Batches:
    return [
        [make_row("C1", "MODIFY", T)],
        [make_row("C1", "REMOVE", T + 10)],
        [make_row("C1", "INSERT", T + 20, claimStatus="resubmitted")],
    ]


def _same_time_no_sequence_op_rank() -> Batches:
    # No sequence numbers, equal timestamps: lifecycle order INSERT < MODIFY < REMOVE decides.
    return [[make_row("C1", "MODIFY", T), make_row("C1", "INSERT", T)], [make_row("C2", "INSERT", T)],
            [make_row("C2", "REMOVE", T)]]  # fmt: skip


def _many_claims_mixed() -> Batches:
    rows = [make_row(f"C{i}", "INSERT", T + i) for i in range(12)]
    mods = [make_row(f"C{i}", "MODIFY", T + 100 + i) for i in range(0, 12, 2)]
    removes = [make_row(f"C{i}", "REMOVE", T + 200 + i) for i in range(0, 12, 3)]
    return [rows[6:] + mods[:2], removes + rows[:6], [*mods[2:], dict(rows[0])]]


# name -> (batches, expected: claimId -> (winning eventId, isDeleted))
SCENARIOS: dict[str, tuple[Callable[[], Batches], dict[str, tuple[str, bool]] | None]] = {
    "in_order": (_in_order, {"C1": (f"ev-C1-{T + 20}-x-MODIFY", False)}),
    "out_of_order": (_out_of_order, {"C1": (f"ev-C1-{T + 20}-x-MODIFY", False)}),
    "duplicates": (_duplicates, {"C1": (f"ev-C1-{T + 10}-x-MODIFY", False)}),
    "insert_modify_one_batch": (_insert_modify_one_batch, {"C1": (f"ev-C1-{T + 10}-x-MODIFY", False)}),
    "insert_remove_one_batch": (_insert_remove_one_batch, {"C1": (f"ev-C1-{T + 10}-x-REMOVE", True)}),
    "modify_before_insert": (_modify_before_insert, {"C1": (f"ev-C1-{T + 10}-x-MODIFY", False)}),
    "late_old_event_after_remove": (_late_old_event_after_remove, {"C1": (f"ev-C1-{T + 30}-x-REMOVE", True)}),
    "ttl_delete": (_ttl_delete, {"C1": (f"ev-C1-{T + 10}-x-REMOVE", True)}),
    "replay_whole_batch": (
        _replay_whole_batch,
        {
            "C1": (f"ev-C1-{T + 10}-x-MODIFY", False),
            "C2": (f"ev-C2-{T + 11}-x-REMOVE", True),
            "C3": (f"ev-C3-{T + 2}-x-INSERT", False),
        },
    ),
    "sequence_numbers_numeric": (_sequence_numbers_numeric, {"C1": ("b", False), "C2": ("d", False)}),
    "insert_for_existing_older_claim": (_insert_for_existing_older_claim, {"C1": (f"ev-C1-{T + 20}-x-INSERT", False)}),
    "same_time_no_sequence_op_rank": (
        _same_time_no_sequence_op_rank,
        {"C1": (f"ev-C1-{T}-x-MODIFY", False), "C2": (f"ev-C2-{T}-x-REMOVE", True)},
    ),
    "many_claims_mixed": (_many_claims_mixed, None),
}


@pytest.fixture(scope="module")
def fake_conn() -> Iterator[Any]:
    with fakesnow_connection() as (conn, _report):
        yield conn


@pytest.fixture(scope="module")
def snowpark_session() -> Iterator[Any]:
    session = local_session()
    yield session
    session.close()


def _run(engine: Any, batches: Batches) -> None:
    for batch in batches:
        engine.write_batch(batch)


@pytest.mark.parametrize("scenario", sorted(SCENARIOS))
def test_every_merge_path_agrees(scenario: str, fake_conn: Any, snowpark_session: Any) -> None:
    build, expected = SCENARIOS[scenario]
    batches = build()
    reference = ReferenceEngine()
    _run(reference, batches)
    want_dest, want_hist = reference.destination(), reference.history()
    assert len(want_hist) == sum(len(b) for b in batches)  # history keeps every event received, copies included

    if expected is not None:
        got = {k: (v["eventId"], v["isDeleted"]) for k, v in want_dest.items()}
        assert got == expected

    for make in (SinkEngine, MergeStatementEngine):
        reset_tables(fake_conn)
        engine = make(fake_conn)
        _run(engine, batches)
        assert engine.destination() == want_dest, engine.name
        assert engine.history() == want_hist, engine.name
        assert engine.staging_count() == 0, engine.name  # every staged row consumed, nothing else

    snowpark = SnowparkEngine(snowpark_session)
    _run(snowpark, batches)
    assert snowpark.destination() == want_dest, snowpark.name
    assert snowpark.history() == want_hist, snowpark.name
    assert snowpark.staging_count() == 0


def test_views_hide_tombstones(fake_conn: Any) -> None:
    reset_tables(fake_conn)
    engine = SinkEngine(fake_conn)
    _run(engine, _replay_whole_batch())
    cur = fake_conn.cursor()
    live = {k for k, v in engine.destination().items() if not v["isDeleted"]}
    assert live == {"C1", "C3"}
    assert {r[0] for r in cur.execute("SELECT claimId FROM V_CLAIMS").fetchall()} == live
    assert {r[0] for r in cur.execute("SELECT claimId FROM V_RECENT_EVENTS").fetchall()} == live
    assert {r[0] for r in cur.execute("SELECT claimId FROM V_CLAIM_STATUS_TIMELINE").fetchall()} == live
    assert {r[0] for r in cur.execute("SELECT claimId FROM V_PENDING_CLAIMS").fetchall()} <= live
    summary = cur.execute("SELECT SUM(claimCount) FROM V_CLAIMS_SUMMARY").fetchone()[0]
    assert int(summary) == len(live)


def test_event_views_show_each_delivered_event_once_while_data_quality_counts_copies(fake_conn: Any) -> None:
    """Kinesis may deliver a record twice: history keeps both copies (audit), the recent-events and timeline views
    show the event once (its first delivery), and V_DATA_QUALITY still counts the extra copy."""
    reset_tables(fake_conn)
    engine = SinkEngine(fake_conn)
    insert, modify = make_row("D1", "INSERT", T), make_row("D1", "MODIFY", T + 10, claimStatus="approved")
    late_copy = dict(modify, ingestTime=make_row("D1", "MODIFY", T + 10, ingest_us=T + 99_000)["ingestTime"])
    _run(engine, [[insert, modify], [late_copy, dict(insert)], [make_row("D2", "INSERT", T + 1)]])
    cur = fake_conn.cursor()
    assert cur.execute("SELECT COUNT(*) FROM CLAIMS_EVENT_HISTORY").fetchone()[0] == 5  # every delivery kept

    recent = cur.execute("SELECT eventId, ingestTime FROM V_RECENT_EVENTS").fetchall()
    ids = [r[0] for r in recent]
    assert sorted(ids) == sorted({insert["eventId"], modify["eventId"], f"ev-D2-{T + 1}-x-INSERT"})
    first_ingest = dict(recent)[modify["eventId"]].isoformat(timespec="microseconds")
    assert first_ingest == modify["ingestTime"]  # the earliest delivery, not the late copy

    timeline = cur.execute(
        "SELECT step, claimStatus, previousStatus FROM V_CLAIM_STATUS_TIMELINE WHERE claimId = 'D1' ORDER BY step"
    ).fetchall()
    assert timeline == [(1, "submitted", None), (2, "approved", "submitted")]

    quality = cur.execute("SELECT eventsTotal, distinctEvents, duplicateEventCopies FROM V_DATA_QUALITY").fetchone()
    assert tuple(int(v) for v in quality) == (5, 3, 2)


def test_claims_summary_money_is_exact_decimal(fake_conn: Any) -> None:
    """Sums and averages of charges come back as exact 2-place decimals (never a float), values to the cent."""
    from decimal import Decimal

    reset_tables(fake_conn)
    engine = SinkEngine(fake_conn)
    charges = ["0.10", "0.20", "1234567.89"]
    _run(engine, [[make_row(f"M{i}", "INSERT", T + i, totalCharge=c) for i, c in enumerate(charges)]])
    cur = fake_conn.cursor()
    cur.execute("SELECT claimCount, totalCharges, averageCharge FROM V_CLAIMS_SUMMARY")
    described = {d.name.upper(): d for d in cur.description}
    count, total, average = cur.fetchone()
    assert cur.fetchone() is None  # one status group
    assert int(count) == 3
    assert isinstance(total, Decimal) and isinstance(average, Decimal), (type(total), type(average))
    assert total == sum(Decimal(c) for c in charges) == Decimal("1234568.19")
    assert average == (Decimal("1234568.19") / 3).quantize(Decimal("0.01"))
    for name in ("TOTALCHARGES", "AVERAGECHARGE"):
        assert described[name].scale == 2, described[name]
