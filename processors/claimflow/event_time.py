"""When a change happened: reading DynamoDB's ``ApproximateCreationDateTime`` as epoch microseconds, the bounds of
a plausible event time, and the operator's event-time settings (:class:`EventTimeRules`: "Maximum Clock Skew",
"Millisecond Precision Since"). The decoder (``claimflow.events``) applies them to each record; see
docs/guarantees.md, "Implausible times" and "Mixed precision"."""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import ROUND_HALF_EVEN, Decimal

# Epoch values above this are microseconds, below it milliseconds (1e14 us is 1973; 1e14 ms is year 5138).
_MICROSECOND_THRESHOLD = 10**14

# A creation time as the readers write it: an integer, or (NiFi's schema inference widens a field to double when
# one record of a FlowFile holds a fraction; exact parsers give Decimal) a number with a fraction or an exponent.
CREATION_NUMBER_TYPES = (int, float, Decimal)
MAX_CREATION_VALUE = 10**30  # far past any plausible time in any unit; keeps float/Decimal arithmetic small


def creation_time_us(value: int | float | Decimal, precision: object) -> int:
    """A (positive) ApproximateCreationDateTime in epoch microseconds: by its precision field (``MICROSECOND`` /
    ``MILLISECOND``) when given, by its magnitude otherwise; a fraction of a microsecond is rounded half to even.
    Raises nothing; an unknown precision label reads as absent here, and :func:`implausible_event_time` rejects it."""
    if precision == "MICROSECOND":
        scale = 1
    elif precision == "MILLISECOND":
        scale = 1000
    else:
        scale = 1 if value > _MICROSECOND_THRESHOLD else 1000
    if value.__class__ is int:
        return value * scale
    # Decimal(float) is the double's exact value, so 1.761955204000012e15 gives its digits, not a rounding.
    exact = value if value.__class__ is Decimal else Decimal(value)
    return int((exact * scale).to_integral_value(rounding=ROUND_HALF_EVEN))


# Bounds of a plausible event time (issue 11; docs/guarantees.md). DynamoDB Streams was announced in November
# 2014, so nothing real is older: an earlier time is a unit mistake (seconds read as ms or µs land in 1970).
EARLIEST_EVENT_TIME_US = 1_414_800_000_000_000  # 2014-11-01T00:00:00Z
# How far an event may lie past its Kinesis arrival (or, when the arrival is unknown, past this machine's clock):
# DynamoDB stamps a change before Kinesis receives it, so more than clock skew means a wrong unit or a wrong clock,
# and such a time would outrank every later real event of the claim in the merge. The default of the operator's
# setting (EventTimeRules.max_clock_skew_us: the "Maximum Clock Skew" property, --max-clock-skew), within bounds:
# under a second would reject real records of a healthy pipeline (NTP keeps clocks to milliseconds, the arrival is
# whole milliseconds); over a day would let a wrong clock freeze a claim for that long.
MAX_CLOCK_SKEW_US = 15 * 60 * 1_000_000
MIN_CLOCK_SKEW_SETTING_US = 1_000_000
MAX_CLOCK_SKEW_SETTING_US = 24 * 3600 * 1_000_000
KNOWN_PRECISIONS = frozenset({None, "MICROSECOND", "MILLISECOND"})
# The last microsecond a MILLISECOND time can stand for, past its first (the time is the interval [ms, ms + 999]).
_LAST_MICROSECOND = 999


def implausible_event_time(
    event_time_us: int, precision: object, arrival_time_ms: int | None, max_clock_skew_us: int = MAX_CLOCK_SKEW_US
) -> str | None:
    """The rule an event time breaks (for a rejection reason; never the value), or None when it is plausible:
    a known precision label, not before :data:`EARLIEST_EVENT_TIME_US`, not more than ``max_clock_skew_us`` past
    the record's arrival (or past now when the arrival is unknown)."""
    if precision not in KNOWN_PRECISIONS:
        return "dynamodb.ApproximateCreationDateTimePrecision must be MICROSECOND or MILLISECOND"
    if event_time_us < EARLIEST_EVENT_TIME_US:
        return "dynamodb.ApproximateCreationDateTime is implausible: before DynamoDB Streams existed (2014-11)"
    reference_us = time.time_ns() // 1000 if arrival_time_ms is None else arrival_time_ms * 1000
    if event_time_us > reference_us + max_clock_skew_us:
        after = "now" if arrival_time_ms is None else "its Kinesis arrival"
        return (
            f"dynamodb.ApproximateCreationDateTime is implausible: more than {describe_period(max_clock_skew_us)} "
            f"after {after} (the maximum clock skew)"
        )
    return None


