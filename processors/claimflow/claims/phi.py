"""PHI handling of a claim row: keyed pseudonyms for direct identifiers, Safe Harbor style generalisation.

Pseudonyms are HMAC-SHA256 over the column's identifier class and the normalised value, keyed by a secret kept
outside the data: stable for one key (so a member's claims still join), different across keys, not reversible or
linkable without the key. A plain hash would not do: anyone can hash a guessed member id and compare. The token
is the first 16 bytes of the MAC in hex (32 characters: fits every identifier column, 128 bits).
"""

from __future__ import annotations

import hmac
from datetime import date
from hashlib import sha256
from typing import Any

from claimflow.claims.settings import ClaimSettings, PhiMode
from claimflow.claims.status import normalise_status
from claimflow.rows import COLUMNS, Kind, Phi

DIRECT_IDENTIFIERS: tuple[str, ...] = tuple(c.name for c in COLUMNS if c.phi is Phi.DIRECT_IDENTIFIER)
EXTRA_ATTRIBUTES = "extraAttributes"  # attributes outside the claim schema (rows.Phi.UNCLASSIFIED)

# The identifier class a column's value belongs to: one person's name hashes alike in any name column.
_CLASS: dict[str, str] = {
    "memberId": "member",
    "patientFirstName": "name",
    "patientLastName": "name",
    "patientPhone": "phone",
    "patientEmail": "email",
    "patientStreet": "street",
}

# ZIP3 areas with 20,000 or fewer people (US Census 2000, as listed by HHS guidance on Safe Harbor): become 000.
RESTRICTED_ZIP3: frozenset[str] = frozenset(
    {"036", "059", "063", "102", "203", "556", "692", "790", "821", "823", "830", "831", "878", "879", "884", "890",
     "893"}
)
AGE_CAP = 90


def _normalise(identifier_class: str, value: str) -> str:
    if identifier_class == "phone":
        return "".join(ch for ch in value if ch.isdigit())
    if identifier_class == "member":
        return value.strip().upper()
    return " ".join(value.split()).casefold()


def pseudonym(key: bytes, column: str, value: str) -> str:
    """The keyed pseudonym of ``value`` in ``column``: 32 hex characters."""
    identifier_class = _CLASS.get(column, column)
    message = f"{identifier_class}\x1f{_normalise(identifier_class, value)}".encode()
    return hmac.new(key, message, sha256).hexdigest()[:32]


def phi_mode_label(mode: PhiMode) -> str:
    """The row's phiMode for Pass Through and Pseudonymize (Safe Harbor rows carry SAFE_HARBOR_MODE_NAME)."""
    return "pseudonymized" if mode is PhiMode.PSEUDONYMIZE else "passthrough"


def extra_attribute_tokens(key: bytes, extras: dict[str, str]) -> dict[str, str]:
    """Pseudonymize's extraAttributes: unclassified, so each value becomes a keyed token of its path and value (the
    attribute and its path stay, its value does not)."""
    return {path: pseudonym(key, EXTRA_ATTRIBUTES, f"{path}={text}") for path, text in extras.items()}


def generalise_zip3(zip_code: str | None) -> str | None:
    if zip_code is None or len(zip_code) < 3 or not zip_code[:3].isdigit():
        return None
    prefix = zip_code[:3]
    return "000" if prefix in RESTRICTED_ZIP3 else prefix


def _year_may_mean_age_over_89(birth_year: int) -> bool:
    """True when someone born in ``birth_year`` may be older than 89 today (the year alone cannot tell 89 from 90)."""
    return date.today().year - birth_year >= AGE_CAP


def apply_phi(row: dict[str, Any], settings: ClaimSettings) -> None:
    """Apply the settings' PHI handling to a row of normalised values, in place.

    Runs after enrichment (age is derived from the exact date of birth first, then capped). In safe-harbor mode it
    does nothing: :func:`safe_harbor` runs on the finished row, CDC columns included.
    """
    if settings.phi_mode is PhiMode.SAFE_HARBOR:
        return
    if settings.phi_mode is PhiMode.PSEUDONYMIZE:
        key = settings.hmac_key
        assert key is not None  # ClaimSettings refuses pseudonymize mode without a key
        for column in DIRECT_IDENTIFIERS:
            value = row.get(column)
            if value is not None:
                row[column] = pseudonym(key, column, value)
        extras = row.get(EXTRA_ATTRIBUTES)
        if extras:
            row[EXTRA_ATTRIBUTES] = extra_attribute_tokens(key, extras)
    if settings.generalize_zip3:
        row["patientZip"] = generalise_zip3(row.get("patientZip"))
        row["patientCity"] = None  # a geographic unit smaller than a state
    if settings.generalize_birth_year:
        dob: date | None = row.get("patientDOB")
        age: int | None = row.get("patientAgeAtService")
        if age is not None and age >= AGE_CAP:
            row["patientAgeAtService"] = AGE_CAP
            row["patientDOB"] = None  # even the year would reveal an age over 89
        elif dob is not None:
            # The year alone must not reveal an age over 89 today either (no date of service to cap the age by,
            # or a claim old enough that the patient has passed 89 since).
            row["patientDOB"] = None if _year_may_mean_age_over_89(dob.year) else date(dob.year, 1, 1)
    row["phiMode"] = phi_mode_label(settings.phi_mode)


