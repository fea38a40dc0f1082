"""The fused path: raw Kinesis DynamoDB records -> routed claim rows, in one pass per record.

The two-step path (``claimflow.events.decode_records`` then ``route_events``) decodes every attribute of every
image into Python values and then maps them onto columns. Here the image is read *once*: DynamoDB JSON is walked
with the mapping table, decoding each attribute straight into its column with the decoder's own value functions.
Anything outside the common shape (wrapper layouts, a record the decoder would reject, an invalid claim) is handed
to the two-step path for that record, so both paths give identical results (tests hold them to that). The Kinesis
position from FlowFile attributes is applied by the decoder's own rules (``claimflow.events.FlowFilePosition``).
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Mapping
from typing import Any

import orjson

from claimflow.claims import shaped
from claimflow.claims.build import (
    KEY_WIDTH,
    Routed,
    build_row_from_mapped,
    cached_timestamp,
    route_events,
    timestamp_from_us,
)
from claimflow.claims.errors import InvalidClaim
from claimflow.claims.mapping import (
    IGNORED,
    MAPPING_TABLES,
    PROCEDURE_KEYS,
    PROCEDURES,
    MappedItem,
    map_procedure,
    normalise_key,
)
from claimflow.claims.settings import ClaimSettings, PhiMode
from claimflow.dynamodb import (
    MAX_ITEM_BYTES,
    MAX_NESTING_DEPTH,
    AttributeValueError,
    decode_image,
    decode_value,
    parse_number,
)
from claimflow.events import (
    EVENT_NAMES,
    ChangeEvent,
    FlowFilePosition,
    KinesisPosition,
    Rejection,
    creation_time_us,
    decode_record_or_rejection,
    decode_records,
)

_RELATIONSHIP = {"INSERT": "insert", "MODIFY": "modify", "REMOVE": "remove"}
_TTL_PRINCIPAL = "dynamodb.amazonaws.com"


class _Unusual(Exception):
    """The record leaves the fused path's common shape: the two-step path handles it."""


def _scalar(av: Any, depth: int) -> Any:
    # S and N inline (most attributes); anything else through the decoder's own function.
    if av.__class__ is dict and len(av) == 1:
        ((tag, inner),) = av.items()
        if tag == "S" and inner.__class__ is str:
            return inner
        if tag == "N":
            return parse_number(inner)
    return decode_value(av, depth)


_MISSING = object()
_MALFORMED = object()  # a line that is not JSON (a line ``null`` parses to None: the decoder rejects that itself)
# What a raw key (as written) is in a group: (kind, target). Saves normalising and classifying the same keys on every
# record. Kinds: a column, a nested group, the procedure lines, unknown, or known and ignored (the TTL attribute).
_COLUMN, _GROUP, _LINES, _UNKNOWN, _IGNORED = 0, 1, 2, 3, 4
_RAW_TARGETS: dict[str, dict[str, tuple[int, str]]] = {group: {} for group in MAPPING_TABLES}
_RAW_PROCEDURE_KEYS: dict[str, str | None] = {}


def _classify(group: str, key: str) -> tuple[int, str]:
    target = MAPPING_TABLES[group].get(normalise_key(key))
    if target is None:
        found = (_UNKNOWN, "")
    elif target == IGNORED:
        found = (_IGNORED, "")
    elif target[0] == "@":
        found = (_GROUP, target[1:])
    elif target == PROCEDURES:
        found = (_LINES, target)
    else:
        found = (_COLUMN, target)
    cache = _RAW_TARGETS[group]
    if len(cache) < 4096:
        cache[key] = found
    return found


def _map_av_group(
    image: dict[str, Any],
    group: str,
    path: str,
    depth: int,
    fields: dict[str, Any],
    unknown: list[str],
    conflicts: list[str],
) -> None:
    """claimflow.claims.mapping._map_group over DynamoDB JSON (same rules; tests compare the two). ``depth`` is
    the decoder's nesting depth of this group's values (0 for top-level attributes)."""
    cache = _RAW_TARGETS[group]
    for key, av in image.items():
        if av is None:  # a NiFi reader's padding for a key absent from this item (the decoder skips it too)
            continue
        kind, target = cache.get(key) or _classify(group, key)
        if kind == _COLUMN:
            value = av.get("S") if av.__class__ is dict and len(av) == 1 else None
            if value.__class__ is not str:
                value = _scalar(av, depth)
        elif kind == _GROUP:
            inner = av.get("M") if av.__class__ is dict and len(av) == 1 else None
            if inner.__class__ is dict and depth < MAX_NESTING_DEPTH:
                _map_av_group(inner, target, f"{path}{key}.", depth + 1, fields, unknown, conflicts)
            elif decode_value(av, depth) is not None:
                unknown.append(path + key)
            continue
        elif kind == _LINES:
            value = _av_procedures(av, depth, unknown)
        elif kind == _IGNORED:
            decode_value(av, depth)  # validated like any attribute, then dropped
            continue
        else:
            decode_value(av, depth)  # still validated: the decoder would reject the record for a bad value anywhere
            unknown.append(path + key)
            continue
        if target in fields:
            if fields[target] != value and value is not None:
                if fields[target] is None:
                    fields[target] = value
                else:
                    conflicts.append(target)
        else:
            fields[target] = value


