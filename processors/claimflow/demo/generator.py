"""Realistic synthetic insurance claims with a lifecycle, written into DynamoDB through boto3.

Every value is synthetic but valid where validity is checkable: NPIs pass the Luhn check with the 80840
prefix, diagnosis codes are billable ICD-10-CM codes drawn from ``simple-icd-10-cm``, procedure codes are real
CPT / HCPCS Level II codes with plausible charges, ZIP codes keep their leading zeros, phone numbers use the
fictional 555-01xx range and e-mail addresses the reserved ``example.com`` domain. Money is ``Decimal`` with two
places (a DynamoDB ``N``). Items are nested snake_case maps (``patient``, ``provider``, ``payer``), the shape
of the Snowflake quickstart's ``InsuranceClaims`` items.

Lifecycle (each step a full PutItem, so DynamoDB emits INSERT then MODIFY events): Submitted -> In Review ->
Approved -> Paid, or Denied, sometimes followed by a corrected Resubmitted claim that goes through review
again. Some claims stay pending; some are deleted by a user (submitted in error); some reach the end of their
retention: the claim gets a TTL attribute (``expires_at``, epoch seconds) in the past and the demo then plays
DynamoDB's TTL service by deleting it, which the bridge reports with the TTL service ``userIdentity``.

Determinism: the same ``seed`` (and ``as_of``) gives the same items in the same order. Claims are produced in
chunks whose lifecycle steps are written in waves (one wave never holds the same claim twice, so BatchWriteItem
accepts it); memory does not grow with the number of claims.
"""

from __future__ import annotations

import functools
import random
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Executor, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

from boto3.dynamodb.types import TypeSerializer

from claimflow.claims.codes import npi_check_digit
from claimflow.demo.aws import TTL_ATTRIBUTE

CENT = Decimal("0.01")
DEFAULT_AS_OF = date(2026, 10, 1)

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

# The attribute outside the claim schema some claims carry (see ClaimGenerator.new_claim).
NEW_ATTRIBUTE = "referral_source"
REFERRAL_SOURCES: tuple[Any, ...] = (
    "self", "primary care", "emergency department", {"channel": "web", "campaign": "flu-2025"},
)
PATIENT_POOL = 5000
PROVIDER_POOL = 150


def make_npi(rng: random.Random) -> str:
    first_nine = rng.choice("12") + "".join(rng.choice("0123456789") for _ in range(8))
    return first_nine + npi_check_digit(first_nine)


def _dotted(code: str) -> str:
    # simple_icd_10_cm.add_dot is slow on 7-character codes; the rule itself is simple.
    return code if len(code) <= 3 else f"{code[:3]}.{code[3:]}"


