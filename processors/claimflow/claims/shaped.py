"""The claim-shaped fast path: one clean Kinesis DynamoDB record -> its JSON-ready claim row, in one walk.

The general fused path (``claimflow.claims.fused``) maps the DynamoDB JSON onto columns, then validates the
mapped values, then enriches, then converts to JSON text: four passes over Python objects. This module knows the
claim schema: each DynamoDB attribute name (any spelling the mapping table accepts, resolved once per raw name)
leads to a handler for its column, which unwraps the type tag, validates and stores the JSON-ready value at once.
Dates, money, procedure lines and diagnosis codes are validated by the same functions as everywhere else, cached
by their raw text (claim streams repeat them), so the fast path cannot disagree with the rules.

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
from claimflow.claims.mapping import _TABLES, PROCEDURE_KEYS, PROCEDURES, normalise_key
from claimflow.claims.phi import apply_phi
from claimflow.claims.settings import ClaimSettings, PhiMode
from claimflow.claims.status import UNKNOWN, normalise_status
from claimflow.claims.validate import (
    _PARSED_CACHED,
    _WIDTH,
    DATE_COLUMNS,
    MAX_DIAGNOSES,
    MAX_PROCEDURES,
    TEXT_COLUMNS,
    _cached_npi,
    _procedure_line,
)
from claimflow.dynamodb import parse_number
from claimflow.rows import COLUMN_NAMES

__all__ = ["Unusual", "claim_row"]


class Unusual(Exception):
    """The record is outside the clean common case: the general path handles it."""


# Handler kinds, by how often they occur in a claim.
_TEXT, _PARSED, _GROUP, _DATE, _MONEY, _TIMESTAMP, _NPI, _DIAGNOSES, _LINES = range(9)

_COLUMN_HANDLERS: dict[str, tuple[int, Any]] = {
    "claimId": (_TEXT, _WIDTH["claimId"]),
    **{name: (_TEXT, _WIDTH[name]) for name in TEXT_COLUMNS},
    **{name: (_PARSED, (cached, flag)) for name, cached, _, flag in _PARSED_CACHED if flag is not None},
    **{name: (_DATE, None) for name in DATE_COLUMNS},
    "createdTimeStamp": (_TIMESTAMP, None),
    "totalCharge": (_MONEY, None),
    "providerNPI": (_NPI, 10),
    "diagnosisCodes": (_DIAGNOSES, None),
    PROCEDURES: (_LINES, None),
}
# raw attribute name -> (kind, column, argument), per mapping group; filled as names are met (bounded).
_HANDLERS: dict[str, dict[str, tuple[int, str, Any]]] = {group: {} for group in _TABLES}
_LINE_FIELDS: dict[str, str] = {}
_CACHE_LIMIT = 4096


def _handler(group: str, key: str) -> tuple[int, str, Any]:
    target = _TABLES[group].get(normalise_key(key))
    if target is None:
        raise Unusual  # an unknown field: a data-quality finding the general path reports
    if target[0] == "@":
        found = (_GROUP, target, target[1:])
    else:
        kind, argument = _COLUMN_HANDLERS[target]
        found = (kind, target, argument)
    if len(_HANDLERS[group]) < _CACHE_LIMIT:
        _HANDLERS[group][key] = found
    return found


def _line_field(key: str) -> str:
    name = PROCEDURE_KEYS.get(normalise_key(key))
    if name is None:
        raise Unusual
    if len(_LINE_FIELDS) < _CACHE_LIMIT:
        _LINE_FIELDS[key] = name
    return name


@lru_cache(maxsize=4096)
def _date(raw: str) -> tuple[str, date] | None:
    """(ISO text, date) of a claim date, by values.iso_date. Raises ValueError like it."""
    parsed = v.iso_date(raw)
    return None if parsed is None else (parsed.isoformat(), parsed)


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


def _lines(av: Any) -> list[tuple[Any, ...]]:
    items = av["L"]
    if len(av) != 1 or items.__class__ is not list or len(items) > MAX_PROCEDURES:
        raise Unusual
    result = []
    for element in items:
        attributes = element["M"]
        if len(element) != 1 or attributes.__class__ is not dict:
            raise Unusual
        raw: dict[str, Any] = {}
        for key, value_av in attributes.items():
            name = _LINE_FIELDS.get(key) or _line_field(key)
            if name in raw or len(value_av) != 1:
                raise Unusual  # a field given twice, or a padded value: the general path decides
            if name == "modifiers":
                raw[name] = tuple(_strings(value_av))
            else:
                text = value_av["N" if name in ("units", "charge") else "S"]
                if text.__class__ is not str:
                    raise Unusual
                raw[name] = text
        code = raw.get("code")
        if code is None:
            raise Unusual
        result.append(_line(code, raw.get("description"), raw.get("modifiers"), raw.get("units"), raw.get("charge")))
    return result


def _walk(image: dict[str, Any], group: str, fields: dict[str, Any], flags: list[str]) -> int:
    """Store the group's columns, JSON-ready (dates, money, lines and diagnoses as tuples the caller finishes).
    Returns how many columns the group (with its nested groups) wrote: fewer distinct ones means a column was
    given twice."""
    handlers = _HANDLERS[group]
    written = len(image)
    for key, av in image.items():
        kind, column, argument = handlers.get(key) or _handler(group, key)
        if len(av) != 1:
            raise Unusual  # padded or multi-tag values: the decoder's rules apply
        if kind == _TEXT:
            text = av["S"]
            if text.__class__ is not str or not text or len(text) > argument or text.strip() is not text:
                raise Unusual
            fields[column] = text
        elif kind == _PARSED:
            text = av["S"]
            if text.__class__ is not str:
                raise Unusual
            value, well_formed = argument[0](text)
            fields[column] = value
            if not well_formed:
                flags.append(argument[1])
        elif kind == _GROUP:
            inner = av["M"]
            if inner.__class__ is not dict:
                raise Unusual
            written += _walk(inner, argument, fields, flags) - 1
        elif kind == _DATE:
            text = av["S"]
            if text.__class__ is not str:
                raise Unusual
            fields[column] = _date(text)
        elif kind == _MONEY:
            text = av["N"]
            if text.__class__ is not str:
                raise Unusual
            fields[column] = _money(text)
        elif kind == _TIMESTAMP:
            text = av["S"]
            if text.__class__ is not str:
                raise Unusual
            fields[column] = _timestamp(text)
        elif kind == _NPI:
            text = av["S"]
            if text.__class__ is not str or not text or len(text) > argument or text.strip() is not text:
                raise Unusual
            if not _cached_npi(text):
                raise Unusual
            fields[column] = text
        elif kind == _DIAGNOSES:
            codes = _strings(av)
            if len(codes) > MAX_DIAGNOSES:
                raise Unusual
            fields[column] = [lookup_diagnosis(code) for code in codes]
        else:
            fields[column] = _lines(av)
    return written


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
