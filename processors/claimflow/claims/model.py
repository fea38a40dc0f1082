"""The claim domain model in pydantic v2: the claim's typed schema and the reference statement of its rules.

No processor imports this module, and no NAR ships it or bundles pydantic (extra ``model``; tests/ship runs every
processor with pydantic refused). The row builder runs ``claimflow.claims.validate`` per record; this model states
the same rules as types and constraints, and has three users: readers (its JSON Schema is committed as
docs/claim-model.schema.json; ``python -m claimflow.claims.model`` regenerates it, ``--check`` fails when stale),
the tests, which hold the row builder to it (same acceptance, same normalised values), and the naive baseline of
the benchmark. Parsing of single values is shared (``claimflow.claims.values``); structure, nesting, types and
constraints are pydantic's.

``ClaimModel.model_validate`` takes a decoded DynamoDB item in any spelling the mapping accepts (it maps it
first). Pydantic's ``ValidationError`` text contains input values (PHI): use :func:`validate_item`, which raises
``InvalidClaim`` naming only the field and rule.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from datetime import date, datetime
from decimal import Decimal
from functools import partial
from pathlib import Path
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, ValidationError, model_validator

from claimflow.claims import values as v
from claimflow.claims.codes import CodeError, lookup_diagnosis, npi_is_valid
from claimflow.claims.errors import InvalidClaim
from claimflow.claims.mapping import PROCEDURES, MappedItem, map_item
from claimflow.claims.validate import COLUMN_WIDTHS, MAX_DIAGNOSES, MAX_MODIFIERS, MAX_PROCEDURES


def _text(width: int) -> Any:
    return BeforeValidator(partial(v.text, max_length=width))


def _icd(code: str) -> str:
    try:
        return lookup_diagnosis(code).code
    except CodeError as exc:
        raise ValueError(str(exc)) from None


def _npi(npi: str | None) -> str | None:
    if npi is not None and not npi_is_valid(npi):
        raise ValueError("not a valid NPI (format or check digit)")
    return npi


def _comma_list(value: Any) -> Any:
    return [part for part in value.split(",") if part.strip()] if isinstance(value, str) else value


def _claim_key(value: Any) -> Any:
    key = v.identifier(value, COLUMN_WIDTHS["claimId"])  # exact: whitespace is part of a DynamoDB key
    if key is None:
        raise ValueError("missing")
    return key


def _zip(value: Any) -> str | None:
    return v.zip_code(value)[0]


def _state(value: Any) -> str | None:
    return v.state_code(value)[0]


Money = Annotated[Decimal | None, BeforeValidator(v.money), Field(default=None, ge=0, max_digits=12, decimal_places=2)]
IsoDate = Annotated[date | None, BeforeValidator(v.iso_date), Field(default=None)]
Zip = Annotated[str | None, BeforeValidator(_zip)]  # width checked by values.zip_code
State = Annotated[str | None, BeforeValidator(_state)]  # width checked by values.state_code
IcdCode = Annotated[str, Field(max_length=8, pattern=r"^[A-Za-z0-9. ]+$"), AfterValidator(_icd)]
ProcedureCode = Annotated[
    str, BeforeValidator(partial(v.text, max_length=5)), AfterValidator(str.upper),
    Field(pattern=r"^(?:\d{4}[0-9FT]|[A-Z]\d{4})$"),
]
Modifier = Annotated[str, AfterValidator(lambda m: m.strip().upper()), Field(pattern=r"^\s*[0-9A-Za-z]{2}\s*$")]


def _t(column: str) -> Any:
    return Annotated[str | None, _text(COLUMN_WIDTHS[column]), Field(default=None)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Address(_Strict):
    street: str | None = None
    city: str | None = None
    state: State = None
    zip: Zip = None


class PatientAddress(Address):
    street: _t("patientStreet") = None  # type: ignore[valid-type]
    city: _t("patientCity") = None  # type: ignore[valid-type]


class ProviderAddress(Address):
    street: _t("providerStreet") = None  # type: ignore[valid-type]
    city: _t("providerCity") = None  # type: ignore[valid-type]


class Patient(_Strict):
    first_name: _t("patientFirstName") = None  # type: ignore[valid-type]
    last_name: _t("patientLastName") = None  # type: ignore[valid-type]
    dob: IsoDate = None
    gender: Annotated[str | None, BeforeValidator(v.gender)] = None
    address: PatientAddress = PatientAddress()
    phone: _t("patientPhone") = None  # type: ignore[valid-type]
    email: _t("patientEmail") = None  # type: ignore[valid-type]


class Provider(_Strict):
    name: _t("providerName") = None  # type: ignore[valid-type]
    npi: Annotated[str | None, _text(10), AfterValidator(_npi)] = None
    address: ProviderAddress = ProviderAddress()
    taxonomy: _t("providerTaxonomy") = None  # type: ignore[valid-type]
    credentials: _t("providerCredentials") = None  # type: ignore[valid-type]


class Payer(_Strict):
    name: _t("payerName") = None  # type: ignore[valid-type]
    payer_id: _t("payerId") = None  # type: ignore[valid-type]
    contact_number: _t("payerContactNumber") = None  # type: ignore[valid-type]


class ProcedureLine(_Strict):
    code: ProcedureCode
    description: Annotated[str | None, _text(512)] = None
    modifiers: Annotated[list[Modifier], BeforeValidator(lambda m: [] if m is None else _comma_list(m))] = Field(
        default_factory=list, max_length=MAX_MODIFIERS
    )
    units: Annotated[int, BeforeValidator(v.units), Field(ge=1, le=v.MAX_UNITS)] = 1
    charge: Money = None


class ClaimModel(_Strict):
    """One insurance claim as the source table holds it (any accepted spelling; mapped before validation)."""

    claim_id: Annotated[str, BeforeValidator(_claim_key)]
    member_id: _t("memberId") = None  # type: ignore[valid-type]
    insurance_plan: _t("insurancePlan") = None  # type: ignore[valid-type]
    diagnosis_codes: Annotated[
        list[IcdCode], BeforeValidator(lambda c: [] if c is None else _comma_list(c)), Field(max_length=MAX_DIAGNOSES)
    ] = Field(default_factory=list)
    procedures: Annotated[list[ProcedureLine], BeforeValidator(lambda p: [] if p is None else p)] = Field(
        default_factory=list, max_length=MAX_PROCEDURES
    )
    total_charge: Money = None
    date_of_service: IsoDate = None
    bill_submit_date: IsoDate = None
    claim_status: _t("claimStatus") = None  # type: ignore[valid-type]
    payment_status: _t("paymentStatus") = None  # type: ignore[valid-type]
    created_timestamp: Annotated[datetime | None, BeforeValidator(v.timestamp)] = None
    patient: Patient = Patient()
    provider: Provider = Provider()
    payer: Payer = Payer()

    @model_validator(mode="before")
    @classmethod
    def _from_item(cls, data: Any) -> Any:
        """A raw item (any spelling, nested or flat) is mapped onto the model's structure first."""
        if isinstance(data, MappedItem):
            return structure(data.fields)
        if isinstance(data, dict):
            return structure(map_item(data).fields)
        return data

    def to_values(self) -> dict[str, Any]:
        """The normalised claim columns, as ``claimflow.claims.validate.validate_mapped`` gives them."""
        patient, provider, payer = self.patient, self.provider, self.payer
        return {
            "claimId": self.claim_id,
            "memberId": self.member_id,
            "insurancePlan": self.insurance_plan,
            "patientCity": patient.address.city,
            "patientStreet": patient.address.street,
            "patientLastName": patient.last_name,
            "patientFirstName": patient.first_name,
            "claimStatus": self.claim_status,
            "providerName": provider.name,
            "providerCity": provider.address.city,
            "providerStreet": provider.address.street,
            "payerName": payer.name,
            "payerId": payer.payer_id,
            "paymentStatus": self.payment_status,
            "providerCredentials": provider.credentials,
            "patientEmail": patient.email,
            "patientPhone": patient.phone,
            "payerContactNumber": payer.contact_number,
            "providerTaxonomy": provider.taxonomy,
            "dateOfService": self.date_of_service,
            "patientDOB": patient.dob,
            "billSubmitDate": self.bill_submit_date,
            "createdTimeStamp": self.created_timestamp,
            "totalCharge": self.total_charge,
            "patientGender": patient.gender,
            "patientZip": patient.address.zip,
            "providerZip": provider.address.zip,
            "patientState": patient.address.state,
            "providerState": provider.address.state,
            "providerNPI": provider.npi,
            "diagnosisCodes": list(self.diagnosis_codes),
            PROCEDURES: [line.model_dump() for line in self.procedures],
            # The model states the claim schema's rules; what lies outside the schema is the mapping's to keep
            # (claims.mapping.extra_attributes), so a model of the schema has none.
            "extraAttributes": None,
        }