@functools.cache
def _billable_codes() -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(billable codes below the common categories, all billable codes), dotted, in a stable order."""
    import simple_icd_10_cm as icd

    everything = tuple(
        _dotted(code) for code in icd.get_all_codes(False) if not icd.is_chapter_or_block(code) and icd.is_leaf(code)
    )
    prefixes = tuple(COMMON_DIAGNOSIS_CATEGORIES)
    common = tuple(code for code in everything if code.startswith(prefixes))
    return common, everything


def _money(rng: random.Random, low: Decimal, high: Decimal) -> Decimal:
    cents = rng.randint(int(low * 100), int(high * 100))
    return (Decimal(cents) / 100).quantize(CENT)


def _phone(rng: random.Random) -> str:
    return f"({rng.choice(AREA_CODES)}) 555-01{rng.randint(0, 99):02d}"  # 555-0100..0199 are fictional


def _address(rng: random.Random) -> dict[str, str]:
    city, state, zip_code = rng.choice(PLACES)
    street = f"{rng.randint(1, 9999)} {rng.choice(STREET_NAMES)} {rng.choice(STREET_TYPES)}"
    return {"street": street, "city": city, "state": state, "zip": zip_code}


@functools.cache
def _patient(seed: int, index: int, as_of: date) -> dict[str, Any]:
    rng = random.Random(f"{seed}/patient/{index}")
    gender = rng.choices(("F", "M", "U"), weights=(49, 49, 2))[0]
    first = rng.choice(FIRST_NAMES["F" if gender == "F" else "M" if gender == "M" else rng.choice("FM")])
    last = rng.choice(LAST_NAMES)
    dob = as_of - timedelta(days=rng.randint(1 * 365, 88 * 365))
    return {
        "first_name": first,
        "last_name": last,
        "date_of_birth": dob.isoformat(),
        "gender": gender,
        "address": _address(rng),
        "phone": _phone(rng),
        "email": f"{first.lower()}.{last.lower()}{index}@example.com",
        "member_id": f"MBR{rng.randint(0, 10**9 - 1):09d}",
        "payer_index": rng.randrange(len(PAYERS)),
        "plan_pick": rng.random(),
    }


@functools.cache
def _provider(seed: int, index: int) -> dict[str, Any]:
    rng = random.Random(f"{seed}/provider/{index}")
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
        "address": _address(rng),
    }


@dataclass(frozen=True)
class GeneratorConfig:
    claims: int = 1000
    seed: int = 42
    as_of: date = DEFAULT_AS_OF  # "today" of the synthetic business: all claim dates lie before it
    chunk_size: int = 250
    stay_submitted: float = 0.08
    stay_in_review: float = 0.12
    denial_rate: float = 0.18
    resubmission_rate: float = 0.45  # of denied claims
    user_deletion_rate: float = 0.03
    ttl_expiry_rate: float = 0.05  # of finalized claims


@dataclass
class Write:
    """One step of one claim: a full item to put, or a key to delete (``ttl`` marks the simulated TTL service)."""

    claim_id: str
    item: dict[str, Any] | None
    ttl: bool = False


@dataclass
class GenerateStats:
    claims: int = 0
    puts: int = 0
    deletes: int = 0
    ttl_deletes: int = 0
    statuses: Counter[str] = field(default_factory=Counter)

    def count(self, wave: Sequence[Write]) -> None:
        for write in wave:
            if write.item is None:
                self.deletes += 1
                self.ttl_deletes += int(write.ttl)
            else:
                self.puts += 1
                if write.item["claim_status"] == SUBMITTED and TTL_ATTRIBUTE not in write.item:
                    self.claims += 1


class ClaimGenerator:
    """Deterministic claims and their lifecycles. ``waves()`` yields lists of writes, each list safe for one batch."""

    def __init__(self, config: GeneratorConfig) -> None:
        self.config = config
        self._rng = random.Random(config.seed)

    def new_claim(self, index: int) -> dict[str, Any]:
        rng, cfg = self._rng, self.config
        patient = dict(_patient(cfg.seed, rng.randrange(PATIENT_POOL), cfg.as_of))
        payer = PAYERS[patient.pop("payer_index")]
        plan = payer.plans[int(patient.pop("plan_pick") * len(payer.plans))]
        member_id = patient.pop("member_id")
        provider = _provider(cfg.seed, rng.randrange(PROVIDER_POOL))
        service = cfg.as_of - timedelta(days=rng.randint(20, 400))
        submitted = service + timedelta(days=rng.randint(0, 10))
        created = datetime.combine(submitted, datetime.min.time(), UTC) + timedelta(
            seconds=rng.randint(7 * 3600, 19 * 3600), microseconds=rng.randint(0, 999_999)
        )
        procedures: list[dict[str, Any]] = []
        for proc in rng.sample(PROCEDURES, k=rng.choices((1, 2, 3, 4), weights=(45, 30, 17, 8))[0]):
            units = rng.randint(1, proc.max_units)
            modifiers = [rng.choice(proc.modifiers)] if proc.modifiers and rng.random() < 0.4 else []
            charge = (_money(rng, proc.low, proc.high) * units).quantize(CENT)
            procedures.append(
                {
                    "procedure_code": proc.code,
                    "description": proc.description,
                    "modifiers": modifiers,
                    "units": Decimal(units),
                    "charge": charge,
                }
            )
        claim = {
            "claim_id": str(uuid.UUID(int=rng.getrandbits(128), version=4)),
            "member_id": member_id,
            "insurance_plan": plan,
            "diagnosis_codes": self._diagnoses(rng),
            "date_of_service": service.isoformat(),
            "total_charge": sum((p["charge"] for p in procedures), Decimal("0.00")).quantize(CENT),
            "procedure_details": procedures,
            "claim_status": SUBMITTED,
            "payment_status": PAYMENT_FOR_STATUS[SUBMITTED],
            "bill_submit_date": submitted.isoformat(),
            "created_timestamp": created.strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
            "patient": patient,
            "provider": dict(provider),
            "payer": {"name": payer.name, "payer_id": payer.payer_id, "contact_number": _phone(rng)},
        }
        # About one claim in 16 carries an attribute the claim schema does not know, as when the application starts
        # writing a new one: it must reach Snowflake in extraAttributes. Chosen from the id, so no random draw of
        # the other fields moves.
        if claim["claim_id"].endswith("0"):
            claim[NEW_ATTRIBUTE] = REFERRAL_SOURCES[int(claim["claim_id"][-2], 16) % len(REFERRAL_SOURCES)]
        return claim

    @staticmethod
    def _diagnoses(rng: random.Random) -> list[str]:
        common, everything = _billable_codes()
        count = rng.choices((1, 2, 3, 4), weights=(40, 32, 18, 10))[0]
        codes: list[str] = []
        while len(codes) < count:
            code = rng.choice(everything if rng.random() < 0.1 else common)
            if code not in codes:
                codes.append(code)
        return codes

    def lifecycle(self, index: int) -> list[Write]:
        """All writes of one claim, in order."""
        rng, cfg = self._rng, self.config
        claim = self.new_claim(index)
        cid = claim["claim_id"]
        steps: list[Write] = [Write(cid, dict(claim))]

        def move(status: str, **changes: Any) -> None:
            claim.update(changes, claim_status=status, payment_status=PAYMENT_FOR_STATUS[status])
            steps.append(Write(cid, dict(claim)))

        roll = rng.random()
        if roll >= cfg.stay_submitted:
            move(IN_REVIEW)
            if roll >= cfg.stay_submitted + cfg.stay_in_review:
                if rng.random() < cfg.denial_rate:
                    move(DENIED)
                    if rng.random() < cfg.resubmission_rate:
                        corrected = self._diagnoses(rng)
                        move(RESUBMITTED, diagnosis_codes=corrected)
                        move(IN_REVIEW)
                        move(APPROVED)
                        move(PAID)
                else:
                    move(APPROVED)
                    if rng.random() < 0.9:
                        move(PAID)
        final = claim["claim_status"] in (PAID, DENIED)
        fate = rng.random()
        if fate < cfg.user_deletion_rate:
            steps.append(Write(cid, None))
        elif final and fate < cfg.user_deletion_rate + cfg.ttl_expiry_rate:
            # Retention ended: the TTL attribute is set in the past, then the TTL service deletes the item.
            expiry = datetime.combine(date.fromisoformat(claim["bill_submit_date"]), datetime.min.time(), UTC)
            expiry += timedelta(days=rng.randint(30, 90))
            claim[TTL_ATTRIBUTE] = Decimal(int(expiry.timestamp()))
            steps.append(Write(cid, dict(claim)))
            steps.append(Write(cid, None, ttl=True))
        return steps

    def waves(self) -> Iterator[list[Write]]:
        """Writes grouped in waves: chunk by chunk, step by step. A wave never touches a claim twice."""
        cfg = self.config
        for start in range(0, cfg.claims, cfg.chunk_size):
            lifecycles = [self.lifecycle(i) for i in range(start, min(cfg.claims, start + cfg.chunk_size))]
            depth = max(len(steps) for steps in lifecycles)
            for step in range(depth):
                wave = [steps[step] for steps in lifecycles if step < len(steps)]
                if wave:
                    yield wave


_SERIALIZER = TypeSerializer()


def to_attribute_values(item: dict[str, Any]) -> dict[str, Any]:
    """A Python item (Decimal numbers) as DynamoDB attribute values, through boto3's own serializer."""
    return {k: _SERIALIZER.serialize(v) for k, v in item.items()}


