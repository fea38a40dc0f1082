"""Synthetic claim content: the one source of what a made-up claim holds, for the demo and the tests and benchmark.

Every value is synthetic but valid where validity is checkable: NPIs pass the Luhn check with the 80840 prefix,
diagnosis codes are billable ICD-10-CM codes drawn from ``simple-icd-10-cm``, procedure codes are real CPT / HCPCS
Level II codes with plausible charges, ZIP codes keep their leading zeros, phone numbers use the fictional
555-01xx range and e-mail addresses the reserved ``example.com`` domain. Money is ``Decimal`` with two places (a
DynamoDB ``N``). Items are nested snake_case maps (``patient``, ``provider``, ``payer``), the shape of the
Snowflake quickstart's ``InsuranceClaims`` items.

Everything is drawn from a ``random.Random`` the caller owns, so the same seed gives the same claims. The demo
(``claimflow.demo.generator``) adds lifecycles and writes through boto3; ``claimflow.claims.synthetic`` makes
Kinesis records of them for the tests and the benchmark.
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

from claimflow.claims.codes import npi_check_digit

CENT = Decimal("0.01")

# Status values as the source application writes them (the quickstart's free-text style).
SUBMITTED, IN_REVIEW, APPROVED, DENIED, PAID, RESUBMITTED = (
    "Submitted",
    "In Review",
    "Approved",
    "Denied",
    "Paid",
    "Resubmitted",
)
PAYMENT_FOR_STATUS = {
    SUBMITTED: "Pending",
    IN_REVIEW: "Pending",
    RESUBMITTED: "Pending",
    APPROVED: "Approved",
    DENIED: "Denied",
    PAID: "Paid",
}


@dataclass(frozen=True)
class Procedure:
    code: str
    description: str  # short descriptor written for this project
    low: Decimal  # plausible billed charge range per unit, USD
    high: Decimal
    max_units: int = 1
    modifiers: tuple[str, ...] = ()


# A curated list of common, real CPT Category I and HCPCS Level II codes.
PROCEDURES: tuple[Procedure, ...] = (
    Procedure("99202", "New patient office visit, straightforward", Decimal("95"), Decimal("140")),
    Procedure("99203", "New patient office visit, low complexity", Decimal("140"), Decimal("210"), 1, ("25",)),
    Procedure("99204", "New patient office visit, moderate complexity", Decimal("210"), Decimal("320"), 1, ("25",)),
    Procedure("99212", "Established patient office visit, straightforward", Decimal("70"), Decimal("110")),
    Procedure("99213", "Established patient office visit, low complexity", Decimal("110"), Decimal("170"), 1, ("25",)),
    Procedure("99214", "Established patient office visit, moderate complexity", Decimal("160"), Decimal("250")),
    Procedure("99283", "Emergency department visit, moderate severity", Decimal("350"), Decimal("650")),
    Procedure("99284", "Emergency department visit, high severity", Decimal("600"), Decimal("1100")),
    Procedure("99395", "Preventive visit, established patient, 18-39", Decimal("180"), Decimal("280")),
    Procedure("99396", "Preventive visit, established patient, 40-64", Decimal("200"), Decimal("300")),
    Procedure("36415", "Routine venipuncture", Decimal("10"), Decimal("30")),
    Procedure("80053", "Comprehensive metabolic panel", Decimal("35"), Decimal("90")),
    Procedure("80061", "Lipid panel", Decimal("30"), Decimal("80")),
    Procedure("83036", "Hemoglobin A1c", Decimal("25"), Decimal("65")),
    Procedure("85025", "Complete blood count with differential", Decimal("20"), Decimal("55")),
    Procedure("81002", "Urinalysis, non-automated, without microscopy", Decimal("8"), Decimal("25")),
    Procedure("93000", "Electrocardiogram, 12 leads, with interpretation", Decimal("45"), Decimal("120")),
    Procedure("71046", "Chest X-ray, 2 views", Decimal("90"), Decimal("220"), 1, ("26",)),
    Procedure("73721", "MRI of lower extremity joint, no contrast", Decimal("900"), Decimal("2100"), 1, ("RT", "LT")),
    Procedure("70450", "CT of head without contrast", Decimal("500"), Decimal("1400")),
    Procedure("97110", "Therapeutic exercise, each 15 minutes", Decimal("45"), Decimal("90"), 4, ("GP",)),
    Procedure("97140", "Manual therapy, each 15 minutes", Decimal("45"), Decimal("85"), 3, ("GP", "59")),
    Procedure("20610", "Arthrocentesis or injection, major joint", Decimal("150"), Decimal("320"), 1, ("RT", "LT")),
    Procedure("96372", "Therapeutic injection, subcutaneous or intramuscular", Decimal("30"), Decimal("75")),
    Procedure("90471", "Immunization administration, first vaccine", Decimal("20"), Decimal("45")),
    Procedure("90686", "Influenza vaccine, quadrivalent, preservative free", Decimal("25"), Decimal("55")),
    Procedure("45378", "Diagnostic colonoscopy", Decimal("1200"), Decimal("2800")),
    Procedure("29881", "Knee arthroscopy with meniscectomy", Decimal("3500"), Decimal("7800"), 1, ("RT", "LT")),
    Procedure("G0438", "Annual wellness visit, initial", Decimal("170"), Decimal("260")),
    Procedure("G0439", "Annual wellness visit, subsequent", Decimal("120"), Decimal("190")),
    Procedure("J1100", "Dexamethasone sodium phosphate injection, 1 mg", Decimal("2"), Decimal("8"), 10),
    Procedure("J3301", "Triamcinolone acetonide injection, 10 mg", Decimal("5"), Decimal("18"), 4),
)

# ICD-10-CM categories common in outpatient claims; billable leaves below them are drawn from simple-icd-10-cm.
COMMON_DIAGNOSIS_CATEGORIES: tuple[str, ...] = (
    "E11", "I10", "E78", "E66", "J06", "J20", "J45", "M54", "M17", "M25", "K21", "N39", "F41", "F32",
    "G43", "R10", "R07", "R51", "Z00", "Z23", "L03", "H10", "S93", "I25", "B34",
)  # fmt: skip


@dataclass(frozen=True)
class Payer:
    name: str
    payer_id: str  # the payer's electronic (EDI) payer id
    plans: tuple[str, ...]


PAYERS: tuple[Payer, ...] = (
    Payer("Aetna", "60054", ("Aetna Choice POS II", "Aetna Open Access Managed Choice")),
    Payer("UnitedHealthcare", "87726", ("UnitedHealthcare Choice Plus", "UnitedHealthcare Navigate HMO")),
    Payer("Cigna", "62308", ("Cigna Open Access Plus", "Cigna LocalPlus")),
    Payer("Humana", "61101", ("Humana Gold Plus HMO", "Humana Choice PPO")),
    Payer("Medicare Part B", "MCRB1", ("Original Medicare Part B",)),
    Payer("Blue Cross Blue Shield", "BCBS1", ("Blue Choice PPO", "Blue Advantage HMO")),
)

# Real city / state / ZIP combinations; several Northeastern ZIPs start with 0 to exercise leading zeros.
PLACES: tuple[tuple[str, str, str], ...] = (
    ("Boston", "MA", "02118"), ("Cambridge", "MA", "02139"), ("Providence", "RI", "02903"),
    ("Hartford", "CT", "06103"), ("New Haven", "CT", "06510"), ("Newark", "NJ", "07102"),
    ("Hoboken", "NJ", "07030"), ("Portland", "ME", "04101"), ("Burlington", "VT", "05401"),
    ("Manchester", "NH", "03101"), ("New York", "NY", "10001"), ("Philadelphia", "PA", "19103"),
    ("Atlanta", "GA", "30303"), ("Chicago", "IL", "60601"), ("Houston", "TX", "77002"),
    ("Austin", "TX", "78701"), ("Denver", "CO", "80202"), ("Phoenix", "AZ", "85004"),
    ("Seattle", "WA", "98101"), ("San Diego", "CA", "92101"), ("Columbus", "OH", "43215"),
    ("Nashville", "TN", "37203"), ("Minneapolis", "MN", "55401"), ("Miami", "FL", "33130"),
)  # fmt: skip
STREET_NAMES = ("Maple", "Oak", "Cedar", "Elm", "Pine", "Washington", "Lake", "Hill", "Park", "Main", "Church",
                "Spring", "River", "Highland", "Walnut", "Sunset", "Mill", "Chestnut", "Franklin")  # fmt: skip
STREET_TYPES = ("St", "Ave", "Rd", "Blvd", "Ln", "Dr", "Ct", "Way")
FIRST_NAMES = {
    "F": ("Mary", "Patricia", "Jennifer", "Linda", "Elizabeth", "Susan", "Jessica", "Sarah", "Karen", "Lisa",
          "Nancy", "Sandra", "Ashley", "Emily", "Michelle", "Amanda", "Melissa", "Maria", "Ana", "Mei"),
    "M": ("James", "Robert", "John", "Michael", "David", "William", "Richard", "Joseph", "Thomas", "Charles",
          "Daniel", "Matthew", "Anthony", "Mark", "Carlos", "Luis", "Wei", "Ahmed", "Kevin", "Brian"),
}  # fmt: skip
LAST_NAMES = ("Smith", "Johnson", "Williams", "Brown", "Jones", "Garcia", "Miller", "Davis", "Rodriguez",
              "Martinez", "Hernandez", "Lopez", "Gonzalez", "Wilson", "Anderson", "Thomas", "Taylor", "Moore",
              "Jackson", "Martin", "Lee", "Perez", "Thompson", "White", "Harris", "Sanchez", "Clark", "Nguyen",
              "Patel", "Kim", "Chen", "Walker", "Young", "Allen", "King", "Wright", "Scott", "Torres")  # fmt: skip
AREA_CODES = ("617", "401", "860", "973", "207", "802", "603", "212", "215", "404", "312", "713", "512", "303")

# (NUCC taxonomy code, specialty label, credentials)
SPECIALTIES: tuple[tuple[str, str, str], ...] = (
    ("207Q00000X", "Family Medicine", "MD"),
    ("207R00000X", "Internal Medicine", "MD"),
    ("207RC0000X", "Cardiology", "MD"),
    ("207X00000X", "Orthopaedic Surgery", "MD"),
    ("207P00000X", "Emergency Medicine", "DO"),
    ("2084N0400X", "Neurology", "MD"),
    ("363L00000X", "Primary Care", "NP"),
    ("225100000X", "Physical Therapy", "DPT"),
)
PRACTICE_WORDS = ("Riverside", "Lakeview", "Summit", "Harbor", "Meadowbrook", "Northgate", "Pinecrest", "Valley")

def make_npi(rng: random.Random) -> str:
    """A valid NPI (first digit 1 or 2, Luhn check digit with the 80840 prefix)."""
    first_nine = rng.choice("12") + "".join(rng.choice("0123456789") for _ in range(8))
    return first_nine + npi_check_digit(first_nine)


def dotted(code: str) -> str:
    # simple_icd_10_cm.add_dot is slow on 7-character codes; the rule itself is simple.
    return code if len(code) <= 3 else f"{code[:3]}.{code[3:]}"


_BILLABLE: tuple[tuple[str, ...], tuple[str, ...]] | None = None


def billable_codes() -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(billable codes below the common categories, all billable codes), dotted, in a stable order. Computed once
    per process (about 0.7 s over the 74,000 billable codes), on first use: importing this module stays cheap."""
    global _BILLABLE
    if _BILLABLE is None:
        _BILLABLE = _billable_codes()
    return _BILLABLE


