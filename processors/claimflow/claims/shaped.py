"""The claim-shaped fast path: one clean Kinesis DynamoDB record -> its JSON-ready claim row, in one walk.

The general fused path (``claimflow.claims.fused``) maps the DynamoDB JSON onto columns, then validates the
mapped values, then enriches, then converts to JSON text: four passes over Python objects. This module knows the
claim schema: each layout of a group (its DynamoDB attribute names in order, any spelling the mapping table
accepts) gets a generated function that, attribute by attribute, unwraps the type tag, validates and stores the
JSON-ready value in its column at once. Dates, money, procedure lines and diagnosis codes are validated by the same
functions as everywhere else, cached by their raw text (claim streams repeat them), so the fast path cannot
disagree with the rules.

It handles only the clean common case: every attribute known, the usual type tags (S, N, M, L), each column given
once, every rule passed. Anything else raises :class:`Unusual` and the caller takes the general path, which also
produces any rejection or data-quality finding this path does not compute itself (tests hold the two to the same
rows on clean and mutated records).
"""

from __future__ import annotations

import re
from datetime import date
from functools import lru_cache
from typing import Any

from claimflow.claims import values as v
from claimflow.claims.codes import Diagnosis, lookup_diagnosis
from claimflow.claims.enrich import AGE_IMPLAUSIBLE, CHARGE_BANDS, TOP_BAND, age_in_years
from claimflow.claims.mapping import IGNORED, MAPPING_TABLES, PROCEDURE_KEYS, PROCEDURES, normalise_key
from claimflow.claims.phi import apply_phi
from claimflow.claims.settings import ClaimSettings, PhiMode
from claimflow.claims.status import UNKNOWN, normalise_status
from claimflow.claims.validate import (
    CHECKED_TEXT_COLUMNS,
    COLUMN_WIDTHS,
    DATE_COLUMNS,
    MAX_DIAGNOSES,
    MAX_PROCEDURES,
    PARSED_CACHED,
    TEXT_COLUMNS,
    _procedure_line,
    cached_npi,
)
from claimflow.dynamodb import decode_value, parse_number
from claimflow.rows import COLUMN_NAMES

__all__ = ["Unusual", "claim_row"]


class Unusual(Exception):
    """The record is outside the clean common case: the general path handles it."""


# Handler kinds.
_TEXT, _CHECKED, _PARSED, _GROUP, _DATE, _MONEY, _TIMESTAMP, _NPI, _DIAGNOSES, _LINES, _IGNORED = range(11)

_COLUMN_HANDLERS: dict[str, tuple[int, Any]] = {
    "claimId": (_TEXT, COLUMN_WIDTHS["claimId"]),
    **{name: (_TEXT, COLUMN_WIDTHS[name]) for name in TEXT_COLUMNS},
    # Plausibility checks on values that rarely repeat (phones, e-mails): checked directly, not cached.
    **{name: (_CHECKED, (COLUMN_WIDTHS[name], check, flag)) for name, (check, flag) in CHECKED_TEXT_COLUMNS.items()},
    **{name: (_PARSED, (cached, flag)) for name, cached, _, flag in PARSED_CACHED
       if flag is not None and name not in CHECKED_TEXT_COLUMNS},
    **{name: (_DATE, None) for name in DATE_COLUMNS},
    "createdTimeStamp": (_TIMESTAMP, None),
    "totalCharge": (_MONEY, None),
    "providerNPI": (_NPI, 10),
    "diagnosisCodes": (_DIAGNOSES, None),
    PROCEDURES: (_LINES, None),
}
_MISSING = object()


def _handler(group: str, key: str) -> tuple[int, str, Any]:
    """(kind, column or group target, argument) of a raw attribute name in a mapping group.

    Raises:
        Unusual: an unknown name (a data-quality finding the general path reports).
    """
    target = MAPPING_TABLES[group].get(normalise_key(key))
    if target is None:
        raise Unusual
    if target == IGNORED:
        return (_IGNORED, target, None)
    if target[0] == "@":
        return (_GROUP, target, target[1:])
    kind, argument = _COLUMN_HANDLERS[target]
    return (kind, target, argument)


