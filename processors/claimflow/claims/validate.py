"""The fast validated path: mapped item -> normalised claim values, with plain dict access and cached look-ups.

This is what the row builder runs per record. ``claimflow.claims.model`` states the same rules declaratively with
pydantic; tests hold the two to the same answers on valid and invalid items. Rejections raise ``InvalidClaim``
naming every rule the claim breaks (each column checked on its own, so one record's reason lists them all);
findings that do not make a claim unusable become data-quality flags (codes listed in docs/claim-rows.md).
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from typing import Any, NamedTuple

from claimflow.caching import bounded_cache
from claimflow.claims import values as v
from claimflow.claims.codes import (
    CodeError,
    Diagnosis,
    lookup_diagnosis,
    modifier_is_valid,
    npi_is_valid,
    procedure_code_is_valid,
)
from claimflow.claims.errors import Failure, InvalidClaim
from claimflow.claims.mapping import PROCEDURES, MappedItem, extra_attributes
from claimflow.rows import COLUMNS, VARCHAR_WIDTHS, Group

# Width of each varchar claim column (rows.VARCHAR_WIDTHS, from rows.COLUMNS).
COLUMN_WIDTHS: dict[str, int] = {
    c.name: VARCHAR_WIDTHS[c.name] for c in COLUMNS if c.group is Group.CLAIM and c.name in VARCHAR_WIDTHS
}
# Plain text columns: trimmed and width-checked, nothing more.
TEXT_COLUMNS: tuple[str, ...] = (
    "memberId",
    "insurancePlan",
    "patientCity",
    "patientStreet",
    "patientLastName",
    "patientFirstName",
    "claimStatus",
    "providerName",
    "providerCity",
    "providerStreet",
    "payerName",
    "payerId",
    "paymentStatus",
    "providerCredentials",
)
# Text columns with a plausibility check whose failure is a finding: column -> (check, flag).
CHECKED_TEXT_COLUMNS: dict[str, tuple[Any, str]] = {
    "patientEmail": (v.email_is_plausible, "PATIENT_EMAIL_MALFORMED"),
    "patientPhone": (v.phone_is_plausible, "PATIENT_PHONE_MALFORMED"),
    "payerContactNumber": (v.phone_is_plausible, "PAYER_CONTACT_MALFORMED"),
    "providerTaxonomy": (v.taxonomy_is_plausible, "PROVIDER_TAXONOMY_MALFORMED"),
}
DATE_COLUMNS: tuple[str, ...] = ("dateOfService", "patientDOB", "billSubmitDate")
# A claim row is useful without these, but their absence is worth a flag.
EXPECTED_COLUMNS: tuple[str, ...] = ("memberId", "dateOfService", "totalCharge", "diagnosisCodes", PROCEDURES)
MAX_DIAGNOSES = 99
MAX_PROCEDURES = 999
MAX_MODIFIERS = 4


class ValidatedClaim(NamedTuple):
    values: dict[str, Any]  # claim columns -> normalised Python values (str, Decimal, date, datetime, int, list)
    diagnoses: list[Diagnosis]
    flags: list[str]


def _field(name: str, parse: Any, *args: Any) -> Any:
    try:
        return parse(*args)
    except ValueError as exc:
        raise InvalidClaim(name, str(exc)) from None


def claim_id(raw: Any) -> str:
    """The claim key: required, text, at most 64 characters, exactly as the item holds it (see
    :func:`claimflow.claims.values.identifier`: whitespace is part of a key).

    Raises:
        InvalidClaim: missing, not text, or too long.
    """
    key = _field("claimId", v.identifier, raw, COLUMN_WIDTHS["claimId"])
    if key is None:
        raise InvalidClaim("claimId", "missing")
    return key


def diagnosis_codes(raw: Any) -> list[Diagnosis]:
    """Diagnosis codes as a list (or one comma-separated string), each an ICD-10-CM code in the code set.

    Raises:
        InvalidClaim: not a list of text, too many, or codes not in ICD-10-CM format or not in the code set (each
        bad code named by its position).
    """
    if raw is None:
        return []
    if isinstance(raw, str):
        raw = [part for part in raw.split(",") if part.strip()]
    if not isinstance(raw, list):
        raise InvalidClaim("diagnosisCodes", "not a list")
    if len(raw) > MAX_DIAGNOSES:
        raise InvalidClaim("diagnosisCodes", f"more than {MAX_DIAGNOSES} codes")
    result = []
    failures: list[Failure] = []
    for i, code in enumerate(raw):
        if not isinstance(code, str):
            failures.append((f"diagnosisCodes[{i}]", "not text"))
            continue
        try:
            result.append(lookup_diagnosis(code))
        except CodeError as exc:
            failures.append((f"diagnosisCodes[{i}]", str(exc)))
    if failures:
        raise InvalidClaim.of(failures)
    return result


def procedure_lines(raw: Any) -> list[dict[str, Any]]:
    """Procedure lines (mapped by claimflow.claims.mapping) -> list of PROCEDURE_FIELDS dicts.

    The returned line dicts may be shared between claims (validation of identical lines is cached): treat them
    as read-only.

    Raises:
        InvalidClaim: not a list of objects, a code not CPT/HCPCS, a bad modifier, charge or units (every bad
        field of every line, named by line number).
    """
    if raw is None:
        return []
    if raw.__class__ is not list:
        raise InvalidClaim(PROCEDURES, "not a list")
    if len(raw) > MAX_PROCEDURES:
        raise InvalidClaim(PROCEDURES, f"more than {MAX_PROCEDURES} lines")
    lines = []
    failures: list[Failure] = []
    for i, line in enumerate(raw):
        if line.__class__ is not dict:
            failures.append((f"{PROCEDURES}[{i}]", "not an object"))
            continue
        mods = line.get("modifiers")
        if mods.__class__ is list:
            mods = tuple(mods)
        args = (line.get("code"), line.get("description"), mods, line.get("units"), line.get("charge"))
        try:
            try:
                lines.append(cached_procedure_line(*args))
            except TypeError:  # an unhashable value (a map where text belongs): validate without the cache
                lines.append(_procedure_line(*args))
        except InvalidClaim as exc:
            failures.extend(exc.prefixed(f"{PROCEDURES}[{i}].").failures)
    if failures:
        raise InvalidClaim.of(failures)
    return lines


def _procedure_line(code: Any, description: Any, mods: Any, units: Any, charge: Any) -> dict[str, Any]:
    """One procedure line; errors name the line's fields only (the caller adds the line number)."""
    failures: list[Failure] = []
    line: dict[str, Any] = {}
    try:
        code = _text("code", code, 5)
        if code is None:
            failures.append(("code", "missing"))
        elif not procedure_code_is_valid(code.upper()):
            failures.append(("code", "not a CPT or HCPCS code"))
        else:
            line["code"] = code.upper()
    except InvalidClaim as exc:
        failures.extend(exc.failures)
    checks: tuple[tuple[str, Any, tuple[Any, ...]], ...] = (
        ("description", _text, ("description", description, 512)),
        ("modifiers", modifiers, (list(mods) if mods.__class__ is tuple else mods, "")),
        ("units", _field, ("units", v.units, units)),
        ("charge", _field, ("charge", v.money, charge)),
    )
    for name, check, args in checks:
        try:
            line[name] = check(*args)
        except InvalidClaim as exc:
            failures.extend(exc.failures)
    if failures:
        raise InvalidClaim.of(failures)
    return line


