"""The claim domain model in pydantic v2: the declarative statement of the claim rules.

The row builder runs the fast validated path (``claimflow.claims.validate``) per record; this model states the
same rules as types and constraints, for readers, for the naive baseline of the benchmark, and as the oracle the
fast path is tested against (same acceptance, same normalised values). Parsing of single values is shared
(``claimflow.claims.values``); structure, nesting, types and constraints are pydantic's.

``ClaimModel.model_validate`` takes a decoded DynamoDB item in any spelling the mapping accepts (it maps it
first). Pydantic's ``ValidationError`` text contains input values (PHI): use :func:`validate_item`, which raises
``InvalidClaim`` naming only the field and rule.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from functools import partial
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
    if isinstance(value, Decimal):
        raise ValueError("not text")
    key = v.text(value, COLUMN_WIDTHS["claimId"])
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
