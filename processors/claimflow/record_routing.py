"""Routing for the claim processors, engine-agnostic (nothing here imports nifiapi).

- One record at a time, for engines that hand a processor single records (NiFi's RecordTransform:
  TransformClaimChange): a :class:`FlowFilePositions`, :func:`route_change_event_record`, and the
  :class:`RecordOutcome` (record, relationship, partition: plain values)
  the processor wraps in the engine's result type.
- A FlowFile's content at once, for engines that hand a processor the content bytes (NiFi's FlowFileTransform:
  ProcessClaimChange): :func:`route_content` frames the content as the decoder does and writes every record's
  outcome, row or dead letter, as one NDJSON output. The flow then splits it by operation and rule with Java
  processors the user sees on the canvas: PartitionRecord on :data:`PARTITION_PATHS`, RouteOnAttribute on
  :data:`ROUTES`.

Outcomes follow the dead-letter contract: an invalid record carries the original (content: may hold PHI), a
reason naming the record and the rule, and the rule alone; the partition attribute carries the rule alone, never
a value.
"""

from __future__ import annotations

import collections
import json
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import orjson

from claimflow.claims import ClaimSettings, PhiMode, Routed, route_events, route_records_fused
from claimflow.claims.build import INTERNAL_ERROR, unexpected
from claimflow.events import REJECTION_FIELD, ChangeEvent, DecodeError, Rejection

INVALID = "invalid"
# Partition attributes: output FlowFiles are grouped by these, one operation or one broken rule each.
OPERATION_ATTRIBUTE = "cdc.operation"
ERROR_ATTRIBUTE = "cdc.error"

# The processors' "PHI Handling" allowable values and the core mode each stands for. The processor files repeat
# the labels as literals (NiFi reads allowable values from the source); tests/processors checks they match.
PHI_HANDLING_MODES = {"Pass Through": PhiMode.PASSTHROUGH.value, "Pseudonymize": PhiMode.PSEUDONYMIZE.value}
# HIPAA Safe Harbor de-identification (claimflow.claims.phi.safe_harbor), an allowable value of both claim
# processors' "PHI Handling" (with "HMAC Key" depending on it).
PHI_HANDLING_SAFE_HARBOR = "Safe Harbor"
ACCEPTED_PHI_HANDLING = {**PHI_HANDLING_MODES, PHI_HANDLING_SAFE_HARBOR: PhiMode.SAFE_HARBOR.value}


def claim_settings_from_properties(
    phi_handling: str | None,
    hmac_key: str | None,
    generalize_zip: str | None,
    generalize_birth_date: str | None,
    strict_validation: str | None,
) -> ClaimSettings:
    """The :class:`ClaimSettings` for the claim processors' property values (as NiFi hands them over: strings,
    None when unset; ``phi_handling`` one of :data:`ACCEPTED_PHI_HANDLING`, unset meaning "Pass Through").

    Raises:
        ValueError: an unknown PHI Handling label or flag value, or a missing, short or low-variety key in
            Pseudonymize or Safe Harbor mode (the message never repeats the key).
    """
    phi_mode = None
    if phi_handling is not None:
        phi_mode = ACCEPTED_PHI_HANDLING.get(phi_handling)
        if phi_mode is None:
            raise ValueError(f"PHI Handling must be one of {', '.join(ACCEPTED_PHI_HANDLING)}")
    return ClaimSettings.from_strings(
        phi_mode=phi_mode,
        hmac_key=hmac_key,
        generalize_zip3=generalize_zip,
        generalize_birth_year=generalize_birth_date,
        strict=strict_validation,
    )


# --- where a record sits in its FlowFile ---------------------------------------------------------------------


@dataclass(slots=True, frozen=True)
class RecordPosition:
    index: int  # 0-based position of the record in its FlowFile
    ingest_time_us: int  # when the FlowFile's first record arrived (one value per FlowFile)
    attributes: Mapping[str, str] | None  # the FlowFile's attributes, when asked for


