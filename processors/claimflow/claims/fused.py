"""The fused path: raw Kinesis DynamoDB records -> routed claim rows, decoding and building each row in one go.

The two-step path (``claimflow.events.decode_records`` then ``route_events``) decodes every attribute of every
image into Python values and then maps and validates them. Here a clean record's image is read once, by the
claim-shaped walk (``claimflow.claims.shaped``: the same rules, compiled per attribute layout), and the row is
finished by the one row builder (``claims.build.claim_row_of`` and ``complete_row``). A record outside the clean
common case raises ``shaped.Unusual`` and takes the two-step path, which produces every rejection and finding the
walk does not; nothing else is caught, so a bug is never hidden behind a slower retry. Tests hold both paths to the
same outcomes. The Kinesis position from FlowFile attributes is applied by the decoder's own rules
(``claimflow.kinesis.FlowFilePosition``).
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Mapping
from typing import Any

from claimflow.claims.build import (
    KEY_WIDTH,
    ROW_TEMPLATE,
    Routed,
    cdc_columns,
    claim_row_of,
    complete_row,
    kinesis_columns,
    route_events,
    unexpected,
)
from claimflow.claims.errors import InvalidClaim
from claimflow.claims.settings import ClaimSettings
from claimflow.claims.shaped import Unusual, claim_values
from claimflow.dynamodb import MAX_ITEM_BYTES, AttributeValueError, decode_value
from claimflow.event_time import creation_time_us, implausible_event_time
from claimflow.events import EVENT_NAMES, decode_framed, decode_record_or_rejection
from claimflow.framing import MALFORMED, Content
from claimflow.kinesis import FlowFilePosition, KinesisPosition, latest_arrival_ms, position_problem

_RELATIONSHIP = {"INSERT": "insert", "MODIFY": "modify", "REMOVE": "remove"}
_TTL_PRINCIPAL = "dynamodb.amazonaws.com"


def _record_position(attributes: Mapping[str, str] | None, single_record: bool) -> KinesisPosition | None:
    """The Kinesis position the decoder gives a plain (unwrapped) record of a FlowFile with these attributes."""
    flowfile = FlowFilePosition.from_attributes(attributes)
    return None if flowfile is None else flowfile.position(single_record)


def _checked_other_image(image: dict[str, Any], other: dict[str, Any]) -> None:
    """The decoder rejects a record for a bad value in either image. The walk checked the row's image; of the
    other one only the attributes that differ need decoding (a MODIFY usually changes a few)."""
    get = image.get
    try:
        for attribute, av in other.items():
            if av is not None and get(attribute) != av:
                decode_value(av, 0)
    except AttributeValueError:
        raise Unusual from None


def _fast(
    obj: Any,
    raw_length: int | None,
    index: int,
    settings: ClaimSettings,
    ingest_time_us: int,
    kinesis: dict[str, Any] | None,
    arrival_ms: int | None,
) -> Routed:
    """A clean record through the claim-shaped walk. ``raw_length`` is the record's JSON size (None when it was not
    read from bytes: then SizeBytes must show the item is within DynamoDB's limit, else the decoder checks);
    ``kinesis`` holds the row's Kinesis columns (:func:`claimflow.claims.build.kinesis_columns`), ``arrival_ms``
    the arrival of that position (the event-time bound of :func:`claimflow.event_time.implausible_event_time`).

    Raises:
        Unusual: the record needs the two-step path (which also produces its rejection, if any).
    """
    if obj.__class__ is not dict or "value" in obj or "kinesisMetadata" in obj or kinesis is None:
        raise Unusual  # a wrapper layout (the decoder unwraps it), or a position the decoder rejects
    if raw_length is not None and raw_length > MAX_ITEM_BYTES:
        raise Unusual
    event_id = obj.get("eventID")
    name = obj.get("eventName")
    change = obj.get("dynamodb")
    if event_id.__class__ is not str or not event_id or name.__class__ is not str or name not in EVENT_NAMES:
        raise Unusual
    if change.__class__ is not dict:
        raise Unusual
    created = change.get("ApproximateCreationDateTime")
    if created.__class__ is not int or created <= 0:
        raise Unusual  # the decoder words the rejection
    precision = change.get("ApproximateCreationDateTimePrecision")
    event_time_us = creation_time_us(created, precision)
    rules = settings.time_rules
    if implausible_event_time(event_time_us, precision, arrival_ms, rules.max_clock_skew_us) is not None:
        raise Unusual  # the decoder words the rejection, by the same rule
    event_time_us = rules.placed(event_time_us, created, precision)
    # The table's own key, the common case of build._event_key.
    raw_keys = change.get("Keys")
    if raw_keys.__class__ is not dict or len(raw_keys) != 1:
        raise Unusual
    key_av = raw_keys.get("claim_id")
    if key_av.__class__ is not dict or len(key_av) != 1:
        raise Unusual
    key = key_av.get("S")
    if key.__class__ is not str or not key or len(key) > KEY_WIDTH or key.strip() is not key:
        raise Unusual
    is_remove = name == "REMOVE"
    raw_new, raw_old = change.get("NewImage"), change.get("OldImage")
    image, other = (raw_old, raw_new) if is_remove else (raw_new, raw_old)
    if image.__class__ is not dict or (other is not None and other.__class__ is not dict):
        raise Unusual
    size_bytes = change.get("SizeBytes")
    if size_bytes is not None and (size_bytes.__class__ is not int or not 0 <= size_bytes <= MAX_ITEM_BYTES):
        raise Unusual  # the decoder holds SizeBytes to the limit of the images the record carries
    if raw_length is None and size_bytes is None:
        raise Unusual  # the decoder measures the images itself
    row = claim_row_of(claim_values(image, key, ROW_TEMPLATE), event_time_us, settings)
    if settings.strict and not is_remove and row["dataQualityFlags"]:
        raise Unusual  # the two-step path rejects it, with the record
    if other is not None:
        _checked_other_image(image, other)
    identity = obj.get("userIdentity")
    table_name, region = obj.get("tableName"), obj.get("awsRegion")
    ttl_delete = (
        is_remove
        and identity.__class__ is dict
        and identity.get("type") == "Service"
        and identity.get("principalId") == _TTL_PRINCIPAL
    )
    cdc = cdc_columns(
        name,
        event_time_us,
        event_id,
        ttl_delete,
        table_name if table_name.__class__ is str and table_name else None,
        region if region.__class__ is str and region else None,
        kinesis,
        index,
        ingest_time_us,
    )
    try:
        complete_row(row, cdc, settings)
    except InvalidClaim:
        raise Unusual from None  # a CDC value the DDL cannot hold: the decoder or the claim rules word it
    return Routed(_RELATIONSHIP[name], row, None, index, event_id, None)  # type: ignore[arg-type]


def route_record_fused(
    obj: Any,
    index: int,
    settings: ClaimSettings,
    ingest_time_us: int,
    attributes: Mapping[str, str] | None = None,
    single_record: bool = False,
) -> Routed:
    """One already-parsed Kinesis DynamoDB record (e.g. a NiFi record) -> its Routed outcome, fused path first.

    Same result as ``decode_record`` + ``route_events`` with the same ``attributes`` and ``single_record`` (the
    record is its FlowFile's only one); never raises for bad input (it routes to invalid).
    """
    position = _record_position(attributes, single_record)
    try:
        arrival_ms = latest_arrival_ms(position, FlowFilePosition.from_attributes(attributes))
        kinesis = None if position_problem(position) is not None else kinesis_columns(position)
        return _fast(obj, None, index, settings, ingest_time_us, kinesis, arrival_ms)
    except Unusual:
        pass
    item = decode_record_or_rejection(obj, index, attributes, single_record=single_record, rules=settings.time_rules)
    return next(route_events([item], settings, ingest_time_us, first_index=index))


def route_records_fused(
    data: bytes,
    settings: ClaimSettings,
    ingest_time_us: int | None = None,
    attributes: Mapping[str, str] | None = None,
) -> Iterator[Routed]:
    """Raw Kinesis DynamoDB records -> routed claim rows; same results as ``route_records``, faster.

    The content is framed as the decoder frames it (``claimflow.framing.Content``: one object, a JSON array, NDJSON);
    each record takes the claim-shaped walk, or the decoder and the claim rules when it is unusual, with the
    Kinesis position of ``attributes`` applied by the decoder's rules. Exactly one Routed per record, in input
    order; a record that makes anything raise is routed to invalid as an internal error
    (:func:`claimflow.claims.build.unexpected`).
    """
    if ingest_time_us is None:
        ingest_time_us = time.time_ns() // 1000
    content = Content.of(data)
    flowfile = FlowFilePosition.from_attributes(attributes)  # once per FlowFile, not per record
    position = None if flowfile is None else flowfile.position(content.single)
    # A position the row cannot hold: every record takes the decoder, which rejects it with the rule.
    kinesis = None if position_problem(position) is not None else kinesis_columns(position)
    arrival_ms = latest_arrival_ms(position, flowfile)
    for index, (parsed, raw) in enumerate(content.records):
        try:
            routed = _framed(parsed, raw, index, settings, ingest_time_us, kinesis, arrival_ms, flowfile, content)
        except Exception as error:  # one record's bug must not take the records after it down
            routed = unexpected(index, error, parsed if raw is None else raw)
        yield routed


def _framed(
    parsed: Any,
    raw: bytes | None,
    index: int,
    settings: ClaimSettings,
    ingest_time_us: int,
    kinesis: dict[str, Any] | None,
    arrival_ms: int | None,
    flowfile: FlowFilePosition | None,
    content: Content,
) -> Routed:
    """One framed record of :func:`route_records_fused`: the walk, or the decoder and the claim rules."""
    if parsed is not MALFORMED:
        try:
            return _fast(parsed, content.length if raw is None else len(raw), index, settings, ingest_time_us,
                         kinesis, arrival_ms)
        except Unusual:
            pass
    item = decode_framed(parsed, raw, index, flowfile, content, settings.time_rules)
    return next(route_events([item], settings, ingest_time_us, first_index=index))
