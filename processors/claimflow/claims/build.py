"""Claim rows from change events, and routing of a stream of events to insert/modify/remove/invalid."""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import TYPE_CHECKING, Any, Literal

import orjson

from claimflow.caching import bounded_cache
from claimflow.claims.enrich import enrich
from claimflow.claims.errors import InvalidClaim
from claimflow.claims.mapping import MappedItem, map_item
from claimflow.claims.phi import apply_phi, finish_row, phi_mode_label
from claimflow.claims.settings import ClaimSettings
from claimflow.claims.validate import COLUMN_WIDTHS, PROCEDURES, ValidatedClaim, claim_id, validate_mapped
from claimflow.events import MAX_RECORD_INDEX, is_event_id, shown_event_id
from claimflow.kinesis import MAX_SEQUENCE_DIGITS
from claimflow.rows import COLUMN_NAMES, COLUMNS, COLUMNS_BY_NAME, VARCHAR_WIDTHS, Group, Kind

if TYPE_CHECKING:
    from claimflow.events import ChangeEvent, Rejection

Relationship = Literal["insert", "modify", "remove", "invalid"]
_RELATIONSHIP: dict[str, Relationship] = {"INSERT": "insert", "MODIFY": "modify", "REMOVE": "remove"}
_EPOCH_ORDINAL = date(1970, 1, 1).toordinal()
KEY_WIDTH = COLUMN_WIDTHS["claimId"]
ROW_TEMPLATE: dict[str, Any] = dict.fromkeys(COLUMN_NAMES)  # copied per row: every column, in order
# The start of the rule of an outcome for an unexpected exception (see :func:`unexpected`).
INTERNAL_ERROR = "internal error"


@dataclass(slots=True)
class Routed:
    """One record's outcome. ``row`` for insert/modify/remove; ``error``, ``rule`` and ``record`` (the original,
    for the dead-letter content) for invalid. ``error`` names the record and the rule, never a value; ``rule`` is
    the rule alone (``error`` without "record 3 (eventId e): "), for grouping outcomes by rule. Treat it as
    read-only (not frozen only because a frozen dataclass costs a microsecond more per record to create)."""

    relationship: Relationship
    row: dict[str, Any] | None
    error: str | None
    index: int
    event_id: str | None
    record: dict[str, Any] | None
    rule: str | None = None


@bounded_cache(64)  # ingestTime repeats for a whole batch
def cached_timestamp(epoch_us: int) -> str:
    return timestamp_from_us(epoch_us)


@bounded_cache(1024)
def _iso_day(days_since_epoch: int) -> str:
    return date.fromordinal(_EPOCH_ORDINAL + days_since_epoch).isoformat()


def timestamp_from_us(epoch_us: int) -> str:
    """Epoch microseconds -> "YYYY-MM-DDTHH:MM:SS.ffffff" (UTC, no offset), the row's timestamp format.

    Integer arithmetic with the day's text cached: one per record for the event time, so it is kept cheap.
    """
    days, micros = divmod(epoch_us, 86_400_000_000)
    seconds, micros = divmod(micros, 1_000_000)
    hours, seconds = divmod(seconds, 3600)
    minutes, seconds = divmod(seconds, 60)
    return f"{_iso_day(days)}T{hours:02d}:{minutes:02d}:{seconds:02d}.{micros:06d}"


def _iso_timestamp(value: datetime) -> str:
    return value.isoformat(timespec="microseconds")


# Columns whose normalised values are Decimal, date or datetime -> the function giving their JSON text form.
_TEXT_FORMS: tuple[tuple[str, Any], ...] = tuple(
    (c.name, {Kind.DECIMAL: str, Kind.DATE: date.isoformat, Kind.TIMESTAMP: _iso_timestamp}[c.kind])
    for c in COLUMNS
    if c.group is not Group.CDC and c.kind in (Kind.DECIMAL, Kind.DATE, Kind.TIMESTAMP)
)