def _billable_codes() -> tuple[tuple[str, ...], tuple[str, ...]]:
    import simple_icd_10_cm as icd

    everything = tuple(
        dotted(code) for code in icd.get_all_codes(False) if not icd.is_chapter_or_block(code) and icd.is_leaf(code)
    )
    prefixes = tuple(COMMON_DIAGNOSIS_CATEGORIES)
    common = tuple(code for code in everything if code.startswith(prefixes))
    return common, everything


def money(rng: random.Random, low: Decimal, high: Decimal) -> Decimal:
    cents = rng.randint(int(low * 100), int(high * 100))
    return (Decimal(cents) / 100).quantize(CENT)


def phone(rng: random.Random) -> str:
    return f"({rng.choice(AREA_CODES)}) 555-01{rng.randint(0, 99):02d}"  # 555-0100..0199 are fictional


def address(rng: random.Random) -> dict[str, str]:
    city, state, zip_code = rng.choice(PLACES)
    street = f"{rng.randint(1, 9999)} {rng.choice(STREET_NAMES)} {rng.choice(STREET_TYPES)}"
    return {"street": street, "city": city, "state": state, "zip": zip_code}


def patient(rng: random.Random, index: int, as_of: date) -> dict[str, Any]:
    """A patient drawn from ``rng`` (``index`` makes the e-mail unique), with what :func:`insured` splits off: the
    member id and the pick of payer and plan. Born between 1 and 88 years before ``as_of``."""
    gender = rng.choices(("F", "M", "U"), weights=(49, 49, 2))[0]
    first = rng.choice(FIRST_NAMES["F" if gender == "F" else "M" if gender == "M" else rng.choice("FM")])
    last = rng.choice(LAST_NAMES)
    dob = as_of - timedelta(days=rng.randint(1 * 365, 88 * 365))
    return {
        "first_name": first,
        "last_name": last,
        "date_of_birth": dob.isoformat(),
        "gender": gender,
        "address": address(rng),
        "phone": phone(rng),
        "email": f"{first.lower()}.{last.lower()}{index}@example.com",
        "member_id": f"MBR{rng.randint(0, 10**9 - 1):09d}",
        "payer_index": rng.randrange(len(PAYERS)),
        "plan_pick": rng.random(),
    }