# typed: True, 1 and Decimal(1) are equal as keys but not as claim values (units=True is not a number).
cached_procedure_line = bounded_cache(16384, typed=True)(_procedure_line)


def modifiers(raw: Any, where: str = "") -> list[str]:
    """Up to 4 two-character procedure modifiers, as a list or one comma-separated string. ``where`` prefixes the
    field name in errors (e.g. "procedureDetails[0].").

    Raises:
        InvalidClaim: not text, more than 4, or a malformed modifier.
    """
    if raw is None:
        return []
    if isinstance(raw, str):
        raw = [part for part in raw.split(",") if part.strip()]
    if not isinstance(raw, list):
        raise InvalidClaim(f"{where}modifiers", "not a list")
    if len(raw) > MAX_MODIFIERS:
        raise InvalidClaim(f"{where}modifiers", f"more than {MAX_MODIFIERS} modifiers")
    result = []
    for m in raw:
        if not isinstance(m, str) or not modifier_is_valid(m.strip().upper()):
            raise InvalidClaim(f"{where}modifiers", "not a two-character modifier")
        result.append(m.strip().upper())
    return result


_TEXT_WIDTHS: tuple[tuple[str, int], ...] = tuple((name, COLUMN_WIDTHS[name]) for name in TEXT_COLUMNS)
_CHECKED_TEXT: tuple[tuple[str, int, Any, str], ...] = tuple(
    (name, COLUMN_WIDTHS[name], check, flag) for name, (check, flag) in CHECKED_TEXT_COLUMNS.items()
)


