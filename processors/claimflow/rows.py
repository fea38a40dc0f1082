"""The claim row: the one definition of the flat, warehouse-ready record ClaimFlow emits per change event.

Everything downstream is derived from or checked against ``COLUMNS``: the Snowflake DDL (staging, history,
destination), the NiFi record schema (Avro) used by the flow definitions' readers and writers, and the row
builder itself. Never hand-keep a second copy of this list.

Names follow the Snowflake quickstart ("Healthcare CDC with DynamoDB and Openflow") where it has a column, so a
quickstart user can switch; they are unquoted in SQL (Snowflake stores them upper-case). New columns follow the
same camelCase style.

JSON representation of a row (the wire format between processors and into Snowflake):
- ``varchar`` -> string; ``decimal`` -> string holding the exact decimal ("1234.50"), never a float;
- ``integer`` -> JSON integer; ``boolean`` -> true/false;
- ``date`` -> "YYYY-MM-DD"; ``timestamp`` -> "YYYY-MM-DDTHH:MM:SS.ffffff" in UTC without an offset;
- ``string_array`` -> array of strings; ``procedures`` -> array of procedure objects (see PROCEDURE_FIELDS).
Every column is present in every row (null when unknown), so NiFi's schema inference sees a stable shape.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any


class Kind(StrEnum):
    """Logical type of a column; each maps to one Snowflake type family and one Avro type."""

    VARCHAR = "varchar"
    DECIMAL = "decimal"
    INTEGER = "integer"
    BOOLEAN = "boolean"
    DATE = "date"
    TIMESTAMP = "timestamp"
    STRING_ARRAY = "string_array"
    PROCEDURES = "procedures"
    ATTRIBUTES = "attributes"  # source path -> the attribute value as DynamoDB JSON text (exactly typed)


class Phi(StrEnum):
    """HIPAA classification of a column, used for Snowflake tags and masking policies.

    A derived column is classified by what it can be solved back to, not by its own look: ``claimAgeDays`` is a
    number, but with any event time it gives the date of service, so it is as sensitive as that date.
    """

    NONE = "none"
    DIRECT_IDENTIFIER = "direct_identifier"  # names, phone, email, street, member id: masked / pseudonymised
    QUASI_IDENTIFIER = "quasi_identifier"  # DOB, ZIP, city, every date or time of the claim, ages: generalisable
    RECORD_KEY = "record_key"  # the claim number and what is derived from it: linkable, tokenised for analysts
    UNCLASSIFIED = "unclassified"  # attributes nobody has classified yet: treated as PHI until someone does


class Group(StrEnum):
    CDC = "cdc"  # change-data-capture metadata
    CLAIM = "claim"  # the source item, flattened (quickstart columns and their companions)
    ENRICHMENT = "enrichment"  # derived by ClaimFlow


@dataclass(frozen=True)
class Column:
    name: str
    kind: Kind
    snowflake_type: str
    description: str
    group: Group
    nullable: bool = True
    phi: Phi = Phi.NONE
    in_quickstart: bool = False
    # What the column can be solved back to, when that is not the column itself (the reason for its ``phi``).
    reveals: str | None = None


def _cdc(
    name: str,
    kind: Kind,
    sf: str,
    description: str,
    nullable: bool = True,
    phi: Phi = Phi.NONE,
    reveals: str | None = None,
) -> Column:
    return Column(name, kind, sf, description, Group.CDC, nullable=nullable, phi=phi, reveals=reveals)


def _claim(
    name: str,
    kind: Kind,
    sf: str,
    description: str,
    phi: Phi = Phi.NONE,
    quickstart: bool = True,
    nullable: bool = True,
    reveals: str | None = None,
) -> Column:
    return Column(
        name, kind, sf, description, Group.CLAIM, nullable=nullable, phi=phi, in_quickstart=quickstart, reveals=reveals
    )


def _derived(
    name: str, kind: Kind, sf: str, description: str, phi: Phi = Phi.NONE, reveals: str | None = None
) -> Column:
    return Column(name, kind, sf, description, Group.ENRICHMENT, phi=phi, reveals=reveals)


_DI = Phi.DIRECT_IDENTIFIER
_QI = Phi.QUASI_IDENTIFIER
_KEY = Phi.RECORD_KEY
# Event times: when the claim was created or changed. The INSERT's time is the claim's creation (the quickstart's
# createdTimeStamp), and any of them minus claimAgeDays is the date of service: dates of the claim, not of the pipe.
_EVENT_TIME = "when the claim was created or changed (INSERT time = creation date; minus claimAgeDays = dateOfService)"

COLUMNS: tuple[Column, ...] = (
    # --- CDC metadata -------------------------------------------------------------------------------------
    _cdc("eventName", Kind.VARCHAR, "VARCHAR(6)", "INSERT, MODIFY or REMOVE.", nullable=False),
    _cdc(
        "eventCreationUnixTime",
        Kind.INTEGER,
        "NUMBER(19,0)",
        "DynamoDB ApproximateCreationDateTime normalised to integer microseconds since the epoch; the merge's "
        "primary ordering key.",
        nullable=False,
        phi=_QI,
        reveals=_EVENT_TIME,
    ),
    _cdc(
        "eventTimeUtc",
        Kind.TIMESTAMP,
        "TIMESTAMP_NTZ(6)",
        "eventCreationUnixTime as a UTC timestamp.",
        False,
        _QI,
        _EVENT_TIME,
    ),
    _cdc("eventId", Kind.VARCHAR, "VARCHAR(64)", "DynamoDB eventID of the change.", nullable=False),
    _cdc("ttlDelete", Kind.BOOLEAN, "BOOLEAN", "True when DynamoDB's TTL expiry removed the item.", False),
    _cdc("sourceTable", Kind.VARCHAR, "VARCHAR(255)", "DynamoDB table name."),
    _cdc("awsRegion", Kind.VARCHAR, "VARCHAR(32)", "AWS region of the table."),
    _cdc("kinesisShardId", Kind.VARCHAR, "VARCHAR(128)", "Kinesis shard the record was read from."),
    _cdc(
        "kinesisSequenceNumber",
        Kind.VARCHAR,
        "VARCHAR(128)",
        "Kinesis sequence number (decimal string, up to ~56 digits; compare numerically, never as a float).",
    ),
    _cdc(
        "kinesisPartitionKey",
        Kind.VARCHAR,
        "VARCHAR(256)",
        "Kinesis partition key (derived from the item key).",
        phi=_KEY,
        reveals="the claim number (claimId): DynamoDB derives it from the item key",
    ),
    _cdc(
        "kinesisArrivalTime",
        Kind.TIMESTAMP,
        "TIMESTAMP_NTZ(6)",
        "Kinesis approximate arrival time, UTC.",
        phi=_QI,
        reveals=_EVENT_TIME,
    ),
    _cdc(
        "flowFileRecordIndex",
        Kind.INTEGER,
        "NUMBER(10,0)",
        "0-based position of the change among the records of the FlowFile (or input) ClaimFlow first read it "
        "from; orders two changes of one claim at the same time that have no sequence number (same FlowFile only).",
    ),
    _cdc(
        "ingestTime",
        Kind.TIMESTAMP,
        "TIMESTAMP_NTZ(6)",
        "When ClaimFlow built this row, UTC.",
        nullable=False,
        phi=_QI,
        reveals=_EVENT_TIME,
    ),
    # --- The claim (quickstart columns, with types that keep data) ---------------------------------------
    _claim(
        "claimId",
        Kind.VARCHAR,
        "VARCHAR(64)",
        "Claim identifier (the DynamoDB key claim_id).",
        _KEY,
        nullable=False,
        reveals="the claim in the payer's and provider's systems (an account-like number: Safe Harbor item R)",
    ),
    _claim("diagnosisCodes", Kind.STRING_ARRAY, "ARRAY", "ICD-10-CM codes, in claim order."),
    _claim("dateOfService", Kind.DATE, "DATE", "First date of service.", _QI),
    _claim("totalCharge", Kind.DECIMAL, "NUMBER(12,2)", "Total billed charge, USD."),
    _claim("procedureDetails", Kind.PROCEDURES, "VARIANT", "Procedure lines: code, charge, units, modifiers."),
    _claim("memberId", Kind.VARCHAR, "VARCHAR(64)", "Health-plan member (beneficiary) number.", _DI),
    _claim("insurancePlan", Kind.VARCHAR, "VARCHAR(128)", "Plan name or product."),
    _claim("patientZip", Kind.VARCHAR, "VARCHAR(10)", "Patient ZIP or ZIP+4 (leading zeros kept).", _QI),
    _claim("patientState", Kind.VARCHAR, "VARCHAR(2)", "Patient state (USPS code)."),
    _claim("patientCity", Kind.VARCHAR, "VARCHAR(128)", "Patient city.", _QI),
    _claim("patientStreet", Kind.VARCHAR, "VARCHAR(256)", "Patient street address.", _DI),
    _claim("patientGender", Kind.VARCHAR, "VARCHAR(1)", "M, F, U (unknown) or X (other)."),
    _claim("patientDOB", Kind.DATE, "DATE", "Patient date of birth.", _QI),
    _claim("patientLastName", Kind.VARCHAR, "VARCHAR(128)", "Patient family name.", _DI),
    _claim("patientPhone", Kind.VARCHAR, "VARCHAR(32)", "Patient phone number.", _DI),
    _claim("patientFirstName", Kind.VARCHAR, "VARCHAR(128)", "Patient given name.", _DI),
    _claim("patientEmail", Kind.VARCHAR, "VARCHAR(256)", "Patient e-mail address.", _DI),
    _claim("claimStatus", Kind.VARCHAR, "VARCHAR(64)", "Claim status as the source wrote it."),
    _claim(
        "createdTimeStamp",
        Kind.TIMESTAMP,
        "TIMESTAMP_NTZ(6)",
        "When the claim was created, UTC.",
        _QI,
        reveals="a date of the claim (close to billSubmitDate and dateOfService)",
    ),
    _claim("providerName", Kind.VARCHAR, "VARCHAR(256)", "Rendering/billing provider name."),
    _claim("providerNPI", Kind.VARCHAR, "VARCHAR(10)", "Provider National Provider Identifier (Luhn-checked)."),
    _claim("providerZip", Kind.VARCHAR, "VARCHAR(10)", "Provider ZIP (leading zeros kept)."),
    _claim("providerState", Kind.VARCHAR, "VARCHAR(2)", "Provider state."),
    _claim("providerCity", Kind.VARCHAR, "VARCHAR(128)", "Provider city."),
    _claim("providerStreet", Kind.VARCHAR, "VARCHAR(256)", "Provider street address."),
    _claim("billSubmitDate", Kind.DATE, "DATE", "Date the bill was submitted.", _QI),
    _claim("payerName", Kind.VARCHAR, "VARCHAR(256)", "Payer (insurer) name."),
    _claim("payerId", Kind.VARCHAR, "VARCHAR(64)", "Payer identifier."),
    _claim("payerContactNumber", Kind.VARCHAR, "VARCHAR(32)", "Payer contact phone number."),
    _claim("paymentStatus", Kind.VARCHAR, "VARCHAR(64)", "Payment status as the source wrote it."),
    # --- Companions of the claim that the quickstart did not have -----------------------------------------
    _claim("providerTaxonomy", Kind.VARCHAR, "VARCHAR(10)", "NUCC taxonomy code, where present.", quickstart=False),
    _claim(
        "providerCredentials", Kind.VARCHAR, "VARCHAR(64)", "Provider credentials (MD, DO, NP...).", quickstart=False
    ),
    # --- Enrichment ----------------------------------------------------------------------------------------
    _derived(
        "claimStatusCode",
        Kind.VARCHAR,
        "VARCHAR(32)",
        "Canonical status (SUBMITTED, IN_REVIEW, APPROVED, DENIED, PAID, ...).",
    ),
    _derived(
        "x12StatusCategory", Kind.VARCHAR, "VARCHAR(2)", "X12 277 claim status category code (A1, P1, F1, F2, ...)."
    ),
    _derived("primaryDiagnosisCode", Kind.VARCHAR, "VARCHAR(8)", "First diagnosis code."),
    _derived("primaryDiagnosisDescription", Kind.VARCHAR, "VARCHAR(512)", "ICD-10-CM description of the first code."),
    _derived("primaryDiagnosisChapter", Kind.VARCHAR, "VARCHAR(512)", "ICD-10-CM chapter of the first code."),
    _derived("diagnosisCount", Kind.INTEGER, "NUMBER(4,0)", "Number of diagnosis codes."),
    _derived("procedureCount", Kind.INTEGER, "NUMBER(4,0)", "Number of procedure lines."),
    _derived("totalUnits", Kind.INTEGER, "NUMBER(9,0)", "Sum of procedure units."),
    _derived(
        "patientAgeAtService",
        Kind.INTEGER,
        "NUMBER(3,0)",
        "Patient age in whole years on dateOfService.",
        _QI,
        "an age over 89 (Safe Harbor: 90 or older is one group); with the DOB year, part of the birth date",
    ),
    _derived(
        "claimAgeDays",
        Kind.INTEGER,
        "NUMBER(6,0)",
        "Days from dateOfService to the event time.",
        _QI,
        "dateOfService exactly: DATE(eventTimeUtc) - claimAgeDays",
    ),
    _derived("chargeBand", Kind.VARCHAR, "VARCHAR(16)", "Charge band of totalCharge (e.g. 0-100, 100-500, ...)."),
    _derived("dataQualityFlags", Kind.STRING_ARRAY, "ARRAY", "Non-fatal data-quality findings (codes)."),
    _derived(
        "phiMode", Kind.VARCHAR, "VARCHAR(16)", "passthrough, pseudonymized or safe_harbor: how PHI was handled."
    ),
    # Appended last, so an existing table gains it with ALTER TABLE ... ADD COLUMN (docs/claim-rows.md).
    _claim(
        "extraAttributes",
        Kind.ATTRIBUTES,
        "VARIANT",
        "Attributes of the item outside the claim schema, never dropped: source path (e.g. loyalty_tier, "
        "patient.middle_name) -> the value as DynamoDB JSON text ({\"S\": ...}, {\"N\": \"12.50\"}); null when none. "
        "Unclassified, so masked as PHI; the schema-evolution path (docs/claim-rows.md).",
        phi=Phi.UNCLASSIFIED,
        quickstart=False,
    ),
)

COLUMN_NAMES: tuple[str, ...] = tuple(c.name for c in COLUMNS)
COLUMNS_BY_NAME: dict[str, Column] = {c.name: c for c in COLUMNS}
# Characters each VARCHAR column holds ("VARCHAR(64)" -> 64): every width check reads this, so a value is held to
# the DDL's width where the row is built, not first by Snowflake (which would refuse the whole batch's INSERT).
VARCHAR_WIDTHS: dict[str, int] = {
    c.name: int(c.snowflake_type[len("VARCHAR("):-1])
    for c in COLUMNS
    if c.snowflake_type.startswith("VARCHAR(") and c.snowflake_type.endswith(")")
}

# Shape of one element of procedureDetails.
PROCEDURE_FIELDS: tuple[tuple[str, Kind], ...] = (
    ("code", Kind.VARCHAR),  # CPT / HCPCS Level II
    ("description", Kind.VARCHAR),
    ("modifiers", Kind.STRING_ARRAY),
    ("units", Kind.INTEGER),
    ("charge", Kind.DECIMAL),  # line charge, exact decimal string
)


def empty_row() -> dict[str, Any]:
    """A row with every column present and null, in column order."""
    return dict.fromkeys(COLUMN_NAMES)


_AVRO_SCALAR: dict[Kind, Any] = {
    Kind.VARCHAR: "string",
    # Exact decimals travel as strings in JSON; the logical type tells NiFi's readers/writers to keep them exact.
    Kind.DECIMAL: {"type": "bytes", "logicalType": "decimal", "precision": 12, "scale": 2},
    Kind.INTEGER: "long",
    Kind.BOOLEAN: "boolean",
    Kind.DATE: {"type": "int", "logicalType": "date"},
    Kind.TIMESTAMP: {"type": "long", "logicalType": "timestamp-micros"},
    Kind.STRING_ARRAY: {"type": "array", "items": "string"},
    Kind.ATTRIBUTES: {"type": "map", "values": "string"},
}


def _avro_type(kind: Kind) -> Any:
    if kind is Kind.PROCEDURES:
        return {
            "type": "array",
            "items": {
                "type": "record",
                "name": "ProcedureLine",
                "fields": [
                    {"name": n, "type": ["null", _AVRO_SCALAR[k]], "default": None} for n, k in PROCEDURE_FIELDS
                ],
            },
        }
    return _AVRO_SCALAR[kind]


def avro_schema(name: str = "ClaimRow", namespace: str = "io.claimflow") -> dict[str, Any]:
    """The Avro record schema of a claim row, for NiFi record readers/writers (explicit schema, no inference)."""
    fields = []
    for col in COLUMNS:
        t = _avro_type(col.kind)
        if col.nullable:
            fields.append({"name": col.name, "type": ["null", t], "default": None, "doc": col.description})
        else:
            fields.append({"name": col.name, "type": t, "doc": col.description})
    return {"type": "record", "name": name, "namespace": namespace, "fields": fields}
