"""What the generator emits is valid where validity is checkable, and deterministic with a seed."""

from __future__ import annotations

import re
from collections import Counter
from datetime import UTC, datetime
from decimal import Decimal

import simple_icd_10_cm as icd

from claimflow.claims.codes import npi_check_digit, npi_is_valid
from claimflow.claims.content import PROCEDURES, make_npi
from claimflow.demo.generator import ClaimGenerator, GeneratorConfig, to_attribute_values

CPT_OR_HCPCS = re.compile(r"^(?:\d{4}[0-9FT]|[A-Z]\d{4})$")
ICD_FORMAT = re.compile(r"^[A-Z][0-9A-Z][0-9A-Z](\.[0-9A-Z]{1,4})?$")


def luhn_ok(digits: str) -> bool:
    """Plain Luhn validation, written independently of the generator."""
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch)
        if i % 2 == 1:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def all_writes(config: GeneratorConfig) -> list:
    return [write for wave in ClaimGenerator(config).waves() for write in wave]


def test_demo_generator_npi_check_digit_matches_the_cms_rule() -> None:
    assert npi_check_digit("123456789") == "3"  # CMS's published example: 1234567893
    assert npi_is_valid("1234567893") and not npi_is_valid("1234567894") and not npi_is_valid("3234567893")
    import random

    rng = random.Random(5)
    for _ in range(200):
        npi = make_npi(rng)
        assert luhn_ok("80840" + npi) and npi[0] in "12" and len(npi) == 10


def test_demo_generator_claims_are_valid() -> None:
    writes = all_writes(GeneratorConfig(claims=300, seed=11))
    items = [w.item for w in writes if w.item is not None]
    codes = {p.code: p for p in PROCEDURES}
    zips = []
    for item in items:
        assert npi_is_valid(item["provider"]["npi"]) and luhn_ok("80840" + item["provider"]["npi"])
        for code in item["diagnosis_codes"]:
            assert ICD_FORMAT.match(code)
            assert icd.is_valid_item(code) and icd.is_leaf(code)  # exists and is billable
        assert item["procedure_details"]
        line_total = Decimal("0")
        for line in item["procedure_details"]:
            assert CPT_OR_HCPCS.match(line["procedure_code"]) and line["procedure_code"] in codes
            assert line["charge"].as_tuple().exponent == -2 and line["charge"] > 0
            line_total += line["charge"]
        assert item["total_charge"].as_tuple().exponent == -2 and item["total_charge"] == line_total
        patient = item["patient"]
        assert patient["email"].endswith("@example.com")
        assert re.fullmatch(r"\(\d{3}\) 555-01\d\d", patient["phone"])
        assert re.fullmatch(r"\(\d{3}\) 555-01\d\d", item["payer"]["contact_number"])
        assert re.fullmatch(r"\d{5}", patient["address"]["zip"]) and isinstance(patient["address"]["zip"], str)
        zips.append(patient["address"]["zip"])
        assert item["date_of_service"] <= item["bill_submit_date"] < "2026-10-01"
        assert patient["gender"] in ("F", "M", "U")
        # serialisable through boto3's serializer: money stays an exact N string
        assert to_attribute_values(item)["total_charge"] == {"N": str(item["total_charge"])}
    assert any(z.startswith("0") for z in zips)  # leading zeros exist and are kept


def test_demo_generator_lifecycle_and_waves() -> None:
    config = GeneratorConfig(claims=400, seed=3, chunk_size=100)
    generator = ClaimGenerator(config)
    statuses: Counter[str] = Counter()
    deletes = ttl_deletes = 0
    history: dict[str, list] = {}
    for wave in generator.waves():
        ids = [w.claim_id for w in wave]
        assert len(ids) == len(set(ids))  # BatchWriteItem cannot take one key twice
        for write in wave:
            history.setdefault(write.claim_id, []).append(write)
    assert len(history) == 400
    now = datetime.now(UTC).timestamp()
    for writes in history.values():
        assert writes[0].item is not None and writes[0].item["claim_status"] == "Submitted"  # INSERT first
        for write in writes:
            if write.item is None:
                deletes += 1
                ttl_deletes += write.ttl
                assert write is writes[-1]  # nothing after a delete
            else:
                statuses[write.item["claim_status"]] += 1
        if writes[-1].ttl:
            assert writes[-2].item is not None and writes[-2].item["expires_at"] < now  # TTL lies in the past
            assert writes[-2].item["claim_status"] in ("Paid", "Denied")
    assert {"Submitted", "In Review", "Approved", "Denied", "Paid", "Resubmitted"} <= set(statuses)
    assert deletes > ttl_deletes > 0


def test_demo_generator_is_deterministic_with_a_seed() -> None:
    def fingerprint(seed: int) -> list:
        return [(w.claim_id, w.item) for w in all_writes(GeneratorConfig(claims=60, seed=seed))]

    assert fingerprint(7) == fingerprint(7)
    assert fingerprint(7) != fingerprint(8)


def test_demo_generate_command_fills_a_table_through_boto3(aws, capsys) -> None:  # type: ignore[no-untyped-def]
    from claimflow.cli import main

    argv = ["generate", "--endpoint-url", aws.endpoint_url, "--claims", "40", "--seed", "5", "--table", "GenClaims"]
    assert main([*argv, "--create-table"]) == 0
    summary = capsys.readouterr().out
    writes = all_writes(GeneratorConfig(claims=40, seed=5))
    deletes = sum(1 for w in writes if w.item is None)
    assert f"40 claims: {len(writes) - deletes} puts, {deletes} deletes" in summary
    items = aws.dynamodb.scan(TableName="GenClaims")["Items"]
    assert len(items) == 40 - deletes
    expected_ids = {w.claim_id for w in writes} - {w.claim_id for w in writes if w.item is None}
    assert {item["claim_id"]["S"] for item in items} == expected_ids
    assert all(item["total_charge"]["N"].split(".")[1].__len__() == 2 for item in items)
    assert main(["generate", "--endpoint-url", aws.endpoint_url, "--claims", "0"]) == 2


def test_demo_generator_writes_an_attribute_outside_the_schema_and_the_reconciliation_checks_it() -> None:
    """Some demo claims carry referral_source, which no column maps: it must arrive in extraAttributes, and the
    reconciliation must notice when it does not."""
    from claimflow.claims import ClaimSettings
    from claimflow.demo.generator import NEW_ATTRIBUTE
    from claimflow.demo.reconcile import COMPARED_COLUMNS, compare_rows, expected_row

    generator = ClaimGenerator(GeneratorConfig(claims=200, seed=11))
    items = [generator.new_claim(i) for i in range(200)]
    carrying = [item for item in items if NEW_ATTRIBUTE in item]
    assert 3 <= len(carrying) <= 40 and any(isinstance(item[NEW_ATTRIBUTE], dict) for item in carrying)
    assert "extraAttributes" in COMPARED_COLUMNS
    row = expected_row(to_attribute_values(carrying[0]), "us-east-1", "InsuranceClaims", 1_780_000_000_000_000,
                       ClaimSettings())
    assert set(row["extraAttributes"]) == {NEW_ATTRIBUTE}
    assert compare_rows(row, {**row, "extraAttributes": None}) == ["extraAttributes"]
    assert compare_rows(row, row) == []
