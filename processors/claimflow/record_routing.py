"""Routing for the claim processors, engine-agnostic (nothing here imports nifiapi).

Both claim processors are FlowFileTransforms that hand this module a FlowFile's content: :func:`route_content`
(raw Kinesis DynamoDB records: ProcessClaimChange) and :func:`route_change_event_content` (DecodeDynamoDBChange's
output: TransformClaimChange) write every record's outcome, row or dead letter, as one NDJSON output with its
counts (:class:`RoutedContent`). The flow then splits it by operation and rule with Java processors the user
sees on the canvas: PartitionRecord on :data:`PARTITION_PATHS`, RouteOnAttribute on :data:`ROUTES`.

Outcomes follow the dead-letter contract: an invalid record carries the original (content: may hold PHI), a
reason naming the record and the rule, and the rule alone (what the flow groups dead letters by), never a value.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import orjson

from claimflow.claims import ClaimSettings, PhiMode, Routed, route_events, route_records_fused
from claimflow.claims.build import INTERNAL_ERROR, unexpected
from claimflow.event_time import MAX_CLOCK_SKEW, MILLISECOND_PRECISION_SINCE, time_rules_from_strings
from claimflow.events import REJECTION_FIELD, ChangeEvent, DecodeError, Rejection, decode_framed
from claimflow.framing import MALFORMED, Content

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


# The claim processors' property names (ProcessClaimChange and TransformClaimChange have the same five). NiFi 2.9
# documents a Python processor's properties only from PropertyDescriptor(...) calls written in its own class
# (ProcessorInspection.get_property_descriptions), so each file spells its descriptors out; tests/processors fails
# when the two files' descriptors differ or their names leave these.
PHI_HANDLING = "PHI Handling"
HMAC_KEY = "HMAC Key"
GENERALIZE_ZIP = "Generalize ZIP to 3 Digits"
GENERALIZE_BIRTH_DATE = "Generalize Birth Date to Year"
STRICT_VALIDATION = "Strict Validation"
# ProcessClaimChange's (and DecodeDynamoDBChange's) event-time rules, MAX_CLOCK_SKEW and MILLISECOND_PRECISION_SINCE,
# are named where those rules live (claimflow.events); TransformClaimChange has neither.
CLAIM_PROPERTIES = (PHI_HANDLING, HMAC_KEY, GENERALIZE_ZIP, GENERALIZE_BIRTH_DATE, STRICT_VALIDATION)


def claim_settings_from_properties(
    phi_handling: str | None,
    hmac_key: str | None,
    generalize_zip: str | None,
    generalize_birth_date: str | None,
    strict_validation: str | None,
    max_clock_skew: str | None = None,
    millisecond_since: str | None = None,
) -> ClaimSettings:
    """The :class:`ClaimSettings` for the claim processors' property values (as NiFi hands them over: strings,
    None when unset; ``phi_handling`` one of :data:`ACCEPTED_PHI_HANDLING`, unset meaning "Pass Through").
    ``max_clock_skew`` and ``millisecond_since`` are ProcessClaimChange's "Maximum Clock Skew" and "Millisecond
    Precision Since" (:func:`claimflow.event_time.time_rules_from_strings`), the settings of the decoder it runs.

    Raises:
        ValueError: an unknown PHI Handling label or flag value, a missing, short or low-variety key in
            Pseudonymize or Safe Harbor mode (the message never repeats the key), or a bad event-time setting
            (the message names the property).
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
        max_clock_skew=max_clock_skew,
        millisecond_since=millisecond_since,
    )


def claim_settings_from_context(context: Any) -> ClaimSettings:
    """:func:`claim_settings_from_properties` for a NiFi ProcessContext or ValidationContext (anything whose
    ``getProperty(name)`` gives a property value with ``getValue()``, or None). Raises ValueError as that does."""

    def value(name: str) -> str | None:
        prop = context.getProperty(name)
        return None if prop is None else prop.getValue()

    return claim_settings_from_properties(
        phi_handling=value(PHI_HANDLING),
        hmac_key=value(HMAC_KEY),
        generalize_zip=value(GENERALIZE_ZIP),
        generalize_birth_date=value(GENERALIZE_BIRTH_DATE),
        strict_validation=value(STRICT_VALIDATION),
        max_clock_skew=value(MAX_CLOCK_SKEW),
        millisecond_since=value(MILLISECOND_PRECISION_SINCE),
    )