# BatchWriteItem requests in flight at once: while the endpoint handles one, the next is built and serialised.
WRITERS = 2


def write_wave(
    dynamodb: Any, table_name: str, wave: Sequence[Write], max_attempts: int = 10, pool: Executor | None = None
) -> None:
    """BatchWriteItem in groups of 25, retrying unprocessed items with backoff; with ``pool``, the groups go out
    concurrently (a wave never touches a claim twice, so their order does not matter). Returns when every
    group is written.

    Raises:
        RuntimeError: when items remain unprocessed after ``max_attempts``.
    """
    groups = [wave[start : start + 25] for start in range(0, len(wave), 25)]
    if pool is None:
        for group in groups:
            _write_group(dynamodb, table_name, group, max_attempts)
        return
    for done in [pool.submit(_write_group, dynamodb, table_name, group, max_attempts) for group in groups]:
        done.result()  # re-raises the group's error


def _write_group(dynamodb: Any, table_name: str, group: Sequence[Write], max_attempts: int) -> None:
    requests: list[dict[str, Any]] = []
    for write in group:
        if write.item is None:
            requests.append({"DeleteRequest": {"Key": {"claim_id": {"S": write.claim_id}}}})
        else:
            requests.append({"PutRequest": {"Item": to_attribute_values(write.item)}})
    pending: dict[str, Any] = {table_name: requests}
    for attempt in range(max_attempts):
        unprocessed = dynamodb.batch_write_item(RequestItems=pending).get("UnprocessedItems") or {}
        if not unprocessed:
            return
        pending = unprocessed
        time.sleep(min(2.0, 0.05 * 2**attempt))
    raise RuntimeError(f"{len(pending[table_name])} writes still unprocessed after {max_attempts} attempts")


def generate(
    dynamodb: Any,
    table_name: str,
    config: GeneratorConfig,
    after_wave: Callable[[list[Write]], None] | None = None,
) -> GenerateStats:
    """Write ``config.claims`` claims with their lifecycles into the table; ``after_wave`` runs after each wave.

    Raises:
        ValueError: when ``config.as_of`` lies in the future (TTL expiries must be in the past).
    """
    if config.as_of > datetime.now(UTC).date():
        raise ValueError(f"--as-of {config.as_of} is in the future; simulated TTL expiries must lie in the past")
    stats = GenerateStats()
    with ThreadPoolExecutor(max_workers=WRITERS, thread_name_prefix="claimflow-writer") as pool:
        for wave in ClaimGenerator(config).waves():
            write_wave(dynamodb, table_name, wave, pool=pool)
            stats.count(wave)
            if after_wave:
                after_wave(wave)
    return stats