def provider(rng: random.Random) -> dict[str, Any]:
    """A rendering provider drawn from ``rng``: a clinician or a practice, a valid NPI, NUCC taxonomy, address."""
    taxonomy, specialty, credentials = rng.choice(SPECIALTIES)
    if rng.random() < 0.5:
        gender = rng.choice("FM")
        name = f"{rng.choice(FIRST_NAMES[gender])} {rng.choice(LAST_NAMES)}, {credentials}"
    else:
        name = f"{rng.choice(PRACTICE_WORDS)} {specialty} Associates"
    return {
        "name": name,
        "npi": make_npi(rng),
        "taxonomy_code": taxonomy,
        "credentials": credentials,
        "address": address(rng),
    }


def npi_with_check_digit(first_nine: str) -> str:
    """Complete 9 digits into a valid NPI (:func:`claimflow.claims.codes.npi_check_digit`)."""
    return first_nine + npi_check_digit(first_nine)


def insured(drawn: Mapping[str, Any]) -> tuple[dict[str, Any], str, Payer, str]:
    """A :func:`patient` split into (the patient map as the item holds it, member id, payer, plan)."""
    patient = dict(drawn)
    payer = PAYERS[patient.pop("payer_index")]
    plan = payer.plans[int(patient.pop("plan_pick") * len(payer.plans))]
    return patient, patient.pop("member_id"), payer, plan


