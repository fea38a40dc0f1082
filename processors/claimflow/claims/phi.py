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
from claimflow.rows import COLUMNS, Phi

DIRECT_IDENTIFIERS: tuple[str, ...] = tuple(c.name for c in COLUMNS if c.phi is Phi.DIRECT_IDENTIFIER)

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

    Runs after enrichment (age is derived from the exact date of birth first, then capped).
    """
    if settings.phi_mode is PhiMode.PSEUDONYMIZE:
        key = settings.hmac_key
        assert key is not None  # ClaimSettings refuses pseudonymize mode without a key
        for column in DIRECT_IDENTIFIERS:
            value = row.get(column)
            if value is not None:
                row[column] = pseudonym(key, column, value)
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
    row["phiMode"] = "pseudonymized" if settings.phi_mode is PhiMode.PSEUDONYMIZE else "passthrough"