# Column -> path in the model's structure.
_PATHS: dict[str, tuple[str, ...]] = {
    "claimId": ("claim_id",),
    "memberId": ("member_id",),
    "insurancePlan": ("insurance_plan",),
    "diagnosisCodes": ("diagnosis_codes",),
    PROCEDURES: ("procedures",),
    "totalCharge": ("total_charge",),
    "dateOfService": ("date_of_service",),
    "billSubmitDate": ("bill_submit_date",),
    "claimStatus": ("claim_status",),
    "paymentStatus": ("payment_status",),
    "createdTimeStamp": ("created_timestamp",),
    "patientFirstName": ("patient", "first_name"),
    "patientLastName": ("patient", "last_name"),
    "patientDOB": ("patient", "dob"),
    "patientGender": ("patient", "gender"),
    "patientPhone": ("patient", "phone"),
    "patientEmail": ("patient", "email"),
    "patientStreet": ("patient", "address", "street"),
    "patientCity": ("patient", "address", "city"),
    "patientState": ("patient", "address", "state"),
    "patientZip": ("patient", "address", "zip"),
    "providerName": ("provider", "name"),
    "providerNPI": ("provider", "npi"),
    "providerTaxonomy": ("provider", "taxonomy"),
    "providerCredentials": ("provider", "credentials"),
    "providerStreet": ("provider", "address", "street"),
    "providerCity": ("provider", "address", "city"),
    "providerState": ("provider", "address", "state"),
    "providerZip": ("provider", "address", "zip"),
    "payerName": ("payer", "name"),
    "payerId": ("payer", "payer_id"),
    "payerContactNumber": ("payer", "contact_number"),
}