def _json_ready(values: dict[str, Any]) -> None:
    for name, text_form in _TEXT_FORMS:
        value = values[name]
        if value is not None:
            values[name] = text_form(value)
    lines = values[PROCEDURES]
    if lines:
        values[PROCEDURES] = [
            {
                **line,
                "modifiers": list(line["modifiers"]),  # cached line dicts are shared: the row gets its own list
                "charge": None if line["charge"] is None else str(line["charge"]),
            }
            for line in lines
        ]


def kinesis_columns(position: Mapping[str, Any] | None) -> dict[str, Any]:
    """The row's Kinesis columns for a record's position (``claimflow.events.KinesisPosition``; None: all null)."""
    if not position:
        return dict.fromkeys(_KINESIS_COLUMNS)
    arrival_ms = position.get("arrival_time_ms")
    return {
        "kinesisShardId": position.get("shard_id"),
        "kinesisSequenceNumber": position.get("sequence_number"),
        "kinesisPartitionKey": position.get("partition_key"),
        "kinesisArrivalTime": None if arrival_ms is None else timestamp_from_us(int(arrival_ms) * 1000),
    }


_KINESIS_COLUMNS = ("kinesisShardId", "kinesisSequenceNumber", "kinesisPartitionKey", "kinesisArrivalTime")


def cdc_columns(
    event_name: str,
    event_time_us: int,
    event_id: str,
    ttl_delete: bool,
    table_name: str | None,
    aws_region: str | None,
    kinesis: dict[str, Any],
    record_index: int | None,
    ingest_time_us: int,
) -> dict[str, Any]:
    """The CDC columns of a row, in row order; ``kinesis`` from :func:`kinesis_columns`, ``record_index`` the
    change's position in the FlowFile it was first read from (:attr:`claimflow.events.ChangeEvent.record_index`)."""
    return {
        "eventName": event_name,
        "eventCreationUnixTime": event_time_us,
        "eventTimeUtc": timestamp_from_us(event_time_us),
        "eventId": event_id,
        "ttlDelete": ttl_delete,
        "sourceTable": table_name,
        "awsRegion": aws_region,
        **kinesis,
        "flowFileRecordIndex": record_index,
        "ingestTime": cached_timestamp(ingest_time_us),
    }


def _cdc_columns(event: ChangeEvent, ingest_time_us: int) -> dict[str, Any]:
    return cdc_columns(
        event.event_name,
        event.event_time_us,
        event.event_id,
        bool(event.ttl_delete),
        event.table_name,
        event.aws_region,
        kinesis_columns(event.kinesis),
        event.record_index,
        ingest_time_us,
    )


def _event_key(event: ChangeEvent) -> str | None:
    """The claim id from the event's key attributes, or None when the keys lack it."""
    if not event.keys:
        return None
    key = event.keys.get("claim_id")
    if key.__class__ is str and len(event.keys) == 1 and key.strip() is key and 0 < len(key) <= KEY_WIDTH:
        return key  # the table's own key attribute: the common case
    raw = map_item(event.keys).fields.get("claimId")
    return None if raw is None else claim_id(raw)


def _claim_row(
    mapped: MappedItem, key: str | None, event_time_us: int, settings: ClaimSettings
) -> dict[str, Any]:
    if mapped.fields.get("claimId") is None and key is not None:
        mapped.fields["claimId"] = key
    claim = validate_mapped(mapped, ROW_TEMPLATE.copy())  # every column present, in order, from the start
    if key is not None and claim.values["claimId"] != key:
        raise InvalidClaim("claimId", "differs from the event key")
    return claim_row_of(claim, event_time_us, settings)


def claim_row_of(claim: ValidatedClaim, event_time_us: int, settings: ClaimSettings) -> dict[str, Any]:
    """The claim columns of a validated claim: enriched (flags final) and PHI-handled, in place. Every row
    builder ends with this and then :func:`complete_row`: the rules after validation live here only."""
    row = enrich(claim, event_time_us, in_place=True)
    apply_phi(row, settings)
    return row


def complete_row(row: dict[str, Any], cdc: dict[str, Any], settings: ClaimSettings) -> None:
    """Finish a claim row in place: JSON-ready values, the CDC columns (from :func:`cdc_columns`), Safe Harbor.

    Raises:
        InvalidClaim: a CDC value the row's DDL cannot hold (see :func:`check_cdc_columns`).
    """
    check_cdc_columns(cdc)
    _json_ready(row)
    row.update(cdc)  # the keys exist already: the column order stays
    finish_row(row, settings)


