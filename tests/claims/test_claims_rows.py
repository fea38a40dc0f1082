"""Row building: shape, CDC metadata, enrichment values, PHI modes."""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any

import orjson
import pytest

from claimflow.claims import ClaimSettings, InvalidClaim, PhiMode, build_row
from claimflow.claims.phi import DIRECT_IDENTIFIERS, pseudonym
from claimflow.claims.status import STATUSES, normalise_status
from claimflow.rows import COLUMN_NAMES, COLUMNS, Kind

from ._claims import EVENT_TIME_US, INGEST_US, event, fixed_item, item, with_change

KEY_A = b"made-up test key A: 3kQ9zLw2Xc7Vb5Nm"
KEY_B = b"made-up test key B: 8pT4yHs6Jd1Rf0Ga"
SECRET = "made-up secret key: Zq8Wm3Tx6Lp1Vr9Kc"
JSON_TYPES: dict[Kind, tuple[type, ...]] = {
    Kind.VARCHAR: (str,),
    Kind.DECIMAL: (str,),
    Kind.INTEGER: (int,),
    Kind.BOOLEAN: (bool,),
    Kind.DATE: (str,),
    Kind.TIMESTAMP: (str,),
    Kind.STRING_ARRAY: (list,),
    Kind.PROCEDURES: (list,),
}
PATTERNS: dict[Kind, re.Pattern[str]] = {
    Kind.DECIMAL: re.compile(r"^\d{1,10}\.\d\d$"),
    Kind.DATE: re.compile(r"^\d{4}-\d\d-\d\d$"),
    Kind.TIMESTAMP: re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}$"),
}


def row_of(claim: dict[str, Any], settings: ClaimSettings | None = None, **kwargs: Any) -> dict[str, Any]:
    return build_row(event(claim, key=claim.get("claim_id", "CLM-1"), **kwargs), settings or ClaimSettings(), INGEST_US)


def test_every_column_in_order_and_json_types_stable() -> None:
    rows = [row_of(item(n)) for n in range(60)] + [row_of(fixed_item())]
    for row in rows:
        assert list(row) == list(COLUMN_NAMES)
        assert orjson.loads(orjson.dumps(row)) == row  # JSON-ready as is
        for column in COLUMNS:
            value = row[column.name]
            if value is None:
                assert column.nullable, column.name
                continue
            assert isinstance(value, JSON_TYPES[column.kind]), column.name
            assert not isinstance(value, float)
            if column.kind is Kind.INTEGER:
                assert not isinstance(value, bool), column.name
            if column.kind in PATTERNS:
                assert PATTERNS[column.kind].match(value), (column.name, value)
        for line in row["procedureDetails"]:
            assert set(line) == {"code", "description", "modifiers", "units", "charge"}
            assert line["charge"] is None or PATTERNS[Kind.DECIMAL].match(line["charge"])


def test_cdc_metadata_comes_from_the_event() -> None:
    row = row_of(fixed_item())
    assert row["eventName"] == "INSERT"
    assert row["eventCreationUnixTime"] == EVENT_TIME_US
    assert row["eventTimeUtc"] == "2025-11-01T00:00:00.000000"
    assert row["eventId"] == "ev-1"
    assert row["ttlDelete"] is False
    assert (row["sourceTable"], row["awsRegion"]) == ("InsuranceClaims", "us-east-1")
    assert row["kinesisShardId"] == "shardId-000000000000"
    assert row["kinesisSequenceNumber"] == "4966" + "0" * 50
    assert row["kinesisArrivalTime"] == "2025-11-01T00:00:01.000000"
    assert row["ingestTime"] == "2025-11-01T00:01:00.000000"


def test_enrichment_of_the_fixed_item() -> None:
    row = row_of(fixed_item())
    assert row["totalCharge"] == "167.50"
    assert row["claimStatusCode"] == "IN_REVIEW" and row["x12StatusCategory"] == "P1"
    assert row["primaryDiagnosisCode"] == "E11.9"
    assert row["primaryDiagnosisDescription"] == "Type 2 diabetes mellitus without complications"
    assert row["primaryDiagnosisChapter"].startswith("Endocrine, nutritional and metabolic diseases")
    assert (row["diagnosisCount"], row["procedureCount"], row["totalUnits"]) == (2, 2, 3)
    assert row["patientAgeAtService"] == 44  # born 1980-03-11, served 2025-03-10: the day before the birthday
    assert row["claimAgeDays"] == 236  # 2025-03-10 -> 2025-11-01
    assert row["chargeBand"] == "100-500"
    assert row["dataQualityFlags"] == []
    assert row["phiMode"] == "passthrough"
    assert row["createdTimeStamp"] == "2025-03-10T12:30:00.000000"


