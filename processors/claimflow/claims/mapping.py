"""The one mapping from the field names of an ``InsuranceClaims`` item to the claim row's columns.

A DynamoDB item may spell its fields in snake_case (``claim_id``, the quickstart's style), camelCase
(``claimId``) or PascalCase, and may nest the parties (``patient: {first_name, address: {zip}}``) or keep them flat
(``patient_first_name``, ``patientZip``). Keys are compared after *normalisation* (lower-case, without ``_``,
``-`` and spaces), so every spelling of one name meets the same entry.

``GROUPS`` is the whole table. Each group lists the normalised keys it accepts: a value that is a column name
maps the field to that column; a value starting with ``@`` descends into a nested object handled by that group.
Flat aliases (``patientfirstname``, ``providerzip``, ``payerid``...) are derived from the nested groups by
prefixing, never hand-kept. A key whose value is ``IGNORED`` is known and deliberately dropped (the DynamoDB TTL
attribute). Keys that match nothing are *unknown*: counted in a data-quality flag and kept, exactly typed, in the
row's ``extraAttributes`` (never dropped).
docs/claim-rows.md renders this table (a test checks the document against it).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from decimal import Decimal
from typing import Any, NamedTuple

from claimflow.caching import MAX_KEY_CHARS

PROCEDURES = "procedureDetails"
# Target of a known field that is not part of the claim row: read past, never flagged as unknown.
IGNORED = "-"

# group name -> {normalised key: column name | "@subgroup"}
GROUPS: dict[str, dict[str, str]] = {
    "claim": {
        "claimid": "claimId",
        "id": "claimId",
        "memberid": "memberId",
        "subscriberid": "memberId",
        "insurancememberid": "memberId",
        "insuranceplan": "insurancePlan",
        "plan": "insurancePlan",
        "planname": "insurancePlan",
        "diagnosiscodes": "diagnosisCodes",
        "diagnoses": "diagnosisCodes",
        "icdcodes": "diagnosisCodes",
        "icd10codes": "diagnosisCodes",
        "procedures": PROCEDURES,
        "proceduredetails": PROCEDURES,
        "procedurelines": PROCEDURES,
        "servicelines": PROCEDURES,
        "procedurecodes": PROCEDURES,
        "totalcharge": "totalCharge",
        "totalcharges": "totalCharge",
        "totalamount": "totalCharge",
        "claimamount": "totalCharge",
        "billedamount": "totalCharge",
        "dateofservice": "dateOfService",
        "servicedate": "dateOfService",
        "dos": "dateOfService",
        "billsubmitdate": "billSubmitDate",
        "billsubmitteddate": "billSubmitDate",
        "submissiondate": "billSubmitDate",
        "submitdate": "billSubmitDate",
        "claimstatus": "claimStatus",
        "status": "claimStatus",
        "paymentstatus": "paymentStatus",
        "createdtimestamp": "createdTimeStamp",
        "createdat": "createdTimeStamp",
        "createdtime": "createdTimeStamp",
        "creationtimestamp": "createdTimeStamp",
        "patient": "@patient",
        "member": "@patient",
        "provider": "@provider",
        "renderingprovider": "@provider",
        "billingprovider": "@provider",
        "payer": "@payer",
        "insurer": "@payer",
        # The table's TTL attribute (epoch seconds, DynamoDB deletes the item after it): housekeeping, not claim
        # data. A TTL deletion itself arrives as a REMOVE with ttl_delete.
        "expiresat": IGNORED,
        "ttl": IGNORED,
    },
    "patient": {
        "firstname": "patientFirstName",
        "givenname": "patientFirstName",
        "lastname": "patientLastName",
        "familyname": "patientLastName",
        "surname": "patientLastName",
        "name": "@patient.name",
        "dob": "patientDOB",
        "dateofbirth": "patientDOB",
        "birthdate": "patientDOB",
        "gender": "patientGender",
        "sex": "patientGender",
        "phone": "patientPhone",
        "phonenumber": "patientPhone",
        "email": "patientEmail",
        "emailaddress": "patientEmail",
        "address": "@patient.address",
    },
    "patient.name": {
        "first": "patientFirstName",
        "firstname": "patientFirstName",
        "given": "patientFirstName",
        "last": "patientLastName",
        "lastname": "patientLastName",
        "family": "patientLastName",
    },
    "patient.address": {
        "street": "patientStreet",
        "streetaddress": "patientStreet",
        "line1": "patientStreet",
        "address1": "patientStreet",
        "city": "patientCity",
        "state": "patientState",
        "zip": "patientZip",
        "zipcode": "patientZip",
        "postalcode": "patientZip",
    },
    "provider": {
        "name": "providerName",
        "providername": "providerName",
        "npi": "providerNPI",
        "taxonomy": "providerTaxonomy",
        "taxonomycode": "providerTaxonomy",
        "credentials": "providerCredentials",
        "credential": "providerCredentials",
        "address": "@provider.address",
    },
    "provider.address": {
        "street": "providerStreet",
        "streetaddress": "providerStreet",
        "line1": "providerStreet",
        "address1": "providerStreet",
        "city": "providerCity",
        "state": "providerState",
        "zip": "providerZip",
        "zipcode": "providerZip",
        "postalcode": "providerZip",
    },
    "payer": {
        "name": "payerName",
        "payername": "payerName",
        "payerid": "payerId",
        "id": "payerId",
        "contactnumber": "payerContactNumber",
        "contact": "payerContactNumber",
        "phone": "payerContactNumber",
        "phonenumber": "payerContactNumber",
    },
}

# Fields of one procedure line: normalised key -> PROCEDURE_FIELDS name.
PROCEDURE_KEYS: dict[str, str] = {
    "code": "code",
    "procedurecode": "code",
    "cpt": "code",
    "cptcode": "code",
    "hcpcs": "code",
    "hcpcscode": "code",
    "description": "description",
    "desc": "description",
    "modifiers": "modifiers",
    "modifier": "modifiers",
    "units": "units",
    "unit": "units",
    "quantity": "units",
    "charge": "charge",
    "linecharge": "charge",
    "amount": "charge",
    "chargeamount": "charge",
}

# A flat item's prefixes for each nested group: patient_first_name, patientZip, provider_npi, payer_contact_number.
FLAT_PREFIXES: dict[str, tuple[str, ...]] = {
    "patient": ("patient", "member"),
    "patient.name": ("patient",),
    "patient.address": ("patient", "patientaddress"),
    "provider": ("provider",),
    "provider.address": ("provider", "provideraddress"),
    "payer": ("payer",),
}


def _derive_flat_aliases() -> dict[str, str]:
    top = dict(GROUPS["claim"])
    for group, prefixes in FLAT_PREFIXES.items():
        for prefix in prefixes:
            for key, target in GROUPS[group].items():
                if target.startswith("@"):
                    continue
                flat = key if key.startswith(prefix) else prefix + key
                top.setdefault(flat, target)  # an explicit top-level entry wins
    return top


# The tables used at run time: group -> normalised key -> target.
MAPPING_TABLES: dict[str, dict[str, str]] = {**GROUPS, "claim": _derive_flat_aliases()}

_normalised_keys: dict[str, str] = {}


def normalise_key(key: str) -> str:
    """``claim_id``, ``claimId``, ``ClaimID`` and ``claim-id`` all become ``claimid``."""
    cached = _normalised_keys.get(key)
    if cached is None:
        cached = key.replace("_", "").replace("-", "").replace(" ", "").lower()
        if len(_normalised_keys) < 65536 and len(key) <= MAX_KEY_CHARS:  # keys are data: bound count and size
            _normalised_keys[key] = cached
    return cached


def is_known_item_name(name: str) -> bool:
    """True when ``name`` (any spelling) is a top-level field name of an item the mapping accepts, such as
    ``claim_id`` or ``patientFirstName``: a schema name, never data, so error messages may show it."""
    return normalise_key(name) in MAPPING_TABLES["claim"]


class MappedItem(NamedTuple):
    """An item's fields keyed by row column (values untouched), and the source paths that matched nothing."""

    fields: dict[str, Any]
    unknown: list[str]
    conflicts: list[str]  # columns given twice with different values (the first one wins)
    extras: dict[str, Any] | None = None  # unknown source path -> its decoded value (kept, never dropped)