# The CDC columns held to their DDL width here, where every row is finished (the claim columns are held to theirs
# by claimflow.claims.validate): a value Snowflake would refuse must fail its own record, not the merge batch.
_CDC_WIDTHS: tuple[tuple[str, int], ...] = tuple(
    (name, width) for name, width in VARCHAR_WIDTHS.items() if COLUMNS_BY_NAME[name].group is Group.CDC
)


def check_cdc_columns(cdc: Mapping[str, Any]) -> None:
    """Hold CDC values to the row contract: every VARCHAR within its width, the eventId of an event id's shape,
    the sequence number within the merge's digits.

    Raises:
        InvalidClaim: naming the column and the rule, never the value.
    """
    for name, width in _CDC_WIDTHS:
        value = cdc.get(name)
        if value is not None and len(value) > width:
            raise InvalidClaim(name, f"longer than {width} characters")
    if not is_event_id(cdc.get("eventId")):
        raise InvalidClaim("eventId", "not an event id")
    sequence = cdc.get("kinesisSequenceNumber")
    if sequence is not None and len(sequence) > MAX_SEQUENCE_DIGITS:
        raise InvalidClaim("kinesisSequenceNumber", f"more than {MAX_SEQUENCE_DIGITS} digits")
    record_index = cdc.get("flowFileRecordIndex")
    if record_index is not None and not 0 <= record_index < MAX_RECORD_INDEX:
        raise InvalidClaim("flowFileRecordIndex", f"not a record position below {MAX_RECORD_INDEX}")


def _key_only_row(key: str, reason: str, settings: ClaimSettings) -> dict[str, Any]:
    row = ROW_TEMPLATE.copy()
    row["claimId"] = key
    row["dataQualityFlags"] = [reason]
    row["phiMode"] = phi_mode_label(settings.phi_mode)
    return row


def build_row(event: ChangeEvent, settings: ClaimSettings, ingest_time_us: int) -> dict[str, Any]:
    """The claim row of one change event: every column of rows.COLUMNS, in order, JSON-ready.

    INSERT and MODIFY build from the new image. REMOVE builds from the old image when it validates, else a
    key-only row (claimId and CDC metadata, flag OLD_IMAGE_MISSING or OLD_IMAGE_INVALID): a delete always gets
    through. In strict mode any data-quality flag rejects an INSERT or MODIFY.

    Raises:
        InvalidClaim: an unknown event name, a missing or bad image for INSERT/MODIFY, a broken rule, a key that
        differs from the image's claim id, or (REMOVE) no claim id in the keys or old image.
    """
    image = event.old_image if event.event_name == "REMOVE" else event.new_image
    return build_row_from_mapped(event, None if image is None else map_item(image), settings, ingest_time_us)


def build_row_from_mapped(
    event: ChangeEvent, mapped: MappedItem | None, settings: ClaimSettings, ingest_time_us: int
) -> dict[str, Any]:
    """:func:`build_row` with the event's image (old for REMOVE, new otherwise) already mapped (or None).

    Raises:
        InvalidClaim: as :func:`build_row`.
    """
    name = event.event_name
    if name not in _RELATIONSHIP:
        raise InvalidClaim("eventName", "not INSERT, MODIFY or REMOVE")
    key = _event_key(event)
    if name == "REMOVE":
        if mapped is None:
            if key is None:
                raise InvalidClaim("keys", "no claim id")
            claim = _key_only_row(key, "OLD_IMAGE_MISSING", settings)
        else:
            try:
                claim = _claim_row(mapped, key, event.event_time_us, settings)
            except InvalidClaim as exc:
                if key is None and exc.field != "claimId":
                    key = _old_image_key(mapped)
                if key is None:
                    raise InvalidClaim("keys", "no claim id") from None
                claim = _key_only_row(key, "OLD_IMAGE_INVALID", settings)
    else:
        if mapped is None:
            raise InvalidClaim("newImage", "missing")
        claim = _claim_row(mapped, key, event.event_time_us, settings)
        if settings.strict and claim["dataQualityFlags"]:
            raise InvalidClaim("dataQualityFlags", "strict mode: " + ",".join(claim["dataQualityFlags"]))
    complete_row(claim, _cdc_columns(event, ingest_time_us), settings)
    return claim