@pytest.mark.parametrize(
    ("raw", "canonical", "category"),
    [("In Review", "IN_REVIEW", "P1"), ("submitted", "SUBMITTED", "A1"), ("APPROVED", "APPROVED", "F0"),
     ("Rejected", "REJECTED", "A3"), ("paid", "PAID", "F1"), ("Denied", "DENIED", "F2"), ("on hold", "PENDED", "P2"),
     ("in-process", "IN_REVIEW", "P1"), ("Partially Paid", "PARTIALLY_PAID", "F1")],
)
def test_status_normalisation(raw: str, canonical: str, category: str) -> None:
    assert normalise_status(raw) == (canonical, category)
    row = row_of(with_change(fixed_item(), "claim_status", raw))
    assert (row["claimStatusCode"], row["x12StatusCategory"], row["claimStatus"]) == (canonical, category, raw)


def test_unknown_status_is_a_flag_not_an_error() -> None:
    row = row_of(with_change(fixed_item(), "claim_status", "Lost in the mail"))
    assert row["claimStatusCode"] == "UNKNOWN" and row["x12StatusCategory"] is None
    assert "CLAIM_STATUS_UNRECOGNISED" in row["dataQualityFlags"]


def test_every_canonical_status_has_an_x12_category() -> None:
    for canonical, (category, phrases) in STATUSES.items():
        assert re.match(r"^[APFRE]\d$", category), canonical
        for phrase in phrases:
            assert normalise_status(phrase).canonical == canonical


@pytest.mark.parametrize(
    ("path", "value", "flag"),
    [("total_charge", Decimal("999.00"), "LINE_CHARGES_MISMATCH"),
     ("patient.gender", "robot", "PATIENT_GENDER_UNRECOGNISED"),
     ("patient.address.zip", "ABCDE", "PATIENT_ZIP_MALFORMED"),
     ("patient.email", "not-an-email", "PATIENT_EMAIL_MALFORMED"),
     ("patient.dob", "2026-01-01", "DOB_AFTER_SERVICE"),
     ("patient.dob", "1900-01-01", "PATIENT_AGE_IMPLAUSIBLE"),
     ("bill_submit_date", "2025-03-01", "BILL_BEFORE_SERVICE"),
     ("date_of_service", "2026-01-05", "SERVICE_AFTER_EVENT"),
     ("diagnosis_codes", ["E11"], "DIAGNOSIS_NOT_BILLABLE"),
     ("diagnosis_codes", ["I10", "I10"], "DUPLICATE_DIAGNOSIS"),
     ("member_id", ..., "MISSING:memberId"),
     ("provider.taxonomy", "MD", "PROVIDER_TAXONOMY_MALFORMED")],
)
def test_data_quality_flags(path: str, value: Any, flag: str) -> None:
    row = row_of(with_change(fixed_item(), path, value))
    assert flag in row["dataQualityFlags"]
    assert row["dataQualityFlags"] == sorted(set(row["dataQualityFlags"]))
    with pytest.raises(InvalidClaim, match="strict mode"):
        row_of(with_change(fixed_item(), path, value), ClaimSettings(strict=True))


@pytest.mark.parametrize(
    ("total", "band"),
    [("0.00", "0-100"), ("99.99", "0-100"), ("100.00", "100-500"), ("4999.99", "1000-5000"), ("50000.00", "50000+")],
)
def test_charge_band(total: str, band: str) -> None:
    claim = with_change(fixed_item(), "total_charge", Decimal(total))
    assert row_of(claim)["chargeBand"] == band


def test_pseudonymize_is_stable_per_key_and_differs_across_keys() -> None:
    mode = PhiMode.PSEUDONYMIZE
    a1 = row_of(fixed_item(), ClaimSettings(phi_mode=mode, hmac_key=KEY_A))
    a2 = row_of(fixed_item(), ClaimSettings(phi_mode=mode, hmac_key=KEY_A), event_id="other", time_us=EVENT_TIME_US + 5)
    b = row_of(fixed_item(), ClaimSettings(phi_mode=mode, hmac_key=KEY_B))
    plain = row_of(fixed_item())
    assert a1["phiMode"] == "pseudonymized"
    assert set(DIRECT_IDENTIFIERS) == {"memberId", "patientStreet", "patientLastName", "patientPhone",
                                       "patientFirstName", "patientEmail"}
    for column in DIRECT_IDENTIFIERS:
        assert re.match(r"^[0-9a-f]{32}$", a1[column]), column
        assert a1[column] == a2[column]
        assert a1[column] != b[column]
        assert a1[column] != plain[column]
    assert a1["memberId"] == pseudonym(KEY_A, "memberId", "mbr-77")  # normalised (case) before the MAC
    assert a1["patientPhone"] == pseudonym(KEY_A, "patientPhone", "(555) 010 2000")  # digits only