def dynamodb_json(value: Any) -> Any:
    """A decoded attribute value back in DynamoDB JSON (``{"S": ...}``, ``{"N": "12.50"}``, ``{"M": ...}``): exact
    for S, N, BOOL, NULL, M and L. The decoder's value model has no sets or binaries: a set comes back as its L, a
    binary as the S of its base64 text.

    Raises:
        TypeError: a value no decoded attribute can be (the decoder gives only the types above).
    """
    if value is None:
        return {"NULL": True}
    if value is True or value is False:
        return {"BOOL": value}
    if isinstance(value, str):
        return {"S": value}
    if isinstance(value, Decimal | int):
        return {"N": str(value)}
    if isinstance(value, dict):
        return {"M": {key: dynamodb_json(inner) for key, inner in value.items()}}
    if isinstance(value, list | tuple):
        return {"L": [dynamodb_json(inner) for inner in value]}
    raise TypeError(f"no DynamoDB type for {type(value).__name__}")


def extra_attributes(extras: dict[str, Any] | None) -> dict[str, str] | None:
    """The row's extraAttributes: source path -> the value as compact DynamoDB JSON text (None when none)."""
    if not extras:
        return None
    return {path: json.dumps(dynamodb_json(value), separators=(",", ":")) for path, value in extras.items()}


