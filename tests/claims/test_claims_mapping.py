"""One mapping for every spelling: snake_case, camelCase, PascalCase, nested, flat."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from claimflow.claims.mapping import GROUPS, IGNORED, alias_table, map_item, normalise_key
from claimflow.claims.validate import validate_mapped
from claimflow.rows import COLUMN_NAMES

from ._claims import fixed_item


def camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part[:1].upper() + part[1:] for part in rest)


def camel_item(value: Any) -> Any:
    if isinstance(value, dict):
        return {camel(k): camel_item(v) for k, v in value.items()}
    if isinstance(value, list):
        return [camel_item(v) for v in value]
    return value


def flat_item() -> dict[str, Any]:
    nested = fixed_item()
    patient, provider, payer = nested.pop("patient"), nested.pop("provider"), nested.pop("payer")
    flat = dict(nested)
    for key, value in patient.pop("address").items():
        flat[f"patient_{key}"] = value
    flat.update({f"patient_{k}": v for k, v in patient.items()})
    for key, value in provider.pop("address").items():
        flat[f"provider{key.capitalize()}"] = value  # camelCase flat, e.g. providerZip
    flat.update({f"provider_{k}": v for k, v in provider.items()})
    flat.update({"payerName": payer["name"], "payerId": payer["payer_id"]})
    flat["payerContactNumber"] = payer["contact_number"]
    return flat


def test_normalise_key_joins_spellings() -> None:
    assert {normalise_key(k) for k in ("claim_id", "claimId", "ClaimID", "claim-id", "CLAIM_ID")} == {"claimid"}


def test_snake_camel_and_flat_items_give_the_same_values() -> None:
    reference = validate_mapped(map_item(fixed_item())).values
    assert validate_mapped(map_item(camel_item(fixed_item()))).values == reference
    flat = map_item(flat_item())
    assert flat.unknown == []
    assert validate_mapped(flat).values == reference


def test_quickstart_style_camel_aliases() -> None:
    mapped = map_item(
        {"claimId": "C1", "memberId": "M1", "patientDOB": "1980-01-01", "providerNPI": "1234567893",
         "diagnosisCodes": ["I10"], "procedures": [{"cptCode": "99213", "amount": "10.00", "quantity": 2}],
         "patientFirstName": "A", "patientZip": "12345", "payerContactNumber": "800", "dateOfBirth": "x"}
    )
    assert mapped.fields["patientDOB"] == "1980-01-01"
    assert mapped.fields["providerNPI"] == "1234567893"
    assert mapped.fields["procedureDetails"] == [{"code": "99213", "charge": "10.00", "units": 2}]
    assert mapped.unknown == ["dateOfBirth"]  # a patient field only inside patient or with the patient prefix


def test_patient_name_object_and_date_of_birth_variants() -> None:
    patient = {"name": {"first": "A", "last": "B"}, "date_of_birth": "1990-01-02"}
    mapped = map_item({"claim_id": "C1", "patient": patient})
    assert (mapped.fields["patientFirstName"], mapped.fields["patientLastName"]) == ("A", "B")
    assert mapped.fields["patientDOB"] == "1990-01-02"


def test_unknown_fields_are_ignored_and_counted() -> None:
    item = fixed_item() | {"marketing_segment": "x", "notes": {"a": 1}}
    item["patient"] = item["patient"] | {"shoe_size": Decimal(42)}
    mapped = map_item(item)
    assert sorted(mapped.unknown) == ["marketing_segment", "notes", "patient.shoe_size"]
    claim = validate_mapped(mapped)
    assert "UNKNOWN_FIELDS:3" in claim.flags
    assert "marketing_segment" not in claim.values


def test_conflicting_spellings_keep_the_first_and_flag() -> None:
    mapped = map_item({"claim_id": "C1", "member_id": "M1", "memberId": "M2"})
    assert mapped.fields["memberId"] == "M1"
    assert "CONFLICTING_FIELD:memberId" in validate_mapped(mapped).flags


def test_every_target_is_a_row_column() -> None:
    for group, key, target in alias_table():
        if target.startswith("@"):
            assert target[1:] in GROUPS, (group, key)
        elif target == IGNORED:
            assert group == "claim", (group, key)  # only top-level housekeeping (the TTL attribute) is ignored
        elif group != "procedure line":
            assert target in COLUMN_NAMES, (group, key, target)