def claim_settings_problem(context: Any) -> tuple[str, str] | None:
    """(property name, reason) when the claim processors' properties make no :class:`ClaimSettings`, for
    customValidate; None when they do. The reason never repeats a value (the key least of all). The event-time
    rules are checked where the processor has them (ProcessClaimChange); an unset key is no problem here: its
    dependency hides it, or NiFi's own required check reports it."""

    def value(name: str) -> str | None:
        prop = context.getProperty(name)
        return None if prop is None else prop.getValue()

    try:
        time_rules_from_strings(value(MAX_CLOCK_SKEW), value(MILLISECOND_PRECISION_SINCE))
    except ValueError as error:  # the reason starts with the property's name
        return str(error).partition(":")[0], str(error)
    key = context.getProperty(HMAC_KEY)
    if key is None or not key.isSet():
        return None
    try:
        claim_settings_from_context(context)
    except ValueError as error:
        return HMAC_KEY, str(error)
    return None


# --- dead letters ---------------------------------------------------------------------------------------------


def dead_letter(index: int, event_id: str | None, reason: str, original: Any, rule: str | None) -> dict[str, Any]:
    """The invalid record: a fixed shape whatever the original looked like, so the writer's schema holds.
    ``record`` is the original as compact JSON text (values JSON cannot hold written as text); ``rule`` is the
    reason without the record's designation, what the flow groups dead letters by."""
    original_text = None if original is None else json.dumps(original, separators=(",", ":"), default=str)
    return {"index": index, "eventId": event_id, "error": reason, "rule": rule or reason, "record": original_text}


def dead_letter_of(routed: Routed) -> dict[str, Any]:
    """The dead letter of an invalid :class:`~claimflow.claims.Routed` (its ``rule``, or its whole reason when it
    has none, is what the flow groups it by)."""
    reason = routed.error or f"record {routed.index}: invalid"
    return dead_letter(routed.index, routed.event_id, reason, routed.record, routed.rule)


def _is_internal(routed: Routed) -> bool:
    return routed.rule is not None and routed.rule.startswith(INTERNAL_ERROR + " (")


# --- a FlowFile's content at once ------------------------------------------------------------------------------

# How both flows split a claim processor's output: PartitionRecord groups its lines by these RecordPaths (one
# attribute each, absent when a record has no such field: rows have no rule, dead letters no eventName), then
# RouteOnAttribute ("Route to Property name") sends each group to the relationship whose expression holds. The
# flow definitions and the offline model of the two Java processors (claimflow_offline.java) read them here.
PARTITION_PATHS: Mapping[str, str] = {OPERATION_ATTRIBUTE: "/eventName", ERROR_ATTRIBUTE: "/rule"}
ROUTES: Mapping[str, str] = {
    **{name.lower(): f"${{{OPERATION_ATTRIBUTE}:equals('{name}')}}" for name in ("INSERT", "MODIFY", "REMOVE")},
    INVALID: f"${{{ERROR_ATTRIBUTE}:isEmpty():not()}}",
}
ROW_RELATIONSHIPS = ("insert", "modify", "remove")
UNMATCHED = "unmatched"  # RouteOnAttribute's relationship for what matches no route (no line can)
ROUTED_RELATIONSHIPS = (*ROUTES, UNMATCHED)  # every relationship of that RouteOnAttribute


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

    def summary(self) -> tuple[str, str] | None:
        """(logger level, message) for the processor's log, or None when every record became a row. A record that
        failed unexpectedly is a ClaimFlow bug: ``error`` (a bulletin in NiFi). Bad data is routine at volume:
        ``debug``, never a bulletin (the invalid route and the counts show it). Reasons never hold a value."""
        if self.internal_errors:
            return "error", f"{self.internal_errors} of {self.total} records failed unexpectedly (dead letters)"
        if self.first_error is not None:
            return "debug", f"{self.invalid} of {self.total} records invalid; first: {self.first_error}"
        return None

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
    """Raw Kinesis DynamoDB records (any layout the decoder frames) -> :class:`RoutedContent` (ProcessClaimChange).

    Never raises for bad content or a bad record: each record becomes a row or a dead letter (counts in = rows
    out + invalid). ``attributes`` are the FlowFile's (Kinesis position).
    """
    return _written(route_records_fused(data, settings, ingest_time_us, attributes))


