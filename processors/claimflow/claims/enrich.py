"""Derived columns: status codes, primary diagnosis, counts, ages, charge band, data-quality flags."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

from claimflow.caching import bounded_cache
from claimflow.claims.status import UNKNOWN, normalise_status
from claimflow.claims.validate import PROCEDURES, ValidatedClaim

AGE_IMPLAUSIBLE = 120

# (upper bound exclusive, band); the last band is open-ended.
CHARGE_BANDS: tuple[tuple[Decimal, str], ...] = (
    (Decimal(100), "0-100"),
    (Decimal(500), "100-500"),
    (Decimal(1000), "500-1000"),
    (Decimal(5000), "1000-5000"),
    (Decimal(10000), "5000-10000"),
    (Decimal(50000), "10000-50000"),
)
TOP_BAND = "50000+"


@bounded_cache(4096)
def charge_band(total: Decimal | None) -> str | None:
    if total is None:
        return None
    for bound, band in CHARGE_BANDS:
        if total < bound:
            return band
    return TOP_BAND


def age_in_years(born: date, on: date) -> int:
    return on.year - born.year - ((on.month, on.day) < (born.month, born.day))


_EPOCH_ORDINAL = date(1970, 1, 1).toordinal()
_US_PER_DAY = 86_400_000_000


def event_date(event_time_us: int) -> date:
    """The UTC calendar date of an epoch-microsecond time (integer arithmetic: exact, no time zone)."""
    return date.fromordinal(_EPOCH_ORDINAL + event_time_us // _US_PER_DAY)


def enrich(claim: ValidatedClaim, event_time_us: int, in_place: bool = False) -> dict[str, Any]:
    """The claim's values plus every derived column (flags sorted, de-duplicated). Deterministic: the event time,
    not the wall clock, is "now". ``in_place`` adds the columns to ``claim.values`` instead of a copy."""
    row = claim.values if in_place else dict(claim.values)
    flags = list(claim.flags)
    status = normalise_status(row["claimStatus"])
    if status is UNKNOWN and row["claimStatus"] is not None:
        flags.append("CLAIM_STATUS_UNRECOGNISED")
    row["claimStatusCode"] = status.canonical
    row["x12StatusCategory"] = status.x12_category
    if claim.diagnoses:
        primary = claim.diagnoses[0]
        row["primaryDiagnosisCode"] = primary.code
        row["primaryDiagnosisDescription"] = primary.description
        row["primaryDiagnosisChapter"] = primary.chapter
    else:
        row["primaryDiagnosisCode"] = row["primaryDiagnosisDescription"] = row["primaryDiagnosisChapter"] = None
    lines = row[PROCEDURES]
    row["diagnosisCount"] = len(claim.diagnoses)
    row["procedureCount"] = len(lines)
    units = 0
    for line in lines:
        units += line["units"]
    row["totalUnits"] = units
    service, dob = row["dateOfService"], row["patientDOB"]
    age = age_in_years(dob, service) if service is not None and dob is not None and dob <= service else None
    if age is not None and age > AGE_IMPLAUSIBLE:
        flags.append("PATIENT_AGE_IMPLAUSIBLE")
    row["patientAgeAtService"] = age
    if service is not None:
        row["claimAgeDays"] = (event_date(event_time_us) - service).days
        if row["claimAgeDays"] < 0:
            flags.append("SERVICE_AFTER_EVENT")
    else:
        row["claimAgeDays"] = None
    row["chargeBand"] = charge_band(row["totalCharge"])
    row["dataQualityFlags"] = sorted(set(flags)) if flags else []
    return row