def structure(fields: dict[str, Any]) -> dict[str, Any]:
    """Mapped columns -> the model's nested structure."""
    result: dict[str, Any] = {}
    for column, value in fields.items():
        path = _PATHS[column]
        node = result
        for part in path[:-1]:
            node = node.setdefault(part, {})
        node[path[-1]] = value
    return result


def validate_item(item: dict[str, Any] | MappedItem) -> ClaimModel:
    """Validate an item with the model.

    Raises:
        InvalidClaim: naming every failing field's location and its error type (never the input value).
    """
    try:
        return ClaimModel.model_validate(item)
    except ValidationError as exc:
        failures = {
            (".".join(str(part) for part in error["loc"]) or "claim", error["type"]): None
            for error in exc.errors(include_input=False, include_url=False)
        }
        raise InvalidClaim.of(failures) from None


SCHEMA_PATH = Path(__file__).resolve().parents[3] / "docs" / "claim-model.schema.json"


# A bound pydantic cannot attach to the type (it sits beside a validator or on an optional union) is written under
# pydantic's own name; the export restates it as the JSON Schema keyword, on the numeric branches it bounds.
_BOUNDS = {"ge": "minimum", "le": "maximum", "gt": "exclusiveMinimum", "lt": "exclusiveMaximum"}


def _standard_bounds(node: Any) -> Any:
    if isinstance(node, list):
        return [_standard_bounds(item) for item in node]
    if not isinstance(node, dict):
        return node
    node = {key: _standard_bounds(value) for key, value in node.items()}
    bounds = {_BOUNDS[key]: node.pop(key) for key in list(node) if key in _BOUNDS}
    if bounds:
        numeric = [b for b in node.get("anyOf", [node]) if b.get("type") in ("number", "integer")]
        for branch in numeric:
            branch.update(bounds)
    return node


def json_schema() -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of :class:`ClaimModel`, as docs/claim-model.schema.json holds it."""
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$comment": "Generated from claimflow.claims.model.ClaimModel by `python -m claimflow.claims.model`; do not "
        "edit. It describes a claim after the field mapping (canonical names, nested groups; see "
        "docs/claim-rows.md). Rules the model checks in validators (text widths, ICD-10-CM and NPI checks, "
        "procedure code format, decimal places of money) are listed in docs/claim-rows.md, not here.",
        **_standard_bounds(ClaimModel.model_json_schema()),
    }


def render_json_schema() -> str:
    return json.dumps(json_schema(), indent=2, ensure_ascii=False) + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m claimflow.claims.model", description="Write the claim model's JSON Schema into docs/."
    )
    parser.add_argument("--check", action="store_true", help="exit 1 if the committed schema is not current")
    parser.add_argument("--out", type=Path, default=SCHEMA_PATH, help=f"default: {SCHEMA_PATH.name} in docs/")
    args = parser.parse_args(argv)
    text = render_json_schema()
    if args.check:
        current = args.out.is_file() and args.out.read_text(encoding="utf-8") == text
        if not current:
            print(f"{args.out} is not current: run python -m claimflow.claims.model", file=sys.stderr)
        return 0 if current else 1
    args.out.write_text(text, encoding="utf-8")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