def procedure_lines(rng: random.Random) -> list[dict[str, Any]]:
    """One to four distinct procedure lines with units, a modifier now and then, and a charge in the code's range."""
    lines: list[dict[str, Any]] = []
    for proc in rng.sample(PROCEDURES, k=rng.choices((1, 2, 3, 4), weights=(45, 30, 17, 8))[0]):
        units = rng.randint(1, proc.max_units)
        modifiers = [rng.choice(proc.modifiers)] if proc.modifiers and rng.random() < 0.4 else []
        charge = (money(rng, proc.low, proc.high) * units).quantize(CENT)
        lines.append(
            {
                "procedure_code": proc.code,
                "description": proc.description,
                "modifiers": modifiers,
                "units": Decimal(units),
                "charge": charge,
            }
        )
    return lines


def diagnoses(rng: random.Random) -> list[str]:
    """One to four distinct billable ICD-10-CM codes, nine in ten from the common outpatient categories."""
    common, everything = billable_codes()
    count = rng.choices((1, 2, 3, 4), weights=(40, 32, 18, 10))[0]
    codes: list[str] = []
    while len(codes) < count:
        code = rng.choice(everything if rng.random() < 0.1 else common)
        if code not in codes:
            codes.append(code)
    return codes


def submitted_claim(
    rng: random.Random, patient: Mapping[str, Any], provider: Mapping[str, Any], as_of: date
) -> dict[str, Any]:
    """A new claim of ``patient`` (a :func:`patient`) at ``provider``, status Submitted, serviced 20 to 400 days
    before ``as_of``; its claim id is a UUID drawn from ``rng``."""
    holder, member_id, payer, plan = insured(patient)
    service = as_of - timedelta(days=rng.randint(20, 400))
    submitted = service + timedelta(days=rng.randint(0, 10))
    created = datetime.combine(submitted, datetime.min.time(), UTC) + timedelta(
        seconds=rng.randint(7 * 3600, 19 * 3600), microseconds=rng.randint(0, 999_999)
    )
    procedures = procedure_lines(rng)
    return {
        "claim_id": str(uuid.UUID(int=rng.getrandbits(128), version=4)),
        "member_id": member_id,
        "insurance_plan": plan,
        "diagnosis_codes": diagnoses(rng),
        "date_of_service": service.isoformat(),
        "total_charge": sum((p["charge"] for p in procedures), Decimal("0.00")).quantize(CENT),
        "procedure_details": procedures,
        "claim_status": SUBMITTED,
        "payment_status": PAYMENT_FOR_STATUS[SUBMITTED],
        "bill_submit_date": submitted.isoformat(),
        "created_timestamp": created.strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
        "patient": holder,
        "provider": dict(provider),
        "payer": {"name": payer.name, "payer_id": payer.payer_id, "contact_number": phone(rng)},
    }