@dataclass(frozen=True, slots=True)
class EventTimeRules:
    """How the decoder reads and bounds ``ApproximateCreationDateTime``: the operator's settings of the processors
    and commands that decode Kinesis records (docs/guarantees.md, "Implausible times" and "Mixed precision").

    ``max_clock_skew_us``: how far an event time may lie past its Kinesis arrival (:func:`implausible_event_time`).
    ``millisecond_since_us``: when the stream's precision was switched from MICROSECOND to MILLISECOND, if it was
    (epoch microseconds; None: never). A MILLISECOND time stands for the 1,000 microseconds of its millisecond; one
    whose millisecond ends at or after this moment is read as the LAST of them (``ms * 1000 + 999``), so it orders
    after the MICROSECOND changes of its millisecond, which all came before the switch. Every other one is read as
    the FIRST (``ms * 1000``), which orders it before the MICROSECOND changes of its millisecond: right for a
    stream that never switched or switched from MILLISECOND to MICROSECOND. A time with a sub-millisecond fraction
    says more than its millisecond and is read as it is.

    Raises:
        ValueError: a skew outside :data:`MIN_CLOCK_SKEW_SETTING_US` .. :data:`MAX_CLOCK_SKEW_SETTING_US`, or a
            switch-over before DynamoDB Streams existed.
    """

    max_clock_skew_us: int = MAX_CLOCK_SKEW_US
    millisecond_since_us: int | None = None

    def __post_init__(self) -> None:
        skew = self.max_clock_skew_us
        if skew.__class__ is not int or not MIN_CLOCK_SKEW_SETTING_US <= skew <= MAX_CLOCK_SKEW_SETTING_US:
            raise ValueError(
                f"the maximum clock skew must be from {describe_period(MIN_CLOCK_SKEW_SETTING_US)} to "
                f"{describe_period(MAX_CLOCK_SKEW_SETTING_US)}"
            )
        since = self.millisecond_since_us
        if since is not None and (since.__class__ is not int or since < EARLIEST_EVENT_TIME_US):
            raise ValueError("the millisecond switch-over must be a time after 2014-11 (DynamoDB Streams)")

    def placed(self, event_time_us: int, value: object, precision: object) -> int:
        """``event_time_us`` (:func:`creation_time_us` of ``value`` and ``precision``) placed in its millisecond:
        the last microsecond for a whole-millisecond time at or after the switch-over, else unchanged."""
        since = self.millisecond_since_us
        if (
            since is None
            or event_time_us % 1000
            or precision == "MICROSECOND"
            or (precision is None and value > _MICROSECOND_THRESHOLD)  # type: ignore[operator]
            or event_time_us + _LAST_MICROSECOND < since
        ):
            return event_time_us
        return event_time_us + _LAST_MICROSECOND


DEFAULT_TIME_RULES = EventTimeRules()

_PERIOD = re.compile(r"\s*(\d{1,15})\s*([A-Za-z]+)\s*")
# NiFi's time-period units (FormatUtils), the ones a skew can sensibly be written in.
_PERIOD_UNITS_US = {
    **dict.fromkeys(("ms", "msec", "msecs", "millis", "millisecond", "milliseconds"), 1000),
    **dict.fromkeys(("s", "sec", "secs", "second", "seconds"), 1_000_000),
    **dict.fromkeys(("m", "min", "mins", "minute", "minutes"), 60_000_000),
    **dict.fromkeys(("h", "hr", "hrs", "hour", "hours"), 3_600_000_000),
}


def parse_period_us(text: str) -> int:
    """A NiFi time period (``15 min``, ``90 sec``, ``1 hour``: a whole number and a unit) in microseconds.

    Raises:
        ValueError: anything else (the message does not repeat the text).
    """
    match = _PERIOD.fullmatch(text)
    unit = None if match is None else _PERIOD_UNITS_US.get(match[2].lower())
    if match is None or unit is None:
        raise ValueError("expected a whole number and a unit (ms, sec, min or hour), e.g. '15 min'")
    return int(match[1]) * unit


def describe_period(period_us: int) -> str:
    """``period_us`` in the largest unit that divides it: "15 minutes", "90 seconds", "1 hour"."""
    for unit, name in ((3_600_000_000, "hour"), (60_000_000, "minute"), (1_000_000, "second"), (1000, "millisecond")):
        if period_us % unit == 0:
            count = period_us // unit
            return f"{count} {name}{'' if count == 1 else 's'}"
    return f"{period_us} microseconds"


def parse_instant_us(text: str) -> int:
    """An ISO 8601 date-time (``2026-05-01T12:00:00Z``; no offset means UTC) in epoch microseconds.

    Raises:
        ValueError: not an ISO 8601 date-time (the message does not repeat the text).
    """
    stripped = text.strip()
    if stripped[-1:] in ("Z", "z"):
        stripped = stripped[:-1] + "+00:00"
    try:
        moment = datetime.fromisoformat(stripped)
    except ValueError:
        raise ValueError("expected an ISO 8601 date-time such as 2026-05-01T12:00:00Z") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    delta = moment - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


# The event-time settings by the names of the decoding processors' properties. A reason starts with the name
# ("Maximum Clock Skew: ..."): DecodeDynamoDBChange's customValidate takes its subject from there.
MAX_CLOCK_SKEW = "Maximum Clock Skew"
MILLISECOND_PRECISION_SINCE = "Millisecond Precision Since"


def time_rules_from_strings(max_clock_skew: str | None, millisecond_since: str | None) -> EventTimeRules:
    """The :class:`EventTimeRules` for the settings as NiFi properties or CLI options give them: a time period
    (``15 min``) and an ISO 8601 date-time; None or blank means the default (15 minutes; no switch-over).

    Raises:
        ValueError: naming the setting and the rule, never repeating the value.
    """
    skew = _setting_us(MAX_CLOCK_SKEW, max_clock_skew, parse_period_us)
    since = _setting_us(MILLISECOND_PRECISION_SINCE, millisecond_since, parse_instant_us)
    try:
        return EventTimeRules(MAX_CLOCK_SKEW_US if skew is None else skew, since)
    except ValueError as error:
        name = MAX_CLOCK_SKEW if "skew" in str(error) else MILLISECOND_PRECISION_SINCE
        raise ValueError(f"{name}: {error}") from None


def _setting_us(name: str, text: str | None, parse: Callable[[str], int]) -> int | None:
    """One event-time setting's text parsed, None when unset or blank; a reason names the setting."""
    if text is None or not text.strip():
        return None
    try:
        return parse(text)
    except ValueError as error:
        raise ValueError(f"{name}: {error}") from None
