"""Parsing and normalising single claim values. Shared by the fast validated path and the pydantic model.

Every function raises ``ValueError`` whose message names the rule broken, never the value (values are PHI).
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

CENT = Decimal("0.01")
MAX_MONEY = Decimal("9999999999.99")  # NUMBER(12,2)
MAX_UNITS = 9999

_ZIP = re.compile(r"^(\d{5})(?:-?(\d{4}))?$")
_STATE = re.compile(r"^[A-Z]{2}$")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_TAXONOMY = re.compile(r"^\d{3}[0-9A-Z]{6}X$")
_PHONE_DIGITS = re.compile(r"\d")

GENDERS: dict[str, str] = {
    "m": "M",
    "male": "M",
    "man": "M",
    "f": "F",
    "female": "F",
    "woman": "F",
    "u": "U",
    "unknown": "U",
    "x": "X",
    "other": "X",
    "nonbinary": "X",
    "non-binary": "X",
}


def identifier(value: Any, max_length: int) -> str | None:
    """An identifier exactly as the source holds it (empty -> None): never trimmed or otherwise normalised, since
    "P1" and "P1 " are two DynamoDB items and must stay two rows (a trimmed key would merge or delete the other).

    Raises:
        ValueError: not a string, or longer than the column allows.
    """
    if value is None:
        return None
    if not isinstance(value, str):
        raise ValueError("not text")
    if not value:
        return None
    if len(value) > max_length:
        raise ValueError(f"longer than {max_length} characters")
    return value


def text(value: Any, max_length: int) -> str | None:
    """A text value: strings are trimmed (empty -> None); integral numbers become their digits.

    Raises:
        ValueError: not text (a map, list, bool, a fractional number) or longer than the column allows.
    """
    if value is None:
        return None
    if isinstance(value, str):
        result = value.strip()
    elif isinstance(value, Decimal) and not isinstance(value, bool) and value == value.to_integral_value():
        result = format(value, "f")
    elif isinstance(value, int) and not isinstance(value, bool):
        result = str(value)
    else:
        raise ValueError("not text")
    if not result:
        return None
    if len(result) > max_length:
        raise ValueError(f"longer than {max_length} characters")
    return result


def money(value: Any) -> Decimal | None:
    """An amount in USD with at most 2 decimal places, 0 <= amount <= 9,999,999,999.99, as a 2-place Decimal.

    Raises:
        ValueError: not a number, negative, more than 2 decimal places, or beyond NUMBER(12,2).
    """
    if value is None:
        return None
    if isinstance(value, bool):
        raise ValueError("not a number")
    if isinstance(value, str):
        try:
            value = Decimal(value.strip())
        except InvalidOperation:
            raise ValueError("not a number") from None
    elif isinstance(value, int):
        value = Decimal(value)
    elif not isinstance(value, Decimal):
        raise ValueError("not a number")  # float is refused on purpose: money stays exact
    if not value.is_finite():
        raise ValueError("not a number")
    if value < 0:
        raise ValueError("negative")
    quantised = value.quantize(CENT) if value.adjusted() < 12 else value
    if quantised != value:
        raise ValueError("more than 2 decimal places")
    if quantised > MAX_MONEY:
        raise ValueError("beyond NUMBER(12,2)")
    return quantised


def units(value: Any) -> int:
    """Service units: a whole number from 1 to 9999; absent means 1 (the X12 837 default of one unit).

    Raises:
        ValueError: not a whole number, or out of range.
    """
    if value is None:
        return 1
    if isinstance(value, bool):
        raise ValueError("not a whole number")
    if isinstance(value, str):
        try:
            value = Decimal(value.strip())
        except InvalidOperation:
            raise ValueError("not a whole number") from None
    if isinstance(value, Decimal):
        if not value.is_finite() or value != value.to_integral_value():
            raise ValueError("not a whole number")
        value = int(value)
    if not isinstance(value, int):
        raise ValueError("not a whole number")
    if not 1 <= value <= MAX_UNITS:
        raise ValueError(f"outside 1..{MAX_UNITS}")
    return value


MIN_YEAR, MAX_YEAR = 1900, 2199  # claim dates outside this range are typos, and would overflow claimAgeDays


def iso_date(value: Any) -> date | None:
    """An ISO 8601 calendar date ``YYYY-MM-DD``; a full ISO timestamp gives its date part.

    Raises:
        ValueError: not a string in that form, an impossible date (2024-02-30), or a year outside 1900-2199.
    """
    if value is None:
        return None
    if not isinstance(value, str):
        raise ValueError("not an ISO date")
    value = value.strip()
    if not value:
        return None
    if len(value) > 10 and value[10] in "T ":
        value = value[:10]
    if len(value) != 10 or value[4] != "-" or value[7] != "-":
        raise ValueError("not an ISO date")
    try:
        parsed = date.fromisoformat(value)
    except ValueError:
        raise ValueError("impossible date") from None
    if not MIN_YEAR <= parsed.year <= MAX_YEAR:
        raise ValueError(f"year outside {MIN_YEAR}-{MAX_YEAR}")
    return parsed


def timestamp(value: Any) -> datetime | None:
    """An ISO 8601 timestamp (offset or ``Z`` converted to UTC; none means UTC), or epoch seconds/ms/us as a number.

    Returns a naive datetime in UTC.

    Raises:
        ValueError: not a timestamp, or an impossible one.
    """
    if value is None:
        return None
    if isinstance(value, bool):
        raise ValueError("not an ISO timestamp")
    if isinstance(value, Decimal | int):
        epoch = Decimal(value)
        if not epoch.is_finite() or epoch < 0:
            raise ValueError("not an epoch timestamp")
        micros = epoch * 1_000_000 if epoch < 10**11 else epoch * 1000 if epoch < 10**14 else epoch
        try:
            return datetime.fromtimestamp(int(micros) // 1_000_000, UTC).replace(
                tzinfo=None, microsecond=int(micros) % 1_000_000
            )
        except (OverflowError, ValueError, OSError):
            raise ValueError("epoch timestamp out of range") from None
    if not isinstance(value, str):
        raise ValueError("not an ISO timestamp")
    value = value.strip()
    if not value:
        return None
    if len(value) < 10 or value[4] != "-" or value[7] != "-":
        raise ValueError("not an ISO timestamp")
    try:
        # A trailing Z is UTC already: read the naive part (the usual form; no time-zone conversion needed).
        if value[-1] == "Z" and value[-2:-1].isdigit() and "T" in value and "+" not in value and value.rfind("-") == 7:
            parsed = datetime.fromisoformat(value[:-1])
        else:
            parsed = datetime.fromisoformat(value)
    except ValueError:
        raise ValueError("impossible or malformed timestamp") from None
    if parsed.tzinfo is not None:
        parsed = parsed.astimezone(UTC).replace(tzinfo=None)
    return parsed


def gender(value: Any) -> str | None:
    """M, F, U or X; returns None for a value outside the known spellings (a data-quality finding, not an error).

    Raises:
        ValueError: not text.
    """
    raw = text(value, 32)
    if raw is None:
        return None
    return GENDERS.get(raw.lower())


def zip_code(value: Any) -> tuple[str | None, bool]:
    """A ZIP or ZIP+4 with leading zeros kept (a number is zero-padded); returns (value, well_formed).

    A malformed ZIP is kept as written (if it fits) and reported as a data-quality finding.

    Raises:
        ValueError: not text, or longer than 10 characters.
    """
    if isinstance(value, Decimal | int) and not isinstance(value, bool) and 0 <= value < 100000:
        return f"{int(value):05d}", True
    raw = text(value, 10)
    if raw is None:
        return None, True
    match = _ZIP.match(raw)
    if match is None:
        return raw, False
    return (f"{match[1]}-{match[2]}" if match[2] else match[1]), True


def state_code(value: Any) -> tuple[str | None, bool]:
    """A USPS state code, upper-cased; returns (value, well_formed).

    Raises:
        ValueError: not text, or longer than 2 characters.
    """
    raw = text(value, 2)
    if raw is None:
        return None, True
    raw = raw.upper()
    return raw, _STATE.match(raw) is not None


def email_is_plausible(value: str) -> bool:
    return _EMAIL.match(value) is not None


def phone_is_plausible(value: str) -> bool:
    """10 to 15 digits, anything between them."""
    if value.isascii():  # the common case: count by deleting the digits (in C) rather than matching each one
        digits = len(value) - len(value.encode().translate(None, b"0123456789"))
    else:
        digits = len(_PHONE_DIGITS.findall(value))
    return 10 <= digits <= 15


def taxonomy_is_plausible(value: str) -> bool:
    return _TAXONOMY.match(value) is not None