def _text(name: str, raw: Any, width: int) -> str | None:
    # The common case (a short, trimmed string; str.strip returns the same object then) inline; everything else
    # through values.text for its rules.
    if raw.__class__ is str and raw.strip() is raw and raw and len(raw) <= width:
        return raw
    if raw is None:
        return None
    return _field(name, v.text, raw, width)


@bounded_cache(4096)
def cached_npi(raw: str) -> bool:
    return npi_is_valid(raw)


@bounded_cache(4096, typed=True)
def cached_money(raw: Any) -> Any:
    return v.money(raw)


def _money(name: str, raw: Any) -> Any:
    if raw is None:
        return None
    try:
        return cached_money(raw)
    except TypeError:  # unhashable (a map or list)
        return _field(name, v.money, raw)
    except ValueError as exc:
        raise InvalidClaim(name, str(exc)) from None


def _checked_text(width: int, check: Any) -> Any:
    def parse(raw: Any) -> tuple[str | None, bool]:
        value = v.text(raw, width)
        return value, value is None or bool(check(value))

    return parse


def _gender(raw: Any) -> tuple[str | None, bool]:
    value = v.gender(raw)
    return value, value is not None or v.text(raw, 32) is None


def _always_ok(parse: Any) -> Any:
    def wrapped(raw: Any) -> tuple[Any, bool]:
        return parse(raw), True

    return wrapped


# Columns parsed by one function each: (column, parse(raw) -> (value, well_formed), flag when not well formed).
# Text input is cached per distinct string (claim streams repeat values: dates, states, ZIPs, statuses).
_PARSED: tuple[tuple[str, Any, str | None], ...] = (
    *((name, _checked_text(COLUMN_WIDTHS[name], check), flag) for name, (check, flag) in CHECKED_TEXT_COLUMNS.items()),
    *((name, _always_ok(v.iso_date), None) for name in DATE_COLUMNS),
    ("createdTimeStamp", _always_ok(v.timestamp), None),
    ("patientGender", _gender, "PATIENT_GENDER_UNRECOGNISED"),
    ("patientZip", v.zip_code, "PATIENT_ZIP_MALFORMED"),
    ("providerZip", v.zip_code, "PROVIDER_ZIP_MALFORMED"),
    ("patientState", v.state_code, "PATIENT_STATE_MALFORMED"),
    ("providerState", v.state_code, "PROVIDER_STATE_MALFORMED"),
)
PARSED_CACHED: tuple[tuple[str, Any, Any, str | None], ...] = tuple(
    # Dates of birth spread over a century of days: their cache holds every day of 110 years.
    (name, bounded_cache(40_960 if name in DATE_COLUMNS else 8192)(parse), parse, flag)
    for name, parse, flag in _PARSED
)


