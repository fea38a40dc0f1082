"""Claim rules, each valid and invalid, through the fast path and the pydantic model alike."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

import pytest

from claimflow.claims import InvalidClaim
from claimflow.claims.codes import lookup_diagnosis, npi_check_digit, npi_is_valid, procedure_code_is_valid
from claimflow.claims.content import PROCEDURES, billable_codes, npi_with_check_digit
from claimflow.claims.mapping import map_item
from claimflow.claims.model import ClaimModel, validate_item
from claimflow.claims.validate import validate_mapped

from ._claims import fixed_item, with_change


def fast(item: dict[str, Any]) -> dict[str, Any]:
    return validate_mapped(map_item(item)).values


def both(item: dict[str, Any]) -> dict[str, Any]:
    """Values from the fast path, after checking the model gives the same."""
    values = fast(item)
    assert validate_item(item).to_values() == values
    return values


def rejected_by_both(item: dict[str, Any]) -> InvalidClaim:
    with pytest.raises(InvalidClaim) as fast_error:
        fast(item)
    with pytest.raises(InvalidClaim):
        validate_item(item)
    return fast_error.value


def test_fixed_item_normalises_as_documented() -> None:
    values = both(fixed_item())
    assert values["diagnosisCodes"] == ["E11.9", "I10"]  # dotless accepted and normalised
    assert values["totalCharge"] == Decimal("167.50")
    assert values["procedureDetails"][1]["charge"] == Decimal("42.50")
    assert values["procedureDetails"][0]["modifiers"] == ["25"]
    assert values["procedureDetails"][1]["units"] == 2
    assert values["patientGender"] == "F"
    assert values["patientState"] == "NY"
    assert values["patientZip"] == "03601"  # leading zero kept
    assert values["providerZip"] == "01220"  # a number zero-padded
    assert values["createdTimeStamp"] == datetime(2025, 3, 10, 12, 30)  # +02:00 -> UTC
    assert values["dateOfService"] == date(2025, 3, 10)
    assert values["providerNPI"] == "1234567893"


@pytest.mark.parametrize(
    ("code", "normalised"),
    [("E11.9", "E11.9"), ("E119", "E11.9"), ("e11.9", "E11.9"), ("I10", "I10"), ("U07.1", "U071"[:3] + ".1"),
     ("S93.401A", "S93.401A"), ("Z3A.01", "Z3A.01"), ("C4A.0", "C4A.0")],
)
def test_icd10cm_valid_codes(code: str, normalised: str) -> None:
    assert both(with_change(fixed_item(), "diagnosis_codes", [code]))["diagnosisCodes"] == [normalised]


@pytest.mark.parametrize(
    ("code", "rule"),
    [("E11.", "format"), ("1E1.9", "format"), ("E11.99999", "format"), ("E11-9", "format"), ("", "format"),
     ("Q99.99", "not an ICD-10-CM code"), ("E08-E13", "format"), ("XYZ", "not an ICD-10-CM code")],
)
def test_icd10cm_invalid_codes(code: str, rule: str) -> None:
    error = rejected_by_both(with_change(fixed_item(), "diagnosis_codes", ["I10", code]))
    assert error.field == "diagnosisCodes[1]"
    assert rule in error.rule


def test_every_synthetic_code_is_real() -> None:
    common, everything = billable_codes()
    assert set(common) <= set(everything) and len(common) > 1000
    for code in everything:  # every code the synthetic claims can hold
        assert lookup_diagnosis(code).billable, code
    for procedure in PROCEDURES:
        assert procedure_code_is_valid(procedure.code), procedure.code


@pytest.mark.parametrize("npi", ["1234567893", npi_with_check_digit("198765432"), npi_with_check_digit("212345678")])
def test_npi_valid(npi: str) -> None:
    assert npi_is_valid(npi)
    assert both(with_change(fixed_item(), "provider.npi", npi))["providerNPI"] == npi


def test_npi_check_digit_is_cms_rule_and_the_one_the_generator_uses() -> None:
    assert npi_check_digit("123456789") == "3"  # CMS's published example: 1234567893
    assert npi_with_check_digit("123456789") == "1234567893"
    for bad in ("12345678", "1234567890", "12345678x", "١٢٣٤٥٦٧٨٩"):
        with pytest.raises(ValueError):
            npi_check_digit(bad)


@pytest.mark.parametrize("npi", ["1234567894", "0234567893", "123456789", "12345678930", "12345678x3", "3234567893"])
def test_npi_invalid(npi: str) -> None:
    assert not npi_is_valid(npi)
    assert rejected_by_both(with_change(fixed_item(), "provider.npi", npi)).field in ("providerNPI", "provider.npi")


@pytest.mark.parametrize("code", ["99213", "3074F", "0042T", "G0439", "j1885"])
def test_procedure_codes_valid(code: str) -> None:
    assert both(with_change(fixed_item(), "procedure_details.0.code", code))["procedureDetails"][0]["code"] == (
        code.upper()
    )


@pytest.mark.parametrize("code", ["9921", "992134", "3074X", "GG439", "G043", "", "99 13"])
def test_procedure_codes_invalid(code: str) -> None:
    error = rejected_by_both(with_change(fixed_item(), "procedure_details.0.code", code))
    assert error.field == "procedureDetails[0].code"


@pytest.mark.parametrize(
    ("value", "expected"),
    [(Decimal("10"), Decimal("10.00")), (Decimal("10.5"), Decimal("10.50")), (Decimal("10.500"), Decimal("10.50")),
     ("99.99", Decimal("99.99")), (Decimal("0"), Decimal("0.00")),
     (Decimal("9999999999.99"), Decimal("9999999999.99"))],
)
def test_money_valid(value: Any, expected: Decimal) -> None:
    assert both(with_change(fixed_item(), "total_charge", value))["totalCharge"] == expected


@pytest.mark.parametrize(
    ("value", "rule"),
    [(Decimal("10.005"), "2 decimal places"), (Decimal("-1.00"), "negative"), (Decimal("10000000000.00"), "NUMBER"),
     ("ten", "not a number"), (10.5, "not a number"), (True, "not a number"), (Decimal("NaN"), "not a number")],
)
def test_money_invalid(value: Any, rule: str) -> None:
    error = rejected_by_both(with_change(fixed_item(), "total_charge", value))
    assert error.field == "totalCharge"
    assert rule in error.rule


def test_line_charge_rules_apply_too() -> None:
    error = rejected_by_both(with_change(fixed_item(), "procedure_details.1.charge", Decimal("-5")))
    assert error.field == "procedureDetails[1].charge"


@pytest.mark.parametrize("units", [Decimal("0"), Decimal("1.5"), "x", Decimal("10000")])
def test_units_invalid(units: Any) -> None:
    assert rejected_by_both(with_change(fixed_item(), "procedure_details.0.units", units)).field.endswith("units")


@pytest.mark.parametrize(
    "value", ["2024-02-30", "2023-02-29", "2024-13-01", "10/03/2025", "2025-3-10", "1850-01-01", "2300-01-01"]
)
def test_impossible_dates_are_rejected(value: str) -> None:
    assert rejected_by_both(with_change(fixed_item(), "date_of_service", value)).field == "dateOfService"


def test_leap_day_and_timestamp_date_are_accepted() -> None:
    assert both(with_change(fixed_item(), "date_of_service", "2024-02-29"))["dateOfService"] == date(2024, 2, 29)
    assert both(with_change(fixed_item(), "patient.dob", "1980-03-11T00:00:00Z"))["patientDOB"] == date(1980, 3, 11)


@pytest.mark.parametrize("value", ["2025-03-10T25:00:00", "yesterday", "2025-02-30T10:00:00Z"])
def test_bad_timestamps_are_rejected(value: str) -> None:
    assert rejected_by_both(with_change(fixed_item(), "created_timestamp", value)).field == "createdTimeStamp"


def test_missing_claim_id_and_overlong_text_are_rejected() -> None:
    assert rejected_by_both(with_change(fixed_item(), "claim_id", ...)).field == "claimId"
    assert rejected_by_both(with_change(fixed_item(), "claim_id", "")).field == "claimId"
    assert rejected_by_both(with_change(fixed_item(), "claim_id", 7)).field == "claimId"
    assert rejected_by_both(with_change(fixed_item(), "member_id", "M" * 65)).field == "memberId"
    assert rejected_by_both(with_change(fixed_item(), "patient.first_name", {"x": 1})).field == "patientFirstName"


def test_claim_keys_are_kept_exactly_as_the_item_holds_them() -> None:
    # "P1" and "P1 " are two DynamoDB items: trimming would merge them (issue 11, class 5).
    for key in ("   ", "P1 ", " P1", "P1\t"):
        assert both(with_change(fixed_item(), "claim_id", key))["claimId"] == key


def test_model_error_never_shows_the_value() -> None:
    secret = "Zebulon-Secret-Name" + "x" * 200
    with pytest.raises(InvalidClaim) as error:
        validate_item(with_change(fixed_item(), "patient.first_name", secret))
    assert "Zebulon" not in str(error.value)
    with pytest.raises(InvalidClaim) as fast_error:
        fast(with_change(fixed_item(), "patient.first_name", secret))
    assert "Zebulon" not in str(fast_error.value)


def test_model_validate_accepts_the_raw_item_directly() -> None:
    model = ClaimModel.model_validate(fixed_item())
    assert model.provider.npi == "1234567893"
    assert model.patient.address.zip == "03601"
    assert model.procedures[0].modifiers == ["25"]