def test_no_raw_identifier_left_in_a_pseudonymized_row() -> None:
    claim = fixed_item()
    row = row_of(claim, ClaimSettings(phi_mode=PhiMode.PSEUDONYMIZE, hmac_key=KEY_A))
    text = orjson.dumps(row).decode()
    for secret in ("MBR-77", "Ava", "Okafor", "12 Oak St", "555-010-2000", "ava@example.com"):
        assert secret not in text
    assert "Ava" in orjson.dumps(row_of(claim)).decode()  # the same check finds them in passthrough


def test_pseudonymize_refuses_missing_or_short_keys() -> None:
    with pytest.raises(ValueError, match="32 bytes"):
        ClaimSettings(phi_mode=PhiMode.PSEUDONYMIZE)
    with pytest.raises(ValueError, match="32 bytes"):
        ClaimSettings(phi_mode=PhiMode.PSEUDONYMIZE, hmac_key=b"k" * 31)
    with pytest.raises(ValueError):
        ClaimSettings.from_strings(phi_mode="pseudonymize", hmac_key="short")
    settings = ClaimSettings.from_strings(phi_mode="Pseudonymize", hmac_key=SECRET, generalize_zip3="true")
    assert settings.generalize_zip3 and SECRET not in repr(settings)


def test_zip3_and_birth_year_generalisation() -> None:
    settings = ClaimSettings(generalize_zip3=True, generalize_birth_year=True)
    row = row_of(fixed_item(), settings)
    assert row["patientZip"] == "000"  # 036 is a restricted ZIP3 (20,000 people or fewer)
    assert row["patientCity"] is None
    assert row["patientDOB"] == "1980-01-01"
    assert row["patientAgeAtService"] == 44  # from the exact date, before generalising
    assert row["providerZip"] == "01220"  # provider addresses are not patient PHI
    other = row_of(with_change(fixed_item(), "patient.address.zip", "12208-1234"), settings)
    assert other["patientZip"] == "122"
    old = row_of(with_change(fixed_item(), "patient.dob", "1930-01-01"), settings)
    assert old["patientAgeAtService"] == 90 and old["patientDOB"] is None


def test_remove_builds_from_the_old_image() -> None:
    row = build_row(event(None, fixed_item(), name="REMOVE"), ClaimSettings(), INGEST_US)
    assert row["eventName"] == "REMOVE" and row["claimId"] == "CLM-1" and row["totalCharge"] == "167.50"


def test_remove_with_bad_old_image_is_a_key_only_row() -> None:
    bad = with_change(fixed_item(), "provider.npi", "1234567894")
    row = build_row(event(None, bad, name="REMOVE"), ClaimSettings(), INGEST_US)
    assert row["claimId"] == "CLM-1" and row["eventName"] == "REMOVE"
    assert row["dataQualityFlags"] == ["OLD_IMAGE_INVALID"]
    assert row["providerNPI"] is None and row["memberId"] is None
    assert list(row) == list(COLUMN_NAMES)
    no_key = build_row(event(None, bad, name="REMOVE", key=None), ClaimSettings(), INGEST_US)
    assert no_key["claimId"] == "CLM-1"  # the old image still names the claim
    with pytest.raises(InvalidClaim, match="keys: no claim id"):
        build_row(event(None, {"notes": "x"}, name="REMOVE", key=None), ClaimSettings(), INGEST_US)


def test_key_mismatch_and_missing_image_are_rejected() -> None:
    with pytest.raises(InvalidClaim, match="claimId: differs from the event key"):
        build_row(event(fixed_item(), key="CLM-2"), ClaimSettings(), INGEST_US)
    with pytest.raises(InvalidClaim, match="newImage: missing"):
        build_row(event(None, fixed_item(), name="MODIFY"), ClaimSettings(), INGEST_US)
    keyed = build_row(event(with_change(fixed_item(), "claim_id", ...)), ClaimSettings(), INGEST_US)
    assert keyed["claimId"] == "CLM-1"  # the key fills a missing claim id


def test_timestamp_text_matches_datetime() -> None:
    from datetime import datetime, timedelta

    from claimflow.claims.build import timestamp_from_us

    for epoch_us in (0, 1, EVENT_TIME_US, 1_720_740_233_012_995, 86_400_000_000 - 1, -1, 253_402_300_799_999_999):
        expected = (datetime(1970, 1, 1) + timedelta(microseconds=epoch_us)).isoformat(timespec="microseconds")
        assert timestamp_from_us(epoch_us) == expected