def route_change_event_content(
    data: bytes, settings: ClaimSettings, ingest_time_us: int | None = None
) -> RoutedContent:
    """DecodeDynamoDBChange's output (change events and rejection envelopes; NDJSON, or one JSON document) ->
    :class:`RoutedContent` (TransformClaimChange). Image numbers are read exactly (Decimal). A line that is neither
    becomes a dead letter. Never raises for bad content or a bad record.
    """
    if ingest_time_us is None:
        ingest_time_us = time.time_ns() // 1000
    content = Content.of(data)

    def routed() -> Iterator[Routed]:
        exact = None
        for index, (parsed, raw) in enumerate(content.records):
            try:
                if raw is None and exact is None:  # one JSON document: read it again, exactly, once
                    exact = exact_change_events(data)
                item = change_event_item(parsed, raw, index, exact, content)
                result = next(route_events([item], settings, ingest_time_us, first_index=index))
            except Exception as error:  # one record's bug must not take the records after it down
                result = unexpected(index, error, parsed if raw is None else raw)
            yield result

    return _written(routed())


def exact_change_events(data: bytes) -> list[Any] | None:
    """The records of a whole-document input parsed exactly (N values as Decimal) when it holds change events, else
    None; read this way so numbers in images keep their value (orjson would make floats)."""
    if b'"event_name"' not in data:
        return None
    try:
        document = json.loads(data, parse_float=Decimal, parse_int=Decimal)
    except (ValueError, RecursionError):
        return None
    return document if isinstance(document, list) else [document]


def change_event_item(
    parsed: object, raw: bytes | None, index: int, exact: list[Any] | None, content: Content
) -> ChangeEvent | Rejection:
    """One framed line of change-event content -> the ChangeEvent it holds, the Rejection its rejection envelope
    stands for, or the Rejection of a line that is neither (malformed JSON, not a change event).

    ``raw`` is the line (None when the content is one document: then ``exact`` holds its records, parsed exactly).
    """
    if parsed is MALFORMED:
        return decode_framed(parsed, raw, index, None, content)  # the decoder's own reason for a torn line
    if isinstance(parsed, dict) and REJECTION_FIELD in parsed:
        rejection = Rejection.from_envelope(parsed, index)
        if rejection is not None:
            return rejection
    try:
        if exact is not None and raw is None and index < len(exact):
            return ChangeEvent.from_obj(exact[index], index)
        if raw is not None:
            return ChangeEvent.from_json(raw, index)
        return ChangeEvent.from_obj(parsed, index)
    except DecodeError as error:
        return Rejection.of_error(error, raw)


def _written(outcomes: Iterable[Routed]) -> RoutedContent:
    lines = []
    operations = dict.fromkeys(ROW_RELATIONSHIPS, 0)
    invalid = internal = 0
    first_error = None
    for routed in outcomes:
        if routed.row is not None:
            operations[routed.relationship] += 1
            lines.append(orjson.dumps(routed.row))
            continue
        record = dead_letter_of(routed)
        invalid += 1
        internal += _is_internal(routed)
        first_error = first_error or record["error"]
        lines.append(orjson.dumps(record))
    content = b"\n".join(lines) + b"\n" if lines else b""  # one join, no copy of each line
    return RoutedContent(content, operations, invalid, internal, first_error)


@dataclass(slots=True, frozen=True)
class FlowFileOutcome:
    """What a claim processor returns for one FlowFile: relationship, attributes and content, and the one log line
    (level, message) or None."""

    relationship: str
    attributes: Mapping[str, str]
    content: bytes | None
    log: tuple[str, str] | None

    def log_to(self, logger: Any) -> None:
        """Write the log line, if any, at its level: bad data at debug (routine), a ClaimFlow bug at error (a
        bulletin). One string per call: NiFi's logger is Java's ComponentLog over py4j."""
        if self.log is not None:
            level, message = self.log
            getattr(logger, level)(message)


def flowfile_outcome(route: Callable[[], RoutedContent]) -> FlowFileOutcome:
    """Run ``route`` (one of the content routers above) for a FlowFile: ``success`` with its lines and counts, or
    ``failure`` (the input unchanged, ``cdc.error`` and an error log naming only the exception's type: its message
    could quote data) when something outside the per-record path raised."""
    try:
        routed = route()
    except Exception as error:
        reason = f"{INTERNAL_ERROR} ({type(error).__name__})"
        return FlowFileOutcome("failure", {ERROR_ATTRIBUTE: reason}, None, ("error", f"Routing to failure: {reason}"))
    return FlowFileOutcome("success", routed.attributes(), routed.content, routed.summary())