# --- HIPAA Safe Harbor (45 CFR 164.514(b)(2)) ----------------------------------------------------------------
# What a claim row can carry of the 18 identifiers, and what safe-harbor mode does with each (docs/security.md).
SAFE_HARBOR_MODE_NAME = "safe_harbor"
# Removed: names, street, phone, e-mail (A, B, D, E, F) and the health-plan beneficiary number (I).
SAFE_HARBOR_REMOVED: tuple[str, ...] = (*DIRECT_IDENTIFIERS, "patientCity", EXTRA_ATTRIBUTES)
# Replaced by keyed tokens (the merge needs a stable key and the dedup a stable event id): the claim number (an
# account-like number, J/R), the partition key DynamoDB derives from it, the DynamoDB event id.
SAFE_HARBOR_TOKENS: tuple[str, ...] = ("claimId", "kinesisPartitionKey", "eventId")
# Dates (C): every date and time of the claim keeps its year only.
SAFE_HARBOR_DATES: tuple[str, ...] = tuple(c.name for c in COLUMNS if c.kind is Kind.DATE and c.name != "patientDOB")
SAFE_HARBOR_TIMESTAMPS: tuple[str, ...] = tuple(c.name for c in COLUMNS if c.kind is Kind.TIMESTAMP)
# Payment statuses kept as written only when they are one of these words (anything else may be free text).
PAYMENT_STATUSES = frozenset({"pending", "paid", "denied", "approved", "rejected", "partially paid", "unpaid"})


def _year_start_us(year: int) -> int:
    return (date(year, 1, 1).toordinal() - date(1970, 1, 1).toordinal()) * 86_400_000_000


def safe_harbor(row: dict[str, Any], key: bytes) -> None:
    """De-identify a finished, JSON-ready claim row in place by HIPAA's Safe Harbor method.

    All date elements but the year (dates -> "YYYY-01-01", timestamps -> "YYYY-01-01T00:00:00.000000", the event
    time in microseconds -> the start of its year, claimAgeDays removed); ages over 89 as 90 (the 90-or-older
    group) and their birth year removed; ZIP3 with the 000 rule, city removed; direct identifiers removed; the claim
    number, partition key and event id replaced by keyed tokens; free text (procedure descriptions, a status not in
    the known vocabulary) removed.
    """
    for column in SAFE_HARBOR_REMOVED:
        row[column] = None
    for column in SAFE_HARBOR_TOKENS:
        value = row.get(column)
        if value is not None:
            row[column] = pseudonym(key, column, value)
    for column in SAFE_HARBOR_DATES:
        value = row.get(column)
        if value is not None:
            row[column] = f"{value[:4]}-01-01"
    for column in SAFE_HARBOR_TIMESTAMPS:
        value = row.get(column)
        if value is not None:
            row[column] = f"{value[:4]}-01-01T00:00:00.000000"
    event_time = row.get("eventTimeUtc")
    if event_time is not None and row.get("eventCreationUnixTime") is not None:
        row["eventCreationUnixTime"] = _year_start_us(int(event_time[:4]))
    row["claimAgeDays"] = None  # an interval between two exact dates
    age = row.get("patientAgeAtService")
    dob = row.get("patientDOB")
    if age is not None and age >= AGE_CAP:
        row["patientAgeAtService"] = AGE_CAP
        row["patientDOB"] = None
    elif dob is not None:
        year = int(dob[:4])
        row["patientDOB"] = None if _year_may_mean_age_over_89(year) else f"{year:04d}-01-01"
    row["patientZip"] = generalise_zip3(row.get("patientZip"))
    procedures = row.get("procedureDetails")
    if procedures:
        row["procedureDetails"] = [{**line, "description": None} for line in procedures]
    status = row.get("claimStatus")
    if status is not None:
        row["claimStatus"] = normalise_status(status).canonical
    payment = row.get("paymentStatus")
    if payment is not None and " ".join(payment.split()).casefold() not in PAYMENT_STATUSES:
        row["paymentStatus"] = None
    row["phiMode"] = SAFE_HARBOR_MODE_NAME


def finish_row(row: dict[str, Any], settings: ClaimSettings) -> None:
    """The last step of every row builder: Safe Harbor de-identification when the settings ask for it."""
    if settings.phi_mode is PhiMode.SAFE_HARBOR:
        assert settings.hmac_key is not None  # ClaimSettings refuses safe-harbor mode without a key
        safe_harbor(row, settings.hmac_key)