def _av_procedures(av: Any, depth: int, unknown: list[str]) -> Any:
    """Procedure lines straight from DynamoDB JSON, mapped as mapping.map_procedure maps decoded ones."""
    lines = av.get("L") if av.__class__ is dict and len(av) == 1 else None
    if lines.__class__ is not list or depth + 2 > MAX_NESTING_DEPTH:
        value = decode_value(av, depth)
        return [map_procedure(line, i, unknown) for i, line in enumerate(value)] if value.__class__ is list else value
    result = []
    for i, line_av in enumerate(lines):
        line = line_av.get("M") if line_av.__class__ is dict and len(line_av) == 1 else None
        if line.__class__ is not dict:
            result.append(map_procedure(decode_value(line_av, depth + 1), i, unknown))
            continue
        mapped: dict[str, Any] = {}
        for key, value_av in line.items():
            if value_av is None:
                continue
            name: Any = _RAW_PROCEDURE_KEYS.get(key, _MISSING)
            if name is _MISSING:
                name = PROCEDURE_KEYS.get(normalise_key(key))
                if len(_RAW_PROCEDURE_KEYS) < 4096:
                    _RAW_PROCEDURE_KEYS[key] = name
            value = _scalar(value_av, depth + 2)
            if name is None:
                unknown.append(f"procedures[{i}].{key}")
            elif name not in mapped:
                mapped[name] = value
        result.append(mapped)
    return result


def map_av_item(image: dict[str, Any]) -> MappedItem:
    """Map a DynamoDB-JSON image onto row columns (values decoded exactly as the decoder does).

    Raises:
        AttributeValueError: a value the decoder would reject.
    """
    fields: dict[str, Any] = {}
    unknown: list[str] = []
    conflicts: list[str] = []
    _map_av_group(image, "claim", "", 0, fields, unknown, conflicts)
    return MappedItem(fields, unknown, conflicts)


def _event_time_us(change: dict[str, Any]) -> int:
    value = change.get("ApproximateCreationDateTime")
    if value.__class__ is not int or value <= 0:
        raise _Unusual  # the decoder words the rejection
    return creation_time_us(value, change.get("ApproximateCreationDateTimePrecision"))


def _fused(
    obj: Any,
    raw_length: int | None,
    index: int,
    settings: ClaimSettings,
    ingest_time_us: int,
    position: KinesisPosition | None = None,
) -> Routed:
    """One plain record through the fused path. ``raw_length`` is the record's JSON size (None when it was not
    read from bytes: then SizeBytes must show the item is within DynamoDB's limit, else the decoder checks).
    ``position`` is the record's Kinesis position from the FlowFile attributes (see :func:`_record_position`).

    Raises:
        _Unusual: the record needs the two-step path (which also produces its rejection, if any).
    """
    if obj.__class__ is not dict or "value" in obj or "kinesisMetadata" in obj:
        raise _Unusual
    if raw_length is not None and raw_length > MAX_ITEM_BYTES:
        raise _Unusual
    event_id = obj.get("eventID")
    name = obj.get("eventName")
    change = obj.get("dynamodb")
    if event_id.__class__ is not str or not event_id or name.__class__ is not str or name not in EVENT_NAMES:
        raise _Unusual
    if change.__class__ is not dict:
        raise _Unusual
    event_time_us = _event_time_us(change)
    raw_keys, raw_new, raw_old = change.get("Keys"), change.get("NewImage"), change.get("OldImage")
    if raw_keys.__class__ is not dict or not raw_keys:
        raise _Unusual
    is_remove = name == "REMOVE"
    image, other = (raw_old, raw_new) if is_remove else (raw_new, raw_old)
    if image.__class__ is not dict or (other is not None and other.__class__ is not dict):
        raise _Unusual
    try:
        keys = decode_image(raw_keys)
        if not keys:
            raise _Unusual
        if other is not None:
            decode_image(other)  # validated like the decoder does, not used
        mapped = map_av_item(image)
    except (AttributeValueError, RecursionError):
        raise _Unusual from None
    size_bytes = change.get("SizeBytes")
    if raw_length is None and (size_bytes.__class__ is not int or size_bytes > MAX_ITEM_BYTES):
        raise _Unusual  # the decoder measures the images itself
    identity = obj.get("userIdentity")
    table_name, region = obj.get("tableName"), obj.get("awsRegion")
    event = ChangeEvent(
        event_id=event_id,
        event_name=name,
        table_name=table_name if table_name.__class__ is str and table_name else None,
        aws_region=region if region.__class__ is str and region else None,
        event_time_us=event_time_us,
        ttl_delete=is_remove
        and identity.__class__ is dict
        and identity.get("type") == "Service"
        and identity.get("principalId") == _TTL_PRINCIPAL,
        keys=keys,
        new_image=None,  # not decoded on this path; build_row_from_mapped does not read them
        old_image=None,
        kinesis=position,
        size_bytes=size_bytes if size_bytes.__class__ is int else None,
    )
    try:
        row = build_row_from_mapped(event, mapped, settings, ingest_time_us)
    except InvalidClaim:
        raise _Unusual from None  # the two-step path builds the invalid outcome with the full record
    return Routed(_RELATIONSHIP[name], row, None, index, event_id, None)  # type: ignore[arg-type]

