"""The change event: one decoded DynamoDB change, the contract every other part of ClaimFlow consumes.

Input: "Kinesis Data Streams for DynamoDB" records (UTF-8 JSON), as NiFi's ConsumeKinesisStream or
ConsumeKinesis put them in FlowFiles: one record, a JSON array, NDJSON, or the record-oriented "Use Wrapper"
layouts (``{"metadata": {...}, "value": {...}}`` from ConsumeKinesisStream, ``{"kinesisMetadata": {...},
"value": {...}}`` from ConsumeKinesis, or ``kinesisMetadata`` injected into the record itself).

Output: :class:`ChangeEvent` objects (``to_json()`` gives the JSON line) or :class:`Rejection` for a record that
cannot be decoded. Counts always add up: every input record yields exactly one of the two. How content is cut
into records (object, array, NDJSON, pretty-printed) is :mod:`claimflow.framing`'s.

Reasons name the record (0-based index within the FlowFile, eventId when known) and the rule; they never contain
attribute values, which may be PHI. See docs/change-events.md for the field-by-field contract.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import orjson

from claimflow.dynamodb import MAX_ITEM_BYTES, AttributeValueError, decode_image, item_size
from claimflow.event_time import (
    CREATION_NUMBER_TYPES,
    DEFAULT_TIME_RULES,
    MAX_CREATION_VALUE,
    EventTimeRules,
    creation_time_us,
    implausible_event_time,
)
from claimflow.framing import MALFORMED, Content, nonblank_lines
from claimflow.kinesis import (
    BadPosition,
    FlowFilePosition,
    KinesisPosition,
    latest_arrival_ms,
    nonempty_text,
    position_problem,
    sequence_text,
    unwrap,
)
from claimflow.rows import VARCHAR_WIDTHS

EVENT_NAMES = frozenset({"INSERT", "MODIFY", "REMOVE"})

# A snapshot (backfill) item travels as an INSERT whose event id starts with this prefix: "the item held this image
# at the snapshot's time". The merge ranks such a row below every stream event of the same time (see
# docs/backfill.md and claimflow.snowflake.spec); everything else treats it as the INSERT it is. Stream event ids
# (DynamoDB's hex ids, Kinesis UUIDs) never contain a colon.
SNAPSHOT_EVENT_PREFIX = "snapshot:"


def is_snapshot_event_id(event_id: object) -> bool:
    """True for the event id of a snapshot (backfill) row."""
    return isinstance(event_id, str) and event_id.startswith(SNAPSHOT_EVENT_PREFIX)


_TTL_PRINCIPAL = "dynamodb.amazonaws.com"


@dataclass(slots=True)
class ChangeEvent:
    """One decoded DynamoDB change. Images hold plain values with ``N`` as :class:`decimal.Decimal`."""

    event_id: str
    event_name: str  # INSERT | MODIFY | REMOVE
    table_name: str | None
    aws_region: str | None
    event_time_us: int  # ApproximateCreationDateTime, normalised to epoch microseconds
    ttl_delete: bool  # REMOVE done by DynamoDB's TTL expiry, not by a user
    keys: dict[str, Any]
    new_image: dict[str, Any] | None
    old_image: dict[str, Any] | None
    kinesis: KinesisPosition | None
    size_bytes: int | None
    # 0-based position among the records of the FlowFile (or input) this change was first decoded from: records of
    # one shard arrive in Kinesis order inside a FlowFile, so it orders same-time changes without a sequence number.
    record_index: int | None = None

    def to_json(self) -> bytes:
        """The change event as one compact JSON object (no newline); numbers keep their exact decimal text."""
        return orjson.dumps(self, default=_json_default)

    @classmethod
    def from_json(cls, data: bytes | str, index: int = 0) -> ChangeEvent:
        """Read a change event written by :meth:`to_json`, exactly (JSON numbers in images become Decimal).

        Raises:
            DecodeError: malformed JSON or a field of the wrong type.
        """
        try:
            obj = json.loads(data, parse_float=Decimal, parse_int=Decimal)
        except ValueError:
            raise DecodeError(index, None, "malformed JSON") from None
        return _event_from_obj(obj, index)

    @classmethod
    def from_obj(cls, obj: object, index: int = 0) -> ChangeEvent:
        """A change event from an object parsed exactly (JSON numbers as Decimal, e.g. by ``json.loads`` with
        ``parse_float=Decimal, parse_int=Decimal``), as :meth:`from_json` reads it.

        Raises:
            DecodeError: not a change-event object, or a field of the wrong type.
        """
        return _event_from_obj(obj, index)


# The one field of a rejection envelope: a change-event line that stands for a record the decoder rejected.
REJECTION_FIELD = "cdc_rejected"


def _malformed_rule(raw: bytes | None) -> str:
    # Only for a record already known to be broken: parsing it again costs nothing on the good path.
    if raw is None:
        return "malformed JSON"
    try:
        orjson.loads(raw)
    except orjson.JSONDecodeError as error:
        message = str(error)
        if message.startswith("depth limit exceeded"):
            return "malformed JSON: nested deeper than the parser's limit of 1024 levels (DynamoDB allows 32)"
        if "UTF-8" in message:
            return "malformed JSON: not valid UTF-8"
    return "malformed JSON"


@dataclass(slots=True, frozen=True)
class Rejection:
    """A record that could not be decoded. ``raw`` holds the record as received (may contain PHI: it belongs
    in FlowFile content only, never in logs or attributes)."""

    index: int
    error: str
    raw: bytes | None
    event_id: str | None = None
    # The broken rule alone: ``error`` without the record designation ("record 3 (eventId e): "), so outcomes
    # can be grouped by rule. None when whoever made the Rejection did not give it.
    rule: str | None = None

    @classmethod
    def of(cls, index: int, event_id: str | None, rule: str, raw: bytes | None) -> Rejection:
        """The Rejection of the record at ``index`` for ``rule``; ``error`` names the record and the rule."""
        return cls(index, f"{_describe(index, event_id)}: {rule}", raw, event_id, rule)

    @classmethod
    def of_error(cls, error: DecodeError, raw: bytes | None) -> Rejection:
        """The Rejection a :class:`DecodeError` stands for (same index, event id, reason and rule)."""
        return cls(error.index, str(error), raw, error.event_id, error.reason)

    @classmethod
    def malformed(cls, index: int, raw: bytes | None) -> Rejection:
        """The Rejection of a record that is not JSON at all; the rule says why when the parser knows (nesting
        beyond its depth limit, bytes that are not UTF-8), never with the text."""
        return cls.of(index, None, _malformed_rule(raw), raw)

    def to_envelope(self) -> dict[str, Any]:
        """The rejection as a line object of change-event NDJSON: ``{"cdc_rejected": {index, event_id, error,
        raw}}`` (and ``rule`` when known), ``raw`` as text (undecodable bytes replaced), so a later stage can route
        it record by record."""
        raw = None if self.raw is None else bytes(self.raw).decode("utf-8", "replace")
        envelope = {"index": self.index, "event_id": self.event_id, "error": self.error, "raw": raw}
        if self.rule is not None:
            envelope["rule"] = self.rule
        return {REJECTION_FIELD: envelope}

    def to_json(self) -> bytes:
        """The envelope as one compact JSON object (no newline), non-ASCII text kept as UTF-8."""
        return json.dumps(self.to_envelope(), separators=(",", ":"), ensure_ascii=False).encode("utf-8")

    @classmethod
    def from_envelope(cls, obj: Mapping[str, Any], index: int = 0) -> Rejection | None:
        """The Rejection a line object written by :meth:`to_envelope` stands for, or None when ``obj`` is not an
        envelope (a change event; a record reader that merges schemas may add the field to it as null).

        ``index`` (the line's position) stands in for an envelope without its own; an envelope without an error
        gets a generic reason (and rule) naming the record. A malformed envelope (not an object, or a field of the
        wrong type) becomes a Rejection with the rule "malformed rejection envelope" and the whole line object as
        ``raw``. Nothing is raised.
        """
        envelope = obj.get(REJECTION_FIELD)
        if envelope is None:
            return None
        if not isinstance(envelope, Mapping):
            return cls._malformed_envelope(obj, index, None)
        # A field a schema-merging reader pads as null counts as absent.
        own_index, raw, error = envelope.get("index"), envelope.get("raw"), envelope.get("error")
        event_id, rule = envelope.get("event_id"), envelope.get("rule")
        if own_index is not None:
            if own_index.__class__ is not int or own_index < 0:
                return cls._malformed_envelope(obj, index, None)
            index = own_index
        if event_id is not None and not (isinstance(event_id, str) and event_id):
            return cls._malformed_envelope(obj, index, None)
        if any(value is not None and not isinstance(value, str) for value in (raw, error, rule)):
            return cls._malformed_envelope(obj, index, event_id)
        raw_bytes = None if raw is None else raw.encode("utf-8", "replace")
        if not error:
            rule = "rejected by the decoder"
            error = f"{_describe(index, None)}: {rule}"
        return cls(index, error, raw_bytes, event_id, rule)

    @classmethod
    def _malformed_envelope(cls, obj: Mapping[str, Any], index: int, event_id: str | None) -> Rejection:
        try:
            raw = json.dumps(obj, separators=(",", ":"), ensure_ascii=False, default=str).encode("utf-8", "replace")
        except (TypeError, ValueError, RecursionError):
            raw = None
        return cls.of(index, event_id, "malformed rejection envelope", raw)


class DecodeError(ValueError):
    """A record that is not a valid change record. ``str(error)`` names the record and the rule, never a value."""

    def __init__(self, index: int, event_id: str | None, reason: str) -> None:
        self.index = index
        self.event_id = shown_event_id(event_id)
        self.reason = reason
        super().__init__(f"{_describe(index, event_id)}: {reason}")


# What an eventID may be (issue 11): DynamoDB Streams writes 32 hex digits, Kinesis Data Streams for DynamoDB a
# UUID, ClaimFlow's snapshots "snapshot:<hex>:<hex>"; test and replay tools use short names such as "evt-1". Text
# outside this shape (anything with a space or other punctuation) is no event id and rejects its record. At most
# the eventId column's width.
EVENT_ID_PATTERN = re.compile(rf"[A-Za-z0-9][A-Za-z0-9._:-]{{0,{VARCHAR_WIDTHS['eventId'] - 1}}}")
EVENT_ID_RULE = (
    f"eventID is not an event id (1 to {VARCHAR_WIDTHS['eventId']} letters, digits, '.', '_', ':' or '-', "
    "starting with a letter or digit)"
)
# The ids that may be repeated in a reason, an attribute or a log: only the shapes AWS and ClaimFlow write, all of
# them hex digits, which cannot spell a name ("Jane_Doe_1980-01-01" is an accepted id, never a shown one).
SHOWN_EVENT_ID_PATTERN = re.compile(
    r"[0-9a-fA-F]{32}|[0-9a-fA-F]{8}(?:-[0-9a-fA-F]{4}){3}-[0-9a-fA-F]{12}|snapshot:[0-9a-f]{16}:[0-9a-f]{32}"
)


def is_event_id(event_id: object) -> bool:
    """True when ``event_id`` has an event id's shape (:data:`EVENT_ID_PATTERN`): the record may be processed."""
    return isinstance(event_id, str) and EVENT_ID_PATTERN.fullmatch(event_id) is not None


def shown_event_id(event_id: object) -> str | None:
    """``event_id`` when it has one of the shapes AWS and ClaimFlow write (:data:`SHOWN_EVENT_ID_PATTERN`), so it may
    be shown; else None (an id of another shape may be data)."""
    if isinstance(event_id, str) and SHOWN_EVENT_ID_PATTERN.fullmatch(event_id):
        return event_id
    return None


def _describe(index: int, event_id: object) -> str:
    # "eventId" as the row column is named, so decoder and claim reasons designate a record alike; an id of the
    # wrong shape is left out (it may be data).
    shown = shown_event_id(event_id)
    return f"record {index} (eventId {shown})" if shown else f"record {index}"


def _json_default(value: object) -> Any:
    if isinstance(value, Decimal):
        return orjson.Fragment(str(value))  # str(Decimal) is always a valid JSON number with the exact value
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


# Records of one FlowFile a row can number (flowFileRecordIndex is NUMBER(10,0)).
MAX_RECORD_INDEX = 10**10
_TABLE_WIDTH = VARCHAR_WIDTHS["sourceTable"]
_REGION_WIDTH = VARCHAR_WIDTHS["awsRegion"]
# The largest SizeBytes a stream record can have: keys (partition key up to 2 KB, sort key up to 1 KB) and, per
# image it carries, one item of at most 400 KB.
_KEYS_BYTES = 3 * 1024


# --- one record ------------------------------------------------------------------------------------------------


def decode_record(
    obj: dict[str, Any],
    index: int = 0,
    attributes: Mapping[str, str] | None = None,
    *,
    single_record: bool = True,
    modify_old_image: bool = True,
    rules: EventTimeRules | None = None,
) -> ChangeEvent:
    """Decode one parsed Kinesis-DynamoDB record (or a wrapper around one) into a :class:`ChangeEvent`.

    ``attributes`` are the FlowFile's; their Kinesis position applies to this record only when it is the
    FlowFile's only record (``single_record`` and no attribute saying otherwise); wrapper metadata always wins.
    ``modify_old_image=False`` skips the OldImage of MODIFY records (``old_image`` is then None, unvalidated),
    for consumers that only need the new state; it halves the cost of a MODIFY. ``rules``: how event times are
    read and bounded (:class:`EventTimeRules`; None: the defaults).

    Raises:
        DecodeError: a record that is not a valid DynamoDB change record; the reason names the record and rule.
    """
    flowfile = FlowFilePosition.from_attributes(attributes)
    return _decode(obj, index, flowfile, single_record, None, modify_old_image, rules or DEFAULT_TIME_RULES)


def decode_record_or_rejection(
    obj: dict[str, Any],
    index: int = 0,
    attributes: Mapping[str, str] | None = None,
    *,
    single_record: bool = True,
    raw: bytes | None = None,
    rules: EventTimeRules | None = None,
) -> ChangeEvent | Rejection:
    """:func:`decode_record` for a record handed over already parsed (e.g. by a NiFi record reader): a record it
    rejects comes back as a :class:`Rejection` whose ``raw`` is ``raw`` (the record as received, when the caller
    has it) or else the record as compact JSON (values JSON cannot hold written as text). ``single_record`` as
    for :func:`decode_record`.

    Raises:
        Exception: only a decoder bug (anything but :class:`DecodeError`); the caller decides how to route it.
    """
    try:
        return decode_record(obj, index, attributes, single_record=single_record, rules=rules)
    except DecodeError as error:
        if raw is None:
            raw = json.dumps(obj, separators=(",", ":"), default=str).encode("utf-8")
        return Rejection.of_error(error, raw)


def _decode(
    obj: object,
    index: int,
    flowfile: FlowFilePosition | None,
    single_record: bool,
    raw_length: int | None,
    modify_old_image: bool = True,
    rules: EventTimeRules | None = None,
) -> ChangeEvent:
    if obj.__class__ is not dict:
        raise DecodeError(index, None, f"expected a JSON object, got {_json_type(obj)}")
    try:
        record, position = unwrap(obj)
    except BadPosition as error:
        raise DecodeError(index, None, str(error)) from None
    if record.__class__ is not dict:
        raise DecodeError(index, None, f"wrapper value must be a JSON object, got {_json_type(record)}")
    if position is None and flowfile is not None:
        position = flowfile.position(single_record)

    event_id = record.get("eventID")
    if event_id.__class__ is not str or not event_id:
        raise DecodeError(index, None, "missing eventID" if event_id is None else "eventID must be a string")
    event_name = record.get("eventName")
    if event_name is None:
        raise DecodeError(index, event_id, "missing eventName")
    if event_name.__class__ is not str or event_name not in EVENT_NAMES:
        # The value is not shown: whatever a writer put there may be data.
        raise DecodeError(index, event_id, "unsupported eventName; expected INSERT, MODIFY or REMOVE")
    if not is_event_id(event_id):
        raise DecodeError(index, None, EVENT_ID_RULE)
    broken_position = position_problem(position)
    if broken_position is not None:
        raise DecodeError(index, event_id, broken_position)
    table_name, region = nonempty_text(record.get("tableName")), nonempty_text(record.get("awsRegion"))
    if table_name is not None and len(table_name) > _TABLE_WIDTH:
        raise DecodeError(index, event_id, f"tableName is longer than {_TABLE_WIDTH} characters")
    if region is not None and len(region) > _REGION_WIDTH:
        raise DecodeError(index, event_id, f"awsRegion is longer than {_REGION_WIDTH} characters")
    change = record.get("dynamodb")
    if change.__class__ is not dict:
        raise DecodeError(index, event_id, "missing dynamodb" if change is None else "dynamodb must be an object")

    event_time_us = _event_time_us(
        change, index, event_id, latest_arrival_ms(position, flowfile), rules or DEFAULT_TIME_RULES
    )

    raw_keys = change.get("Keys")
    if raw_keys is None:
        raise DecodeError(index, event_id, "missing dynamodb.Keys")
    raw_new = change.get("NewImage")
    raw_old = change.get("OldImage")
    if not modify_old_image and event_name == "MODIFY":
        raw_old = None
    if raw_new is None and event_name != "REMOVE":
        raise DecodeError(index, event_id, f"{event_name} without dynamodb.NewImage")
    if raw_old is None and event_name == "REMOVE":
        raise DecodeError(index, event_id, "REMOVE without dynamodb.OldImage")

    size_bytes = change.get("SizeBytes")
    if size_bytes.__class__ is float and size_bytes.is_integer():  # a reader that widened the field to double
        size_bytes = int(size_bytes)
    if size_bytes is not None:
        images = (raw_new is not None) + (raw_old is not None)
        if size_bytes.__class__ is not int or not 0 <= size_bytes <= _KEYS_BYTES + images * MAX_ITEM_BYTES:
            raise DecodeError(
                index, event_id, "dynamodb.SizeBytes must be a whole number of bytes within DynamoDB's item limit"
            )
    _check_item_sizes(raw_new, raw_old, raw_length, size_bytes, index, event_id)

    keys = _image(raw_keys, "Keys", index, event_id)
    new_image = None if raw_new is None else _image(raw_new, "NewImage", index, event_id)
    old_image = None if raw_old is None else _image(raw_old, "OldImage", index, event_id)
    if not keys:
        raise DecodeError(index, event_id, "dynamodb.Keys is empty")

    identity = record.get("userIdentity")
    ttl_delete = (
        event_name == "REMOVE"
        and identity.__class__ is dict
        and identity.get("type") == "Service"
        and identity.get("principalId") == _TTL_PRINCIPAL
    )
    # Positional on purpose: keyword arguments cost three times as much per event on this hot path.
    return ChangeEvent(
        event_id,
        event_name,
        table_name,
        region,
        event_time_us,
        ttl_delete,
        keys,
        new_image,
        old_image,
        position,
        size_bytes,
        index,
    )


def _image(raw: object, part: str, index: int, event_id: str) -> dict[str, Any]:
    try:
        return decode_image(raw, _claim_schema_name, "claim")
    except AttributeValueError as error:
        raise DecodeError(index, event_id, f"dynamodb.{part}: {error}") from None


def _claim_schema_name(name: str) -> bool:
    """The decoder's ``shown_name``: an error may name a top-level attribute the claim schema knows."""
    # Imported here: claimflow.claims.mapping is a leaf, but importing it runs claimflow/claims/__init__.py, whose
    # modules import this one; only an error path gets here, and by then claimflow.claims is loaded.
    from claimflow.claims.mapping import is_known_item_name

    return is_known_item_name(name)


def _event_time_us(
    change: dict[str, Any], index: int, event_id: str, arrival_ms: int | None, rules: EventTimeRules
) -> int:
    """ApproximateCreationDateTime in epoch microseconds: the precision field first, the magnitude as fallback;
    bounded and placed by ``rules``."""
    value = change.get("ApproximateCreationDateTime")
    if value is None:
        raise DecodeError(index, event_id, "missing dynamodb.ApproximateCreationDateTime")
    if value.__class__ not in CREATION_NUMBER_TYPES or not 0 < value < MAX_CREATION_VALUE:  # NaN fails too
        raise DecodeError(index, event_id, "dynamodb.ApproximateCreationDateTime must be a positive number")
    precision = change.get("ApproximateCreationDateTimePrecision")
    event_time_us = creation_time_us(value, precision)
    broken = implausible_event_time(event_time_us, precision, arrival_ms, rules.max_clock_skew_us)
    if broken is not None:
        raise DecodeError(index, event_id, broken)
    return rules.placed(event_time_us, value, precision)


def _check_item_sizes(
    raw_new: object, raw_old: object, raw_length: int | None, size_bytes: int | None, index: int, event_id: str
) -> None:
    # The JSON text of an image is never smaller than its DynamoDB size, and SizeBytes covers keys and both
    # images, so small records skip the walk.
    if raw_length is not None and raw_length <= MAX_ITEM_BYTES:
        return
    if raw_length is None and size_bytes is not None and size_bytes <= MAX_ITEM_BYTES:
        return
    for name, image in (("NewImage", raw_new), ("OldImage", raw_old)):
        if isinstance(image, dict):
            try:
                size = item_size(image)
            except RecursionError:
                raise DecodeError(index, event_id, f"dynamodb.{name}: nesting too deep") from None
            if size > MAX_ITEM_BYTES:
                raise DecodeError(
                    index, event_id, f"dynamodb.{name} is about {size} bytes, over DynamoDB's 400 KB item limit"
                )


def _json_type(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float | Decimal):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    return "an object" if isinstance(value, dict) else type(value).__name__


# --- many records (framed by claimflow.framing) -------------------------------------------------------------------


def decode_records(
    data: bytes,
    attributes: Mapping[str, str] | None = None,
    *,
    modify_old_image: bool = True,
    rules: EventTimeRules | None = None,
) -> Iterator[ChangeEvent | Rejection]:
    """Decode FlowFile content into change events, record by record.

    ``data`` may hold one record, a JSON array of records, NDJSON (blank lines ignored) or wrapper records of
    either NiFi Kinesis consumer. ``attributes`` are the FlowFile's (Kinesis position). Every record yields
    exactly one :class:`ChangeEvent` or :class:`Rejection`, in input order; a bad record never stops the rest.
    Nothing is raised for bad content. ``modify_old_image`` and ``rules``: see :func:`decode_record`.
    ``str``, ``bytearray`` and ``memoryview`` content is accepted too (taken as UTF-8).
    """
    flowfile = FlowFilePosition.from_attributes(attributes)
    content = Content.of(data)
    rules = rules or DEFAULT_TIME_RULES
    for index, (parsed, raw) in enumerate(content.records):
        yield _decode_or_reject(parsed, raw, index, flowfile, content.single, modify_old_image, content.length, rules)


def decode_framed(
    parsed: object,
    raw: bytes | None,
    index: int,
    flowfile: FlowFilePosition | None,
    content: Content,
    rules: EventTimeRules | None = None,
) -> ChangeEvent | Rejection:
    """One record of :class:`Content` decoded as :func:`decode_records` decodes it (never raises for bad input);
    ``flowfile`` is ``FlowFilePosition.from_attributes`` of the FlowFile's attributes, read once per FlowFile."""
    return _decode_or_reject(
        parsed, raw, index, flowfile, content.single, True, content.length, rules or DEFAULT_TIME_RULES
    )


def _decode_or_reject(
    parsed: object,
    raw: bytes | None,
    index: int,
    flowfile: FlowFilePosition | None,
    single: bool,
    modify_old_image: bool,
    content_length: int | None,
    rules: EventTimeRules,
) -> ChangeEvent | Rejection:
    if parsed is MALFORMED:
        return Rejection.malformed(index, raw)
    try:
        length = content_length if raw is None else len(raw)
        return _decode(parsed, index, flowfile, single, length, modify_old_image, rules)
    except DecodeError as error:
        return Rejection.of_error(error, _raw_bytes(parsed, raw))
    except Exception as error:  # a decoder bug must not take the rest of the FlowFile down
        # The exception text may quote the record, so only its type is reported.
        return Rejection.of(index, None, f"internal decoder error ({type(error).__name__})", _raw_bytes(parsed, raw))


def _raw_bytes(parsed: object, raw: bytes | None) -> bytes | None:
    if raw is not None:
        return raw
    try:
        return orjson.dumps(parsed, default=_json_default)
    except (TypeError, orjson.JSONEncodeError):
        return None


# --- a FlowFile's records as change-event lines ------------------------------------------------------------------


@dataclass(slots=True)
class DecodedLines:
    """Every record of some content as one line of change-event NDJSON, in input order: a change event, or the
    rejection envelope of a record that could not be decoded (lines in = records in). With the counts."""

    content: bytes
    decoded: int
    rejected: int
    operations: dict[str, int]  # decoded events per eventName
    first_error: str | None  # the first rejection's reason (names the record and rule, never a value)

    @property
    def total(self) -> int:
        return self.decoded + self.rejected

    def attributes(self) -> dict[str, str]:
        """The counts as FlowFile attributes, and ``cdc.error`` (the first reason) when no record could be decoded.

        Only such a FlowFile (routed to invalid) carries ``cdc.error``: a FlowFile with good records goes on to the
        claim stage, whose row FlowFiles inherit its attributes, and a row of an ``insert`` must not carry an error.
        Its rejected records travel as envelopes and get their own ``cdc.error`` on the claim stage's invalid."""
        attributes = {
            "record.count": str(self.total),
            "cdc.decoded.count": str(self.decoded),
            "cdc.rejected.count": str(self.rejected),
            "cdc.insert.count": str(self.operations["INSERT"]),
            "cdc.modify.count": str(self.operations["MODIFY"]),
            "cdc.remove.count": str(self.operations["REMOVE"]),
            "mime.type": "application/x-ndjson",
        }
        if self.first_error is not None and not self.decoded:
            attributes["cdc.error"] = self.first_error
        return attributes


def decode_to_lines(
    data: bytes, attributes: Mapping[str, str] | None = None, rules: EventTimeRules | None = None
) -> DecodedLines:
    """Decode content (any layout :func:`decode_records` accepts) into change-event NDJSON with rejection
    envelopes (:meth:`Rejection.to_envelope`) in place of the records that could not be decoded.

    Nothing is raised for bad content.
    """
    lines = []
    decoded = rejected = 0
    operations = dict.fromkeys(("INSERT", "MODIFY", "REMOVE"), 0)
    first_error = None
    for item in decode_records(data, attributes, rules=rules):
        if isinstance(item, Rejection):
            rejected += 1
            first_error = first_error or item.error
        else:
            decoded += 1
            operations[item.event_name] += 1
        lines.append(item.to_json())
    content = b"".join(line + b"\n" for line in lines)
    return DecodedLines(content, decoded, rejected, operations, first_error)


# --- reading change events back ---------------------------------------------------------------------------------

_EVENT_FIELDS = (
    "event_id",
    "event_name",
    "table_name",
    "aws_region",
    "event_time_us",
    "ttl_delete",
    "keys",
    "new_image",
    "old_image",
    "kinesis",
    "size_bytes",
)


def _event_from_obj(obj: object, index: int) -> ChangeEvent:
    if not isinstance(obj, dict):
        raise DecodeError(index, None, f"expected a change-event object, got {_json_type(obj)}")
    event_id = obj.get("event_id")
    if not isinstance(event_id, str) or not event_id:
        raise DecodeError(index, None, "change event without a string event_id")
    missing = [name for name in _EVENT_FIELDS if name not in obj]
    if missing:
        raise DecodeError(index, event_id, f"change event lacks {', '.join(missing)}")
    if obj["event_name"] not in EVENT_NAMES:
        raise DecodeError(index, event_id, "change event has an unsupported event_name")
    if not isinstance(obj["ttl_delete"], bool):
        raise DecodeError(index, event_id, "ttl_delete must be a boolean")
    if not isinstance(obj["keys"], dict):
        raise DecodeError(index, event_id, "keys must be an object")
    for name in ("new_image", "old_image"):
        if obj[name] is not None and not isinstance(obj[name], dict):
            raise DecodeError(index, event_id, f"{name} must be an object or null")
    for name in ("table_name", "aws_region"):
        if obj[name] is not None and not isinstance(obj[name], str):
            raise DecodeError(index, event_id, f"{name} must be a string or null")
    event_time_us = _whole(obj["event_time_us"])
    if event_time_us is None:
        raise DecodeError(index, event_id, "event_time_us must be an integer")
    size_bytes = None if obj["size_bytes"] is None else _whole(obj["size_bytes"])
    # Optional: change events written before the field existed have none (their ties fall back to the rank).
    record_index = obj.get("record_index")
    if record_index is not None:
        record_index = _whole(record_index)
        if record_index is None or not 0 <= record_index < MAX_RECORD_INDEX:
            raise DecodeError(index, event_id, f"record_index must be an integer from 0 to {MAX_RECORD_INDEX - 1}")
    kinesis = obj["kinesis"]
    position: KinesisPosition | None = None
    if kinesis is not None:
        if not isinstance(kinesis, dict):
            raise DecodeError(index, event_id, "kinesis must be an object or null")
        position = KinesisPosition(
            shard_id=nonempty_text(kinesis.get("shard_id")),
            sequence_number=sequence_text(kinesis.get("sequence_number")),
            partition_key=nonempty_text(kinesis.get("partition_key")),
            arrival_time_ms=_whole(kinesis.get("arrival_time_ms")),
        )
    return ChangeEvent(
        event_id=event_id,
        event_name=obj["event_name"],
        table_name=obj["table_name"],
        aws_region=obj["aws_region"],
        event_time_us=event_time_us,
        ttl_delete=obj["ttl_delete"],
        keys=obj["keys"],
        new_image=obj["new_image"],
        old_image=obj["old_image"],
        kinesis=position,
        size_bytes=size_bytes,
        record_index=record_index,
    )


def _whole(value: object) -> int | None:
    if isinstance(value, Decimal) and value.is_finite() and value == value.to_integral_value():
        return int(value)
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    return None


def parse_change_events(data: bytes) -> Iterator[ChangeEvent | Rejection]:
    """Read change-event NDJSON (as written by ``claimflow decode``) back into :class:`ChangeEvent` objects.

    Exact: JSON numbers inside images come back as Decimal with the written value. Blank lines are skipped;
    a bad line yields a :class:`Rejection` and reading goes on.
    """
    for index, line in enumerate(nonblank_lines(data)):
        try:
            yield ChangeEvent.from_json(line, index)
        except DecodeError as error:
            yield Rejection.of_error(error, line)