def _line_field(key: str) -> str:
    name = PROCEDURE_KEYS.get(normalise_key(key))
    if name is None:
        raise Unusual
    return name


_DATES: dict[str, tuple[str, date] | None] = {}
_DATES_LIMIT = 40_000  # every day of 110 years: dates of birth repeat across a population, but widely


def _date(raw: str) -> tuple[str, date] | None:
    """(ISO text, date) of a claim date, by values.iso_date (cached by text, bounded, never evicted).

    Raises:
        ValueError: as values.iso_date.
    """
    found = _DATES.get(raw, _MISSING)
    if found is _MISSING:
        parsed = v.iso_date(raw)
        found = None if parsed is None else (parsed.isoformat(), parsed)
        if len(_DATES) < _DATES_LIMIT:
            _DATES[raw] = found
    return found  # type: ignore[return-value]


@lru_cache(maxsize=4096)
def _is_calendar_date(text: str) -> bool:
    try:
        date.fromisoformat(text)
    except ValueError:
        return False
    return True


# "YYYY-MM-DDTHH:MM:SS" with an optional "Z", in ASCII digits: already UTC, whole seconds.
_PLAIN_UTC_TIMESTAMP = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}T(?:[01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9]Z?")


def _timestamp(raw: str) -> str | None:
    """values.timestamp's result as row text. The usual form is checked by shape (only its date part can be
    impossible); every other form goes through values.timestamp itself."""
    if _PLAIN_UTC_TIMESTAMP.fullmatch(raw) is not None and _is_calendar_date(raw[:10]):
        return raw[:19] + ".000000"
    parsed = v.timestamp(raw)
    return None if parsed is None else parsed.isoformat(timespec="microseconds")


@lru_cache(maxsize=16384)
def _money(raw: str) -> tuple[str, int]:
    """(row text, cents) of a DynamoDB N money value, by the decoder's parse_number and values.money.

    Raises:
        ValueError: the decoder or the money rule rejects it (the general path then reports it).
    """
    amount = v.money(parse_number(raw))
    assert amount is not None
    return str(amount), int(amount * 100)


@lru_cache(maxsize=16384)
def _line(code: str, description: str | None, mods: tuple[str, ...] | None, units: str | None,
          charge: str | None) -> tuple[str, str | None, tuple[str, ...], int, str | None, int | None]:
    """One procedure line from its raw DynamoDB texts, by validate._procedure_line (the same rules).

    Raises:
        ValueError: the decoder or a line rule rejects it.
    """
    charge_value = None if charge is None else parse_number(charge)
    line = _procedure_line(code, description, mods, None if units is None else parse_number(units), charge_value)
    amount = line["charge"]
    return (line["code"], line["description"], tuple(line["modifiers"]), line["units"],
            None if amount is None else str(amount), None if amount is None else int(amount * 100))


def _strings(av: Any) -> list[str]:
    """An L of one-tag S values -> the strings."""
    items = av["L"]
    if len(av) != 1 or items.__class__ is not list:
        raise Unusual
    result = []
    for element in items:
        text = element["S"]
        if len(element) != 1 or text.__class__ is not str:
            raise Unusual
        result.append(text)
    return result


def _diagnoses(av: Any) -> list[Diagnosis]:
    codes = _strings(av)
    if len(codes) > MAX_DIAGNOSES:
        raise Unusual
    return [lookup_diagnosis(code) for code in codes]


# --- the walk: one generated function per group layout -------------------------------------------------------
#
# A claim stream has few layouts (the writer's attribute names, in its order), and each group of a layout is read
# the same way every time. So each (group, attribute names in order) gets a plain function with one block per
# attribute: no name look-up, no dispatch on the kind, no loop. The source is built from the blocks below; the
# attribute names (data) never enter it: they are passed in as constants (K0, K1, ...), like every other value.

def _one_tag(tag: str, var: str, cls: str, container: str = "image") -> str:
    """Block start: attribute K{i} must be a one-tag value whose payload (in ``var``) has the class ``cls``."""
    return (f"    av = {container}[K{{i}}]\n    {var} = av[{tag!r}]\n"
            f"    if len(av) != 1 or {var}.__class__ is not {cls}:\n        raise Unusual\n")


# A clean text payload: a non-empty str within the column's width that needs no trimming. Only a str has .strip()
# here (JSON gives no bytes), and len() of anything but a str, list or dict raises, so the class needs no check.
_CLEAN_TEXT = ("    av = image[K{i}]\n    text = av['S']\n"
               "    if len(av) != 1 or not text or len(text) > A{i} or text.strip() is not text:\n"
               "        raise Unusual\n")
_S, _N, _M = _one_tag("S", "text", "str"), _one_tag("N", "text", "str"), _one_tag("M", "inner", "dict")
_BLOCKS: dict[int, str] = {
    _TEXT: _CLEAN_TEXT + "    fields[C{i}] = text\n",
    _NPI: _CLEAN_TEXT + "    if not npi_is_valid(text):\n        raise Unusual\n    fields[C{i}] = text\n",
    _CHECKED: _CLEAN_TEXT + "    fields[C{i}] = text\n    if not P{i}(text):\n        flags.append(F{i})\n",
    _PARSED: _S + "    fields[C{i}], ok = P{i}(text)\n    if not ok:\n        flags.append(F{i})\n",
    _DATE: _S + "    fields[C{i}] = parse_date(text)\n",
    _TIMESTAMP: _S + "    fields[C{i}] = parse_timestamp(text)\n",
    _MONEY: _N + "    fields[C{i}] = parse_money(text)\n",
    _GROUP: _M + "    layout = tuple(inner)\n"
    "    written += (W{i}.get(layout) or compile_walker(A{i}, layout))(inner, fields, flags) - 1\n",
    _DIAGNOSES: "    fields[C{i}] = parse_diagnoses(image[K{i}])\n",
    _LINES: "    fields[C{i}] = parse_lines(image[K{i}])\n",
    # A known attribute outside the row (the TTL): validated as the decoder would, then not counted as written.
    _IGNORED: "    decode_value(image[K{i}])\n    written -= 1\n",
}
_LAYOUTS_PER_GROUP = 256
_WALKERS: dict[str, dict[tuple[str, ...], Any]] = {group: {} for group in MAPPING_TABLES}


def _compile(group: str, layout: tuple[str, ...]) -> Any:
    """The walker of one group layout: fn(image, fields, flags) -> columns written (nested groups included).

    Raises:
        Unusual: an unknown attribute name, or too many layouts already (the general path handles the rest).
    """
    walkers = _WALKERS[group]
    if len(walkers) >= _LAYOUTS_PER_GROUP:
        raise Unusual  # checked before compiling: a stream of ever-new layouts must not cost a compile per record
    namespace: dict[str, Any] = {
        "Unusual": Unusual, "npi_is_valid": cached_npi, "parse_date": _date, "parse_timestamp": _timestamp,
        "parse_money": _money, "parse_diagnoses": _diagnoses, "parse_lines": _lines, "compile_walker": _compile,
        "decode_value": decode_value,
    }
    body = [f"    written = {len(layout)}\n"]
    for i, key in enumerate(layout):
        kind, target, argument = _handler(group, key)
        namespace[f"K{i}"], namespace[f"C{i}"] = key, target
        if kind in (_TEXT, _NPI):
            namespace[f"A{i}"] = argument
        elif kind == _GROUP:
            namespace[f"A{i}"], namespace[f"W{i}"] = argument, _WALKERS[argument]
        elif kind == _CHECKED:
            namespace[f"A{i}"], namespace[f"P{i}"], namespace[f"F{i}"] = argument
        elif kind == _PARSED:
            namespace[f"P{i}"], namespace[f"F{i}"] = argument
        body.append(_BLOCKS[kind].format(i=i))
    source = "def walker(image, fields, flags):\n" + "".join(body) + "    return written\n"
    exec(compile(source, f"<claimflow.claims.shaped walker: {group}>", "exec"), namespace)
    walker = namespace["walker"]
    walkers[layout] = walker
    return walker


_LINE_READERS: dict[tuple[str, ...], Any] = {}
_LINE_ARGUMENTS = ("code", "description", "modifiers", "units", "charge")


def _compile_line(layout: tuple[str, ...]) -> Any:
    """The reader of one procedure-line layout: fn(attributes) -> the line tuple of :func:`_line`.

    Raises:
        Unusual: an unknown or repeated field, no code, or too many layouts already.
    """
    names = [_line_field(key) for key in layout]
    if len(set(names)) != len(names) or "code" not in names or len(_LINE_READERS) >= _LAYOUTS_PER_GROUP:
        raise Unusual  # the general path maps these (first of a repeated field wins there)
    namespace: dict[str, Any] = {"Unusual": Unusual, "line": _line, "strings": _strings}
    body = []
    for i, (key, name) in enumerate(zip(layout, names, strict=True)):
        namespace[f"K{i}"] = key
        if name == "modifiers":
            body.append(f"    modifiers = tuple(strings(attributes[K{i}]))\n")
        else:
            body.append(_one_tag("N" if name in ("units", "charge") else "S", name, "str", "attributes").format(i=i))
    arguments = ", ".join(name if name in names else "None" for name in _LINE_ARGUMENTS)
    source = "def reader(attributes):\n" + "".join(body) + f"    return line({arguments})\n"
    exec(compile(source, "<claimflow.claims.shaped procedure line reader>", "exec"), namespace)
    reader = namespace["reader"]
    _LINE_READERS[layout] = reader
    return reader


def _lines(av: Any) -> list[tuple[Any, ...]]:
    items = av["L"]
    if len(av) != 1 or items.__class__ is not list or len(items) > MAX_PROCEDURES:
        raise Unusual
    result = []
    for element in items:
        attributes = element["M"]
        if len(element) != 1 or attributes.__class__ is not dict:
            raise Unusual
        layout = tuple(attributes)
        result.append((_LINE_READERS.get(layout) or _compile_line(layout))(attributes))
    return result


def _walk(image: dict[str, Any], group: str, fields: dict[str, Any], flags: list[str]) -> int:
    """Store the group's columns, JSON-ready (dates, money, lines and diagnoses as tuples the caller finishes).
    Returns how many columns the group (with its nested groups) wrote: fewer distinct ones means a column was
    given twice."""
    layout = tuple(image)
    walker = _WALKERS[group].get(layout) or _compile(group, layout)
    return walker(image, fields, flags)


_EPOCH_ORDINAL = date(1970, 1, 1).toordinal()
_US_PER_DAY = 86_400_000_000
_MAX_ORDINAL = date.max.toordinal()
_BAND_CENTS: tuple[tuple[int, str], ...] = tuple((int(bound * 100), band) for bound, band in CHARGE_BANDS)
_ROW_TEMPLATE: dict[str, Any] = dict.fromkeys(COLUMN_NAMES)


def _band(cents: int) -> str:
    for bound, band in _BAND_CENTS:
        if cents < bound:
            return band
    return TOP_BAND


def claim_row(image: dict[str, Any], key: str, event_time_us: int, settings: ClaimSettings,
              strict: bool) -> dict[str, Any]:
    """The claim columns of a clean image, JSON-ready, in a row with every column (the CDC ones left None).
    ``strict``: any data-quality flag sends the record to the general path (which rejects it).

    Raises:
        Unusual: anything outside the clean common case.
        KeyError, TypeError, AttributeError, ValueError: the same (a value of an unexpected shape or a broken
            rule); callers treat them like Unusual.
    """
    fields: dict[str, Any] = {}
    flags: list[str] = []
    if _walk(image, "claim", fields, flags) != len(fields):
        raise Unusual  # a column given twice: the general path reports the conflict
    claim_id = fields.get("claimId")
    if claim_id is None:
        fields["claimId"] = key
    elif claim_id != key:
        raise Unusual

    service, born, submitted = fields.get("dateOfService"), fields.get("patientDOB"), fields.get("billSubmitDate")
    service_date = born_date = None
    if service is not None:
        fields["dateOfService"] = service[0]
        service_date = service[1]
    if born is not None:
        fields["patientDOB"] = born[0]
        born_date = born[1]
    if submitted is not None:
        fields["billSubmitDate"] = submitted[0]

    diagnoses: list[Diagnosis] = fields.get("diagnosisCodes") or []
    fields["diagnosisCodes"] = [d.code for d in diagnoses]
    lines = fields.get(PROCEDURES) or []
    total = fields.get("totalCharge")
    charge_band = None
    if total is not None:
        fields["totalCharge"] = total[0]
        charge_band = _band(total[1])
    units = 0
    charged: int | None = 0
    row_lines = []
    for code, description, mods, line_units, charge, cents in lines:
        row_lines.append({"code": code, "description": description, "modifiers": list(mods), "units": line_units,
                          "charge": charge})
        units += line_units
        charged = None if cents is None or charged is None else charged + cents
    fields[PROCEDURES] = row_lines

    # Findings, as validate.quality_flags and enrich find them (no unknown or conflicting fields here).
    if fields.get("memberId") is None:
        flags.append("MISSING:memberId")
    if service is None:
        flags.append("MISSING:dateOfService")
    if total is None:
        flags.append("MISSING:totalCharge")
    if not diagnoses:
        flags.append("MISSING:diagnosisCodes")
    if not lines:
        flags.append("MISSING:procedureDetails")
    codes = set()
    for diagnosis in diagnoses:
        if not diagnosis.billable:
            flags.append("DIAGNOSIS_NOT_BILLABLE")
        codes.add(diagnosis.code)
    if len(codes) != len(diagnoses):
        flags.append("DUPLICATE_DIAGNOSIS")
    if total is not None and lines and charged is not None and charged != total[1]:
        flags.append("LINE_CHARGES_MISMATCH")
    age = claim_age = None
    if service_date is not None:
        if born_date is not None:
            if born_date > service_date:
                flags.append("DOB_AFTER_SERVICE")
            else:
                age = age_in_years(born_date, service_date)
                if age > AGE_IMPLAUSIBLE:
                    flags.append("PATIENT_AGE_IMPLAUSIBLE")
        if submitted is not None and submitted[1] < service_date:
            flags.append("BILL_BEFORE_SERVICE")
        event_day = _EPOCH_ORDINAL + event_time_us // _US_PER_DAY
        if event_day > _MAX_ORDINAL:
            raise Unusual  # beyond what a date can hold: the general path fails as it does
        claim_age = event_day - service_date.toordinal()
        if claim_age < 0:
            flags.append("SERVICE_AFTER_EVENT")
    status_text = fields.get("claimStatus")
    status = normalise_status(status_text)
    if status is UNKNOWN and status_text is not None:
        flags.append("CLAIM_STATUS_UNRECOGNISED")
    if strict and flags:
        raise Unusual

    row = _ROW_TEMPLATE.copy()
    row.update(fields)
    row["claimStatusCode"] = status.canonical
    row["x12StatusCategory"] = status.x12_category
    if diagnoses:
        primary = diagnoses[0]
        row["primaryDiagnosisCode"] = primary.code
        row["primaryDiagnosisDescription"] = primary.description
        row["primaryDiagnosisChapter"] = primary.chapter
    row["diagnosisCount"] = len(diagnoses)
    row["procedureCount"] = len(lines)
    row["totalUnits"] = units
    row["patientAgeAtService"] = age
    row["claimAgeDays"] = claim_age
    row["chargeBand"] = charge_band
    row["dataQualityFlags"] = sorted(set(flags)) if flags else []
    if settings.phi_mode is PhiMode.PASSTHROUGH and not settings.generalize_zip3 and not settings.generalize_birth_year:
        row["phiMode"] = "passthrough"
    elif settings.generalize_birth_year:
        row["patientDOB"] = born_date  # apply_phi generalises the date itself
        apply_phi(row, settings)
        generalised = row["patientDOB"]
        row["patientDOB"] = None if generalised is None else generalised.isoformat()
    else:
        apply_phi(row, settings)
    return row