_FAST_FAILURES = (shaped.Unusual, _Unusual, KeyError, TypeError, AttributeError, ValueError, IndexError, OverflowError,
                  RecursionError)


def _position_columns(position: KinesisPosition | None) -> dict[str, Any] | None:
    """The Kinesis columns of a row for ``position``, as build._cdc_columns fills them (None: no position)."""
    if position is None:
        return None
    arrival_ms = position["arrival_time_ms"]
    return {
        "kinesisShardId": position["shard_id"],
        "kinesisSequenceNumber": position["sequence_number"],
        "kinesisPartitionKey": position["partition_key"],
        "kinesisArrivalTime": None if arrival_ms is None else timestamp_from_us(int(arrival_ms) * 1000),
    }


def _record_position(attributes: Mapping[str, str] | None, single_record: bool) -> KinesisPosition | None:
    """The Kinesis position the decoder gives a plain (unwrapped) record of a FlowFile with these attributes."""
    flowfile = FlowFilePosition.from_attributes(attributes)
    return None if flowfile is None else flowfile.position(single_record)


def _fast(
    obj: Any,
    raw_length: int | None,
    index: int,
    settings: ClaimSettings,
    ingest_time_us: int,
    kinesis_columns: dict[str, Any] | None = None,
) -> Routed:
    """A clean record through the claim-shaped walk (claimflow.claims.shaped): the same outcome as :func:`_fused`
    with fewer passes. The envelope checks are _fused's. ``kinesis_columns`` (from :func:`_position_columns`)
    fill the Kinesis columns; None leaves them null.

    Raises:
        shaped.Unusual (or a lookup/type/value error on an unexpected shape): take :func:`_fused` instead.
    """
    if settings.phi_mode is PhiMode.SAFE_HARBOR:
        raise _Unusual  # de-identified on the general path, which finishes every row (claimflow.claims.phi)
    if obj.__class__ is not dict or "value" in obj or "kinesisMetadata" in obj:
        raise shaped.Unusual
    if raw_length is not None and raw_length > MAX_ITEM_BYTES:
        raise shaped.Unusual
    event_id = obj["eventID"]
    name = obj["eventName"]
    change = obj["dynamodb"]
    if event_id.__class__ is not str or not event_id or name.__class__ is not str or name not in EVENT_NAMES:
        raise shaped.Unusual
    if change.__class__ is not dict:
        raise shaped.Unusual
    event_time_us = _event_time_us(change)
    raw_keys: Any = change["Keys"]
    raw_new, raw_old = change.get("NewImage"), change.get("OldImage")
    # The table's own key, the common case of build._event_key.
    key_av = raw_keys["claim_id"]
    key = key_av["S"]
    if len(raw_keys) != 1 or len(key_av) != 1 or key.__class__ is not str:
        raise shaped.Unusual
    if not key or len(key) > KEY_WIDTH or key.strip() is not key:
        raise shaped.Unusual
    is_remove = name == "REMOVE"
    image, other = (raw_old, raw_new) if is_remove else (raw_new, raw_old)
    if image.__class__ is not dict or (other is not None and other.__class__ is not dict):
        raise shaped.Unusual
    size_bytes = change.get("SizeBytes")
    if raw_length is None and (size_bytes.__class__ is not int or size_bytes > MAX_ITEM_BYTES):
        raise shaped.Unusual
    row = shaped.claim_row(image, key, event_time_us, settings, settings.strict and not is_remove)
    if other is not None:
        # The decoder would reject the record for a bad value in the other image too. An attribute equal to the
        # image's own was just validated by claim_row (as strictly as the decoder); only changed ones are decoded.
        # (A MODIFY usually changes a few attributes of the item.)
        get = image.get
        for attribute, av in other.items():
            if av is not None and get(attribute) != av:
                decode_value(av, 0)
    identity = obj.get("userIdentity")
    table_name, region = obj.get("tableName"), obj.get("awsRegion")
    # The CDC columns as build._cdc_columns fills them.
    row["eventName"] = name
    row["eventCreationUnixTime"] = event_time_us
    row["eventTimeUtc"] = timestamp_from_us(event_time_us)
    row["eventId"] = event_id
    row["ttlDelete"] = (
        is_remove
        and identity.__class__ is dict
        and identity.get("type") == "Service"
        and identity.get("principalId") == _TTL_PRINCIPAL
    )
    row["sourceTable"] = table_name if table_name.__class__ is str and table_name else None
    row["awsRegion"] = region if region.__class__ is str and region else None
    row["ingestTime"] = cached_timestamp(ingest_time_us)
    if kinesis_columns is not None:
        row.update(kinesis_columns)
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
        return _fast(obj, None, index, settings, ingest_time_us, _position_columns(position))
    except _FAST_FAILURES:
        pass
    try:
        return _fused(obj, None, index, settings, ingest_time_us, position)
    except _Unusual:
        pass
    item = decode_record_or_rejection(obj, index, attributes, single_record=single_record)
    return next(route_events([item], settings, ingest_time_us, first_index=index))


