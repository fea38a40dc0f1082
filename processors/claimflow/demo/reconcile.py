"""Prove that Snowflake holds what DynamoDB holds: live claims field by field, and every change event in history.

1. Live claims: a full, paginated Scan of the DynamoDB table. Each item goes through the SAME core row builder the
   processors use (``claimflow.claims.build_row``, as an INSERT stamped with the destination row's event time, so
   time-derived enrichment such as ``claimAgeDays`` is comparable) and is compared column by column with the
   destination's live (non-tombstoned) row, CDC metadata columns excluded. Counts must match too, so a claim alive
   in Snowflake but gone from DynamoDB (a resurrection) is caught. With PHI Handling Pseudonymize (the shipped
   flows' default) each direct identifier is expected as the keyed token of the source's value, computed here with
   the core's ``claims.phi.pseudonym`` and the run's key, so a wrong, missing or unkeyed token is a difference.
2. History: the distinct event ids in the history table must be exactly the events the bridge produced (count and
   an order-independent digest; on a mismatch the ids are listed from the bridge's event log). Without the bridge
   (the table streams to Kinesis itself) the ids are not known here, so only their count is compared with the
   number of writes the generator made.

Memory stays flat: the scan and the history are read page by page. Differences name claim ids, event ids and
column names only, never values.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from claimflow import rows
from claimflow.demo.bridge import EventLedger, encode_image
from claimflow.snowflake.spec import DEFAULT_TABLES, IS_DELETED, KEY_COLUMN, TableNames

COMPARED_COLUMNS: tuple[str, ...] = tuple(c.name for c in rows.COLUMNS if c.group is not rows.Group.CDC)
MAX_LISTED = 20


@dataclass
class Reconciliation:
    source_claims: int = 0
    destination_live: int = 0
    destination_tombstones: int = 0
    history_rows: int = 0
    history_distinct_events: int = 0
    bridge_events: int = 0
    missing_claims: list[str] = field(default_factory=list)  # in DynamoDB, not live in Snowflake
    differing: dict[str, list[str]] = field(default_factory=dict)  # claim id -> differing column names
    unbuildable: list[str] = field(default_factory=list)  # claim ids the row builder rejected
    missing_events: list[str] = field(default_factory=list)
    unexpected_events: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def _decimal(value: Any) -> Any:
    return Decimal(str(value))


def _boolean(value: Any) -> Any:
    return value if isinstance(value, bool) else str(value).lower() == "true"


def _date(value: Any) -> Any:
    return value.isoformat() if isinstance(value, date) else str(value)[:10]


def _timestamp(value: Any) -> Any:
    moment = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    return moment.replace(tzinfo=None).isoformat(timespec="microseconds")


def _document(value: Any) -> Any:
    parsed = json.loads(value) if isinstance(value, str) else value
    return json.loads(json.dumps(parsed, default=str), parse_float=Decimal, parse_int=Decimal)


# One comparable form per column kind; looked up once per column rather than tested kind by kind per value.
_NORMALISERS: dict[rows.Kind, Any] = {
    rows.Kind.DECIMAL: _decimal,
    rows.Kind.INTEGER: int,
    rows.Kind.BOOLEAN: _boolean,
    rows.Kind.DATE: _date,
    rows.Kind.TIMESTAMP: _timestamp,
    rows.Kind.STRING_ARRAY: _document,
    rows.Kind.PROCEDURES: _document,
    rows.Kind.ATTRIBUTES: _document,
}


def _normalised(normaliser: Any, value: Any) -> Any:
    """One column value, from a row (JSON-ready) or from the database (typed), in one comparable form."""
    return None if value is None else normaliser(value)


_COMPARED = tuple((c.name, _NORMALISERS.get(c.kind, str)) for c in rows.COLUMNS if c.name in COMPARED_COLUMNS)


def compare_rows(expected: Mapping[str, Any], actual: Mapping[str, Any]) -> list[str]:
    """Names of the compared columns whose values differ."""
    return [
        name
        for name, normaliser in _COMPARED
        if _normalised(normaliser, expected.get(name)) != _normalised(normaliser, actual.get(name))
    ]


def expected_row(item: Mapping[str, Any], region: str, table: str, event_time_us: int, settings: Any) -> dict[str, Any]:
    """The row the pipeline should hold for a DynamoDB item (boto3 attribute values), built by the core builder.

    Pseudonymize: the row the builder makes with Pass Through, each direct identifier then the keyed token of its
    value, and each extra attribute its keyed token, computed with ``claims.phi``'s token functions themselves
    rather than taken from the builder's pseudonymising step, so a fault in that step (a column left raw, another
    value or key hashed, a column changed that Pseudonymize leaves alone) shows as a difference. One build per
    item (building it twice, Pass Through and Pseudonymize, took twice the time: 379 against 187 us per item).

    Raises:
        claimflow.claims.InvalidClaim, claimflow.events.DecodeError: the item cannot become a claim row.
        ValueError: Safe Harbor settings (it tokenises the claim and event ids the reconciliation matches by).
    """
    from claimflow.claims import PhiMode, build_row
    from claimflow.claims.phi import (
        DIRECT_IDENTIFIERS,
        EXTRA_ATTRIBUTES,
        extra_attribute_tokens,
        phi_mode_label,
        pseudonym,
    )
    from claimflow.events import decode_record

    if settings.phi_mode is PhiMode.SAFE_HARBOR:
        raise ValueError("the reconciliation recomputes Pass Through and Pseudonymize rows only")

    image = encode_image(item)
    record = {
        "awsRegion": region,
        "eventID": "reconcile",
        "eventName": "INSERT",
        "userIdentity": None,
        "recordFormat": "application/json",
        "tableName": table,
        "dynamodb": {
            "ApproximateCreationDateTime": event_time_us,
            "ApproximateCreationDateTimePrecision": "MICROSECOND",
            "Keys": {"claim_id": image["claim_id"]},
            "NewImage": image,
            "SizeBytes": 0,
        },
        "eventSource": "aws:dynamodb",
    }
    event = decode_record(record)
    if settings.phi_mode is not PhiMode.PSEUDONYMIZE:
        return build_row(event, settings, event_time_us)
    key = settings.hmac_key
    row = build_row(event, replace(settings, phi_mode=PhiMode.PASSTHROUGH), event_time_us)
    for column in DIRECT_IDENTIFIERS:
        value = row[column]
        if value is not None:
            row[column] = pseudonym(key, column, value)
    if row[EXTRA_ATTRIBUTES]:
        row[EXTRA_ATTRIBUTES] = extra_attribute_tokens(key, row[EXTRA_ATTRIBUTES])
    row["phiMode"] = phi_mode_label(settings.phi_mode)
    return row


def _scan(dynamodb: Any, table: str) -> Iterator[list[dict[str, Any]]]:
    """The table's items page by page, each next page requested as soon as the one before it arrives.

    The endpoint reads page k+1 while this process compares page k (about 40% of a reconciliation's time is the
    endpoint's, which otherwise waited for the comparison; boto3's clients are thread-safe). At most two pages
    are held.
    """
    kwargs: dict[str, Any] = {"TableName": table, "ConsistentRead": True}
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="reconcile-scan") as reader:
        pending = reader.submit(dynamodb.scan, **kwargs)
        while True:
            page = pending.result()
            last = page.get("LastEvaluatedKey")
            if last:
                pending = reader.submit(dynamodb.scan, **kwargs, ExclusiveStartKey=last)
            yield page.get("Items", [])
            if not last:
                return


def _fetch_live(cursor: Any, tables: TableNames, claim_ids: Sequence[str]) -> dict[str, dict[str, Any]]:
    columns = ", ".join(rows.COLUMN_NAMES)
    found: dict[str, dict[str, Any]] = {}
    for start in range(0, len(claim_ids), 500):
        chunk = list(claim_ids[start : start + 500])
        marks = ", ".join("?" * len(chunk))
        cursor.execute(
            f"SELECT {columns} FROM {tables.destination} WHERE NOT {IS_DELETED} AND {KEY_COLUMN} IN ({marks})", chunk
        )
        for record in cursor.fetchall():
            row = dict(zip(rows.COLUMN_NAMES, record, strict=True))
            found[row[KEY_COLUMN]] = row
    return found


def release_emulator_results(connection: Any) -> None:
    """fakesnow keeps every statement's result and bound parameters (``results_cache``, for RESULT_SCAN) for the
    connection's lifetime: about 1 MB per batch of rows. The demo never reads old results, so it drops them; a real
    connection has no such attribute and is left alone."""
    cache = getattr(connection, "results_cache", None)
    if isinstance(cache, dict):
        cache.clear()


def _scalar(cursor: Any, sql: str) -> int:
    cursor.execute(sql)
    value = cursor.fetchone()[0]
    return int(value or 0)


def reconcile(
    connection: Any,
    dynamodb: Any,
    table_name: str,
    region: str,
    ledger: EventLedger | None,
    settings: Any,
    *,
    event_log: Path | None = None,
    tables: TableNames = DEFAULT_TABLES,
    expected_events: int | None = None,
) -> Reconciliation:
    """Compare DynamoDB with the destination and the bridge's events with the history (see the module docstring).

    ``ledger`` None (no bridge): ``expected_events`` is the number of changes written, compared by count only.
    ``settings``: the claim processor's (``ClaimPipeline.claim_settings``), with the run's HMAC key.

    Raises:
        ValueError: when neither ``ledger`` nor ``expected_events`` is given, or for Safe Harbor settings.
    """
    from claimflow.claims import PhiMode

    if ledger is None and expected_events is None:
        raise ValueError("reconcile needs the bridge's ledger or the expected number of events")
    if settings.phi_mode is PhiMode.SAFE_HARBOR:  # checked here: per item it would read as "unbuildable"
        raise ValueError("the reconciliation recomputes Pass Through and Pseudonymize rows only")
    result = Reconciliation(bridge_events=ledger.count if ledger is not None else int(expected_events or 0))
    cursor = connection.cursor()
    try:
        for items in _scan(dynamodb, table_name):
            result.source_claims += len(items)
            ids = [item["claim_id"]["S"] for item in items]
            live = _fetch_live(cursor, tables, ids)
            for claim_id, item in zip(ids, items, strict=True):
                actual = live.get(claim_id)
                if actual is None:
                    result.missing_claims.append(claim_id)
                    continue
                try:
                    expected = expected_row(item, region, table_name, int(actual["eventCreationUnixTime"]), settings)
                except ValueError:  # InvalidClaim / DecodeError: no value in the message, only rule and field
                    result.unbuildable.append(claim_id)
                    continue
                differing = compare_rows(expected, actual)
                if differing:
                    result.differing[claim_id] = differing
            release_emulator_results(connection)
        result.destination_live = _scalar(cursor, f"SELECT COUNT(*) FROM {tables.destination} WHERE NOT {IS_DELETED}")
        result.destination_tombstones = _scalar(cursor, f"SELECT COUNT(*) FROM {tables.destination} WHERE {IS_DELETED}")
        result.history_rows = _scalar(cursor, f"SELECT COUNT(*) FROM {tables.history}")
        history = EventLedger()
        cursor.execute(f"SELECT DISTINCT eventId FROM {tables.history}")
        while batch := cursor.fetchmany(10_000):
            for (event_id,) in batch:
                history.add(str(event_id))
        result.history_distinct_events = history.count
        if ledger is not None and (history.count, history.digest) != (ledger.count, ledger.digest):
            _explain_events(cursor, tables, event_log, result)
    finally:
        cursor.close()
    _judge(result)
    return result


def _explain_events(cursor: Any, tables: TableNames, event_log: Path | None, result: Reconciliation) -> None:
    # Only on a mismatch: holding both id sets in memory is fine for a diagnosis.
    cursor.execute(f"SELECT DISTINCT eventId FROM {tables.history}")
    in_history = {str(r[0]) for r in cursor.fetchall()}
    if event_log is None or not event_log.exists():
        result.problems.append("history does not hold exactly the bridge's events (no event log to list them)")
        return
    produced = {line.strip() for line in event_log.read_text(encoding="ascii").splitlines() if line.strip()}
    result.missing_events = sorted(produced - in_history)[:MAX_LISTED]
    result.unexpected_events = sorted(in_history - produced)[:MAX_LISTED]


def _judge(result: Reconciliation) -> None:
    def listed(ids: Sequence[str]) -> str:
        more = f" (+{len(ids) - MAX_LISTED} more)" if len(ids) > MAX_LISTED else ""
        return ", ".join(ids[:MAX_LISTED]) + more

    if result.missing_claims:
        result.problems.append(f"{len(result.missing_claims)} claims in DynamoDB are not live in Snowflake: "
                               f"{listed(result.missing_claims)}")
    if result.unbuildable:
        result.problems.append(f"{len(result.unbuildable)} DynamoDB items do not build a claim row: "
                               f"{listed(result.unbuildable)}")
    if result.differing:
        columns = Counter(name for names in result.differing.values() for name in names)
        shown = [f"{cid} ({', '.join(cols)})" for cid, cols in list(result.differing.items())[:MAX_LISTED]]
        result.problems.append(f"{len(result.differing)} claims differ; columns: {dict(columns)}; claims: "
                               f"{'; '.join(shown)}")
    if result.destination_live != result.source_claims:
        result.problems.append(f"Snowflake has {result.destination_live} live claims, DynamoDB {result.source_claims} "
                               "(claims alive in Snowflake but deleted in DynamoDB?)")
    if result.history_distinct_events != result.bridge_events or result.missing_events or result.unexpected_events:
        result.problems.append(
            f"history holds {result.history_distinct_events} distinct events, the bridge produced "
            f"{result.bridge_events}"
            + (f"; missing: {listed(result.missing_events)}" if result.missing_events else "")
            + (f"; unexpected: {listed(result.unexpected_events)}" if result.unexpected_events else "")
        )