class FlowFilePositions:
    """Each FlowFile's next record index and ingest time, keyed by FlowFile id.

    A record-at-a-time engine hands over one record per call, and concurrent tasks may call the same processor
    from several threads, so positions are kept per FlowFile under a lock; the oldest FlowFiles are forgotten
    (a FlowFile's records arrive together, so only the few in flight matter).
    """

    LIMIT = 256

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._by_flowfile: collections.OrderedDict[str, list[Any]] = collections.OrderedDict()

    def next(self, flowfile_id: str, read_attributes: Callable[[], Mapping[str, str]] | None = None) -> RecordPosition:
        """The position of the FlowFile's next record. ``read_attributes`` is called once per FlowFile (in NiFi
        each read crosses to Java); without it, ``attributes`` is None."""
        with self._lock:
            position = self._by_flowfile.get(flowfile_id)
            if position is None:
                attributes = None if read_attributes is None else dict(read_attributes())
                position = [0, time.time_ns() // 1000, attributes]
                self._by_flowfile[flowfile_id] = position
                while len(self._by_flowfile) > self.LIMIT:
                    self._by_flowfile.popitem(last=False)
            index = position[0]
            position[0] += 1
            return RecordPosition(index, position[1], position[2])


# --- outcomes ------------------------------------------------------------------------------------------------


@dataclass(slots=True, frozen=True)
class RecordOutcome:
    """What to emit for one record: the output ``record``, its ``relationship`` and ``partition`` attributes.

    For an invalid record ``reason`` names the record and the rule (for the log; never a value) and
    ``unexpected`` tells a processor error (log as error) from bad data (log as warning).
    """

    record: dict[str, Any]
    relationship: str
    partition: dict[str, str]
    reason: str | None = None
    unexpected: bool = False


def dead_letter(index: int, event_id: str | None, reason: str, original: Any, rule: str | None) -> dict[str, Any]:
    """The invalid record: a fixed shape whatever the original looked like, so the writer's schema holds.
    ``record`` is the original as compact JSON text (values JSON cannot hold written as text); ``rule`` is the
    reason without the record's designation, what the flow groups dead letters by."""
    original_text = None if original is None else json.dumps(original, separators=(",", ":"), default=str)
    return {"index": index, "eventId": event_id, "error": reason, "rule": rule or reason, "record": original_text}


def _dead_letter_of(routed: Routed) -> dict[str, Any]:
    reason = routed.error or f"record {routed.index}: invalid"
    return dead_letter(routed.index, routed.event_id, reason, routed.record, routed.rule)


def _is_internal(routed: Routed) -> bool:
    return routed.rule is not None and routed.rule.startswith(INTERNAL_ERROR + " (")


def outcome_of(routed: Routed) -> RecordOutcome:
    """The outcome for a core :class:`~claimflow.claims.Routed`: the row to its operation, or a dead letter."""
    if routed.relationship == INVALID:
        record = _dead_letter_of(routed)
        # Grouped by the rule alone (not the designation), so output FlowFiles are one per rule, not per record.
        return RecordOutcome(record, INVALID, {ERROR_ATTRIBUTE: record["rule"]}, record["error"], _is_internal(routed))
    assert routed.row is not None  # route_events gives every routed row
    return RecordOutcome(routed.row, routed.relationship, {OPERATION_ATTRIBUTE: routed.relationship})


def unexpected_outcome(index: int, error: BaseException, original: Any) -> RecordOutcome:
    """The dead letter for a record whose processing raised unexpectedly. Only the exception's type is named: its
    message could quote data."""
    return outcome_of(unexpected(index, error, original))


# --- one record through the claim stage ----------------------------------------------------------------------


def route_change_event_record(
    record: Mapping[str, Any], index: int, settings: ClaimSettings, ingest_time_us: int
) -> RecordOutcome:
    """One change-event record (a line of DecodeDynamoDBChange's output, parsed by a record reader) -> outcome.

    Never raises: an unexpected error routes this record to invalid, so it cannot take its FlowFile down.
    """
    return _route(lambda: change_event_from_record(record, index), record, index, settings, ingest_time_us)


def _route(
    decode: Callable[[], ChangeEvent | Rejection],
    original: Any,
    index: int,
    settings: ClaimSettings,
    ingest_time_us: int,
) -> RecordOutcome:
    try:
        routed = next(route_events([decode()], settings, ingest_time_us, first_index=index))
    except Exception as error:  # one record's bug must not fail the FlowFile
        return unexpected_outcome(index, error, original)
    return outcome_of(routed)


def change_event_from_record(record: Mapping[str, Any], index: int) -> ChangeEvent | Rejection:
    """A change event read back from a record reader's view of a change-event line, or the Rejection its
    rejection envelope (or a malformed event) stands for.

    The record goes back through JSON so image numbers become exact Decimals again (a NiFi reader hands over
    floats: up to 15 significant digits survive, see docs/processors.md). Null image members are dropped (see
    :func:`without_nulls`).

    Raises:
        TypeError: a value JSON cannot hold (the caller routes it as unexpected).
    """
    rejection = Rejection.from_envelope(record, index)
    if rejection is not None:
        return rejection
    event = {key: value for key, value in record.items() if key != REJECTION_FIELD}
    for image in ("new_image", "old_image"):
        if isinstance(event.get(image), dict):
            event[image] = without_nulls(event[image])
    text = json.dumps(event, separators=(",", ":"))
    try:
        return ChangeEvent.from_json(text, index)
    except DecodeError as error:
        return Rejection.of_error(error, text.encode("utf-8"))


def without_nulls(value: Any) -> Any:
    """The value without null members, at any depth. NiFi's JSON reader merges the schema of every record in the
    FlowFile, so a field that only another record has comes back here as null; left in, the core would count it
    as an unknown field on every row (and Strict Validation would reject them all). A null carries no claim data
    either way."""
    if isinstance(value, dict):
        return {key: without_nulls(item) for key, item in value.items() if item is not None}
    if isinstance(value, list):
        return [without_nulls(item) for item in value]
    return value


# --- a FlowFile's content at once ------------------------------------------------------------------------------

# How the flow splits ProcessClaimChange's output: PartitionRecord groups its lines by these RecordPaths (one
# attribute each, absent when a record has no such field: rows have no rule, dead letters no eventName), then
# RouteOnAttribute ("Route to Property name") sends each group to the relationship whose expression holds. The
# flow definitions and the offline model of the two Java processors (claimflow_offline.java) read them here.
PARTITION_PATHS: Mapping[str, str] = {OPERATION_ATTRIBUTE: "/eventName", ERROR_ATTRIBUTE: "/rule"}
ROUTES: Mapping[str, str] = {
    **{name.lower(): f"${{{OPERATION_ATTRIBUTE}:equals('{name}')}}" for name in ("INSERT", "MODIFY", "REMOVE")},
    INVALID: f"${{{ERROR_ATTRIBUTE}:isEmpty():not()}}",
}
ROW_RELATIONSHIPS = ("insert", "modify", "remove")


@dataclass(slots=True, frozen=True)
class RoutedContent:
    """Every record's outcome of one FlowFile as NDJSON: a claim row (with its ``eventName``) or a dead letter
    (:func:`dead_letter`, with its ``rule``), one per line, in input order."""

    content: bytes
    operations: Mapping[str, int]  # insert / modify / remove -> rows
    invalid: int
    internal_errors: int  # invalid because something raised: a ClaimFlow bug
    first_error: str | None  # the first dead letter's reason (a position and a rule, never a value)

    @property
    def total(self) -> int:
        return sum(self.operations.values()) + self.invalid

    def attributes(self) -> dict[str, str]:
        """Counts, and ``cdc.operation`` and ``cdc.error`` set empty: PartitionRecord's outputs inherit the FlowFile's
        attributes and RouteOnAttribute routes by those two, so a value set upstream must not ride along (a row
        partition with an inherited ``cdc.error`` would also be routed to invalid)."""
        return {
            OPERATION_ATTRIBUTE: "",
            ERROR_ATTRIBUTE: "",
            "record.count": str(self.total),
            "mime.type": "application/json",
            **{f"cdc.{name}.count": str(count) for name, count in self.operations.items()},
            "cdc.invalid.count": str(self.invalid),
        }


def route_content(
    data: bytes,
    settings: ClaimSettings,
    attributes: Mapping[str, str] | None = None,
    ingest_time_us: int | None = None,
) -> RoutedContent:
    """Raw Kinesis DynamoDB records (any layout the decoder frames) -> :class:`RoutedContent`.

    Never raises for bad content or a bad record: each record becomes a row or a dead letter (counts in = rows
    out + invalid). ``attributes`` are the FlowFile's (Kinesis position).
    """
    lines = []
    operations = dict.fromkeys(ROW_RELATIONSHIPS, 0)
    invalid = internal = 0
    first_error = None
    for routed in route_records_fused(data, settings, ingest_time_us, attributes):
        if routed.row is not None:
            operations[routed.relationship] += 1
            lines.append(orjson.dumps(routed.row))
            continue
        record = _dead_letter_of(routed)
        invalid += 1
        internal += _is_internal(routed)
        first_error = first_error or record["error"]
        lines.append(orjson.dumps(record))
    content = b"".join(line + b"\n" for line in lines)
    return RoutedContent(content, operations, invalid, internal, first_error)