def _ndjson_lines(data: bytes) -> list[bytes] | None:
    """The non-blank lines when ``data`` is NDJSON of objects (two or more lines); None for any other layout."""
    stripped = data.strip()
    if not stripped.startswith(b"{") or b"\n" not in stripped:
        return None
    lines = [line for line in stripped.split(b"\n") if line.strip()]
    try:
        orjson.loads(lines[0])
    except orjson.JSONDecodeError:
        return None  # maybe one pretty-printed document: the decoder decides
    return lines if len(lines) > 1 else None


def route_records_fused(
    data: bytes,
    settings: ClaimSettings,
    ingest_time_us: int | None = None,
    attributes: Mapping[str, str] | None = None,
) -> Iterator[Routed]:
    """Raw Kinesis DynamoDB records -> routed claim rows; same results as ``route_records``, faster.

    NDJSON content takes the fused path record by record, with the Kinesis position of ``attributes`` applied as
    the decoder applies it to a record of a many-record FlowFile; other layouts go through the decoder. Exactly
    one Routed per record, in input order.
    """
    if ingest_time_us is None:
        ingest_time_us = time.time_ns() // 1000
    lines = _ndjson_lines(data)
    if lines is None:
        yield from route_events(decode_records(data, attributes), settings, ingest_time_us)
        return
    position = _record_position(attributes, single_record=False)  # two or more lines: never the only record
    kinesis_columns = _position_columns(position)
    fast, fast_failures = _fast, _FAST_FAILURES
    for index, line in enumerate(lines):
        try:
            obj = orjson.loads(line)
        except orjson.JSONDecodeError:
            yield from _two_step(line, _MALFORMED, index, settings, ingest_time_us, attributes)
            continue
        try:
            routed = fast(obj, len(line), index, settings, ingest_time_us, kinesis_columns)
        except fast_failures:
            routed = None  # outside the clean common case: the general fused path decides
        if routed is not None:
            yield routed
            continue
        try:
            yield _fused(obj, len(line), index, settings, ingest_time_us, position)
        except _Unusual:
            yield from _two_step(line, obj, index, settings, ingest_time_us, attributes)


def _two_step(
    line: bytes,
    obj: Any,
    index: int,
    settings: ClaimSettings,
    ingest_time_us: int,
    attributes: Mapping[str, str] | None,
) -> Iterator[Routed]:
    item: ChangeEvent | Rejection
    if obj is _MALFORMED:
        item = Rejection.malformed(index, line)
    else:
        item = decode_record_or_rejection(obj, index, attributes, single_record=False, raw=line)
    yield from route_events([item], settings, ingest_time_us, first_index=index)