def validate_mapped(mapped: MappedItem, into: dict[str, Any] | None = None) -> ValidatedClaim:
    """Validate and normalise a mapped item. The values are written into ``into`` when given (the row builder
    passes a row with every column, so no copy is needed), else into a new dict.

    Raises:
        InvalidClaim: every rule the item breaks, in column order (columns and rules named; no value).
    """
    fields = mapped.fields
    get = fields.get
    flags: list[str] = []
    failures: list[Failure] = []
    values: dict[str, Any] = {} if into is None else into
    try:
        values["claimId"] = claim_id(get("claimId"))
    except InvalidClaim as exc:
        failures.extend(exc.failures)

    for name, width in _TEXT_WIDTHS:
        raw = get(name)
        if raw.__class__ is str and raw.strip() is raw and raw and len(raw) <= width:
            values[name] = raw  # the common case inline (see _text)
        else:
            try:
                values[name] = _text(name, raw, width)
            except InvalidClaim as exc:
                failures.extend(exc.failures)
    for name, cached_parse, parse, flag in PARSED_CACHED:
        raw = get(name)
        if raw is None:
            values[name] = None
            continue
        try:
            # Only strings are cached: equal Decimals can differ in text (10 and 10.0), which text columns keep.
            value, ok = cached_parse(raw) if raw.__class__ is str else parse(raw)
        except ValueError as exc:
            failures.append((name, str(exc)))
            continue
        values[name] = value
        if not ok:
            flags.append(flag)  # type: ignore[arg-type]
    try:
        values["totalCharge"] = _money("totalCharge", get("totalCharge"))
    except InvalidClaim as exc:
        failures.extend(exc.failures)

    try:
        npi = _text("providerNPI", get("providerNPI"), 10)
        if npi is not None and not cached_npi(npi):
            failures.append(("providerNPI", "not a valid NPI (format or check digit)"))
        values["providerNPI"] = npi
    except InvalidClaim as exc:
        failures.extend(exc.failures)

    diagnoses: list[Diagnosis] = []
    try:
        diagnoses = diagnosis_codes(get("diagnosisCodes"))
        values["diagnosisCodes"] = [d.code for d in diagnoses]
    except InvalidClaim as exc:
        failures.extend(exc.failures)
    try:
        values[PROCEDURES] = procedure_lines(get(PROCEDURES))
    except InvalidClaim as exc:
        failures.extend(exc.failures)
    if failures:
        raise InvalidClaim.of(failures)

    values["extraAttributes"] = extra_attributes(mapped.extras)
    flags.extend(quality_flags(values, diagnoses, mapped.unknown, mapped.conflicts))
    return ValidatedClaim(values, diagnoses, flags)


def quality_flags(
    values: dict[str, Any], diagnoses: list[Diagnosis], unknown: Sequence[str] = (), conflicts: Sequence[str] = ()
) -> list[str]:
    """Findings computed from the normalised values (every row builder's, the claim-shaped fast path's too).
    ``unknown`` and ``conflicts`` are the mapping's (source paths that matched nothing, columns given twice)."""
    flags: list[str] = []
    if unknown:
        flags.append(f"UNKNOWN_FIELDS:{len(unknown)}")
    if conflicts:
        flags.extend(f"CONFLICTING_FIELD:{name}" for name in sorted(set(conflicts)))
    for name in EXPECTED_COLUMNS:
        value = values.get(name)
        if value is None or value == []:
            flags.append(f"MISSING:{name}")
    codes = set()
    for diagnosis in diagnoses:
        if not diagnosis.billable and "DIAGNOSIS_NOT_BILLABLE" not in flags:
            flags.append("DIAGNOSIS_NOT_BILLABLE")
        codes.add(diagnosis.code)
    if len(codes) != len(diagnoses):
        flags.append("DUPLICATE_DIAGNOSIS")
    total = values.get("totalCharge")
    lines = values.get(PROCEDURES)
    if total is not None and lines:
        charged = Decimal(0)
        for line in lines:
            charge = line["charge"]
            if charge is None:
                break
            charged += charge
        else:
            if charged != total:
                flags.append("LINE_CHARGES_MISMATCH")
    service, dob, submitted = values.get("dateOfService"), values.get("patientDOB"), values.get("billSubmitDate")
    if service is not None:
        if dob is not None and dob > service:
            flags.append("DOB_AFTER_SERVICE")
        if submitted is not None and submitted < service:
            flags.append("BILL_BEFORE_SERVICE")
    return flags