def _old_image_key(mapped: MappedItem) -> str | None:
    try:
        raw = mapped.fields.get("claimId")
        return None if raw is None else claim_id(raw)
    except InvalidClaim:
        return None


def _invalid(index: int, event_id: str | None, rule: str, record: dict[str, Any] | None) -> Routed:
    """The invalid outcome of a claim rule: the one place a claim reason gets its record designation."""
    event_id = shown_event_id(event_id)  # an id of the wrong shape may be data: never repeated
    error = f"record {index} (eventId {event_id}): {rule}" if event_id else f"record {index}: {rule}"
    return Routed("invalid", None, error, index, event_id, record, rule)


def unexpected(index: int, error: BaseException, original: Any) -> Routed:
    """The invalid outcome of a record whose processing raised what nothing expected (a ClaimFlow bug): the
    record's position and the exception's type only, never its message (which could quote the record)."""
    rule = f"{INTERNAL_ERROR} ({type(error).__name__})"
    return Routed("invalid", None, f"record {index}: {rule}", index, None, _rejection_record(original), rule)


def _rejection_record(raw: Any) -> dict[str, Any] | None:
    if raw is None or isinstance(raw, dict):
        return raw
    if isinstance(raw, bytes | bytearray | memoryview | str):
        try:
            parsed = orjson.loads(raw)
        except orjson.JSONDecodeError:
            parsed = None
        if isinstance(parsed, dict):
            return parsed
        return {"raw": bytes(raw).decode("utf-8", "replace") if not isinstance(raw, str) else raw}
    return {"raw": repr(raw)}


def route_events(
    items: Iterable[ChangeEvent | Rejection],
    settings: ClaimSettings,
    ingest_time_us: int | None = None,
    first_index: int = 0,
) -> Iterator[Routed]:
    """Route each decoded item: a row to insert/modify/remove, or invalid with the reason and the original.

    Exactly one Routed per item (counts in = out + invalid). Rejections from the decoder become invalid. One bad
    record never stops the others. ``ingest_time_us`` defaults to the time routing started (one value per batch).
    A change event's index is its position in ``items`` plus ``first_index``; a Rejection keeps its own.
    """
    if ingest_time_us is None:
        ingest_time_us = time.time_ns() // 1000
    # Imported here: claimflow.events belongs to the decoder and may import this package's users.
    from claimflow.events import Rejection

    for position, item in enumerate(items, first_index):
        if isinstance(item, Rejection):
            # The decoder's reason already names the record (index, eventId) and the rule. A Rejection made
            # without its rule keeps the whole reason as the rule: it never holds a value either.
            rule = item.error if item.rule is None else item.rule
            yield Routed("invalid", None, item.error, item.index, item.event_id, _rejection_record(item.raw), rule)
            continue
        try:
            row = build_row(item, settings, ingest_time_us)
        except InvalidClaim as exc:
            yield _invalid(position, item.event_id, str(exc), orjson.loads(item.to_json()))
            continue
        yield Routed(_RELATIONSHIP[item.event_name], row, None, position, item.event_id, None)


def route_records(
    data: bytes,
    settings: ClaimSettings,
    ingest_time_us: int | None = None,
    attributes: Mapping[str, str] | None = None,
) -> Iterator[Routed]:
    """Raw Kinesis DynamoDB records (any layout ``claimflow.events.decode_records`` accepts) -> routed rows.

    The two-step path: the decoder, then :func:`route_events`. The reference the fused path
    (``claimflow.claims.fused``: ``route_records_fused`` for ``claimflow transform``, ``route_record_fused`` for
    ProcessClaimChange) is held to, and the benchmark's variant a2.
    """
    from claimflow.events import decode_records

    return route_events(decode_records(data, attributes, rules=settings.time_rules), settings, ingest_time_us)