def map_item(item: Mapping[str, Any]) -> MappedItem:
    """Map a decoded DynamoDB item (any spelling, nested or flat) onto row columns.

    Procedure lines are mapped too (``procedureDetails`` holds a list of dicts keyed by PROCEDURE_FIELDS names, or
    the raw value when it is not a list). Values are not validated here.
    """
    fields: dict[str, Any] = {}
    unknown: list[str] = []
    conflicts: list[str] = []
    extras: dict[str, Any] = {}
    _map_group(item, MAPPING_TABLES["claim"], "", fields, unknown, conflicts, extras)
    return MappedItem(fields, unknown, conflicts, extras)


def _map_group(
    obj: Mapping[str, Any],
    table: dict[str, str],
    path: str,
    fields: dict[str, Any],
    unknown: list[str],
    conflicts: list[str],
    extras: dict[str, Any],
) -> None:
    for key, value in obj.items():
        target: Any = table.get(normalise_key(key))
        if target is None:
            unknown.append(path + key)
            extras[path + key] = value
            continue
        if target == IGNORED:
            continue
        if target[0] == "@":
            if isinstance(value, dict):
                _map_group(value, MAPPING_TABLES[target[1:]], f"{path}{key}.", fields, unknown, conflicts, extras)
            elif value is not None:
                # Not a group: kept as written (a one-string patient name cannot be split safely into given/family).
                unknown.append(path + key)
                extras[path + key] = value
            continue
        if target == PROCEDURES and isinstance(value, list):
            value = [map_procedure(line, i, unknown, extras) for i, line in enumerate(value)]
        if target in fields:
            if fields[target] != value and value is not None:
                if fields[target] is None:
                    fields[target] = value
                else:
                    conflicts.append(target)
        else:
            fields[target] = value


def map_procedure(line: Any, index: int, unknown: list[str], extras: dict[str, Any] | None = None) -> Any:
    if isinstance(line, str):
        return {"code": line}
    if not isinstance(line, dict):
        return line
    mapped: dict[str, Any] = {}
    for key, value in line.items():
        name = PROCEDURE_KEYS.get(normalise_key(key))
        if name is None:
            unknown.append(f"procedures[{index}].{key}")
            if extras is not None:
                extras[f"procedures[{index}].{key}"] = value
        elif name not in mapped:
            mapped[name] = value
    return mapped


def alias_table() -> list[tuple[str, str, str]]:
    """Every accepted normalised key as (group, key, target), for documentation."""
    rows = []
    for group, table in MAPPING_TABLES.items():
        for key, target in sorted(table.items()):
            rows.append((group, key, target))
    for key, target in sorted(PROCEDURE_KEYS.items()):
        rows.append(("procedure line", key, target))
    return rows
