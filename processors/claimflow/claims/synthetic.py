"""Deterministic synthetic claims for tests and the benchmark: realistic shape, no real person.

Items use the quickstart's snake_case, nested style; NPIs have valid check digits, diagnosis codes are billable
ICD-10-CM codes, procedure codes are real CPT / HCPCS codes, N values travel as strings in DynamoDB JSON.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import orjson

from claimflow.claims.codes import npi_check_digit
from claimflow.claims.mapping import dynamodb_json

ICD10CM_CODES: tuple[str, ...] = (
    "E11.9", "I10", "J06.9", "M54.50", "E78.5", "Z00.00", "K21.9", "F41.1", "J45.909", "N39.0", "R51.9", "E66.9",
    "M17.11", "G43.909", "R10.9", "I25.10", "E03.9", "F32.A", "J02.9", "L03.115", "S93.401A", "Z23", "R05.9", "H52.4",
)
PROCEDURES: tuple[tuple[str, str, str], ...] = (
    ("99213", "Office visit, established patient, low complexity", "125.00"),
    ("99214", "Office visit, established patient, moderate complexity", "185.00"),
    ("99203", "Office visit, new patient, low complexity", "160.00"),
    ("80053", "Comprehensive metabolic panel", "42.50"),
    ("85025", "Complete blood count with differential", "28.75"),
    ("36415", "Routine venipuncture", "12.00"),
    ("93000", "Electrocardiogram with interpretation", "65.00"),
    ("71046", "Chest X-ray, 2 views", "98.40"),
    ("97110", "Therapeutic exercises, each 15 minutes", "45.00"),
    ("G0439", "Annual wellness visit, subsequent", "135.00"),
    ("J1885", "Injection, ketorolac, per 15 mg", "8.25"),
    ("3074F", "Most recent systolic blood pressure < 130 mm Hg", "0.00"),
)
MODIFIERS = ("25", "59", "LT", "RT", "GT", "95")
FIRST_NAMES = ("Ava", "Liam", "Maya", "Noah", "Zoe", "Ethan", "Iris", "Omar", "Lena", "Ravi", "Sofia", "Jonas")
LAST_NAMES = ("Okafor", "Lindqvist", "Moreau", "Tanaka", "Castillo", "Novak", "Haddad", "Brennan", "Kowalski")
CITIES = (("Springfield", "IL", "627"), ("Portland", "OR", "972"), ("Austin", "TX", "787"), ("Albany", "NY", "122"),
          ("Madison", "WI", "537"), ("Boise", "ID", "837"), ("Newark", "NJ", "071"), ("Tampa", "FL", "336"))
STREETS = ("Maple Ave", "Oak St", "Cedar Ln", "Elm Dr", "Pine Ct", "Birch Rd", "Willow Way", "Aspen Blvd")
PLANS = ("Gold PPO", "Silver HMO", "Bronze EPO", "Medicare Advantage", "Platinum PPO")
PAYERS = (("Blue Harbor Health", "BHH01"), ("Summit Mutual", "SMM22"), ("Northstar Care", "NSC07"))
STATUSES = ("Submitted", "In Review", "Approved", "Denied", "Paid", "Pending")
PAYMENT_STATUSES = ("Pending", "Paid", "Not Paid", "Partially Paid")
CREDENTIALS = (("MD", "207Q00000X"), ("DO", "207R00000X"), ("NP", "363L00000X"), ("PA", "363A00000X"))
PROVIDERS = ("Riverside Family Clinic", "Lakeview Medical Group", "Summit Primary Care", "Harbor Health Partners")


def npi_with_check_digit(first_nine: str) -> str:
    """Complete 9 digits into a valid NPI (:func:`claimflow.claims.codes.npi_check_digit`)."""
    return first_nine + npi_check_digit(first_nine)


def claim_item(rng: random.Random, number: int) -> dict[str, Any]:
    """One realistic claim item (plain values, N as Decimal), the way the generator writes it to DynamoDB."""
    service = date(2025, 1, 1) + timedelta(days=rng.randrange(300))
    born = date(1940, 1, 1) + timedelta(days=rng.randrange(365 * 65))
    city, state, zip3 = rng.choice(CITIES)
    lines = []
    for _ in range(rng.randint(1, 3)):
        code, description, price = rng.choice(PROCEDURES)
        units = rng.randint(1, 3)
        line: dict[str, Any] = {
            "code": code,
            "description": description,
            "units": Decimal(units),
            "charge": Decimal(price) * units,
        }
        if rng.random() < 0.3:
            line["modifiers"] = sorted(rng.sample(MODIFIERS, rng.randint(1, 2)))
        lines.append(line)
    credentials, taxonomy = rng.choice(CREDENTIALS)
    payer_name, payer_id = rng.choice(PAYERS)
    first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
    return {
        "claim_id": f"CLM-{number:08d}",
        "member_id": f"MBR{rng.randrange(10**9):09d}",
        "insurance_plan": rng.choice(PLANS),
        "diagnosis_codes": rng.sample(ICD10CM_CODES, rng.randint(1, 3)),
        "procedure_details": lines,
        "total_charge": sum((line["charge"] for line in lines), Decimal("0.00")),
        "date_of_service": service.isoformat(),
        "bill_submit_date": (service + timedelta(days=rng.randint(0, 20))).isoformat(),
        "claim_status": rng.choice(STATUSES),
        "payment_status": rng.choice(PAYMENT_STATUSES),
        "created_timestamp": f"{service.isoformat()}T{rng.randrange(24):02d}:{rng.randrange(60):02d}:00Z",
        "patient": {
            "first_name": first,
            "last_name": last,
            "dob": born.isoformat(),
            "gender": rng.choice(("M", "F")),
            "address": {
                "street": f"{rng.randint(10, 9999)} {rng.choice(STREETS)}",
                "city": city,
                "state": state,
                "zip": f"{zip3}{rng.randrange(100):02d}",
            },
            "phone": f"555-{rng.randrange(1000):03d}-{rng.randrange(10000):04d}",
            "email": f"{first.lower()}.{last.lower()}{rng.randrange(100)}@example.com",
        },
        "provider": {
            "name": rng.choice(PROVIDERS),
            "npi": npi_with_check_digit(f"1{rng.randrange(10**8):08d}"),
            "address": {"street": f"{rng.randint(1, 999)} Health Pkwy", "city": city, "state": state,
                        "zip": f"{zip3}{rng.randrange(100):02d}"},
            "taxonomy": taxonomy,
            "credentials": credentials,
        },
        "payer": {"name": payer_name, "payer_id": payer_id, "contact_number": f"800-555-{rng.randrange(10000):04d}"},
    }


def to_attribute_value(value: Any) -> dict[str, Any]:
    """A plain value as DynamoDB JSON (N as a string): ``claims.mapping.dynamodb_json``."""
    return dynamodb_json(value)


def kinesis_record(
    item: dict[str, Any] | None,
    event_name: str,
    event_time_us: int,
    number: int,
    old_item: dict[str, Any] | None = None,
    key: str | None = None,
) -> dict[str, Any]:
    """A "Kinesis Data Streams for DynamoDB" record for a change of ``item`` (or ``old_item`` for REMOVE)."""
    claim_key = key or (item or old_item or {})["claim_id"]
    change: dict[str, Any] = {
        "ApproximateCreationDateTime": event_time_us,
        "Keys": {"claim_id": {"S": claim_key}},
        "SizeBytes": 0,
        "ApproximateCreationDateTimePrecision": "MICROSECOND",
    }
    if item is not None:
        change["NewImage"] = {k: to_attribute_value(v) for k, v in item.items()}
    if old_item is not None:
        change["OldImage"] = {k: to_attribute_value(v) for k, v in old_item.items()}
    change["SizeBytes"] = len(orjson.dumps(change.get("NewImage") or change.get("OldImage") or {}))
    return {
        "awsRegion": "us-east-1",
        "eventID": f"{number:08x}-5e1d-4c3b-9a7f-{number * 7919 % 10**12:012d}",
        "eventName": event_name,
        "userIdentity": None,
        "recordFormat": "application/json",
        "tableName": "InsuranceClaims",
        "dynamodb": change,
        "eventSource": "aws:dynamodb",
    }


def previous_version(item: dict[str, Any]) -> dict[str, Any]:
    """The item as it was before a MODIFY: an earlier claim and payment status (the attributes updates change)."""
    status = STATUSES[STATUSES.index(item["claim_status"]) - 1]
    payment = PAYMENT_STATUSES[PAYMENT_STATUSES.index(item["payment_status"]) - 1]
    return {**item, "claim_status": status, "payment_status": payment}


def claim_records(count: int, seed: int = 20260126) -> Iterator[bytes]:
    """``count`` Kinesis DynamoDB records (JSON bytes) of INSERTs, MODIFYs (10%; the old image with an earlier
    claim and payment status) and REMOVEs (5%)."""
    rng = random.Random(seed)
    start_us = 1_761_955_200_000_000  # 2025-11-01T00:00:00Z
    for number in range(count):
        item = claim_item(rng, number)
        roll = rng.random()
        when = start_us + number * 1_000_003
        if roll < 0.05:
            record = kinesis_record(None, "REMOVE", when, number, old_item=item)
        elif roll < 0.15:
            record = kinesis_record(item, "MODIFY", when, number, old_item=previous_version(item))
        else:
            record = kinesis_record(item, "INSERT", when, number)
        yield orjson.dumps(record)
