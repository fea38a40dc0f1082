"""Helpers for the claims tests: synthetic items, change events, records."""

from __future__ import annotations

import copy
import random
from decimal import Decimal
from typing import Any

import orjson

from claimflow.claims.synthetic import claim_item, kinesis_record
from claimflow.events import ChangeEvent

EVENT_TIME_US = 1_761_955_200_000_000  # 2025-11-01T00:00:00Z
INGEST_US = 1_761_955_260_000_000


def item(number: int = 0, seed: int = 7) -> dict[str, Any]:
    return claim_item(random.Random(seed * 100_003 + number), number)


def fixed_item() -> dict[str, Any]:
    """A hand-written quickstart-style item whose every value a test can predict."""
    return {
        "claim_id": "CLM-1",
        "member_id": "MBR-77",
        "insurance_plan": "Gold PPO",
        "diagnosis_codes": ["E119", "I10"],
        "procedure_details": [
            {"code": "99213", "charge": Decimal("125.00"), "units": Decimal(1), "modifiers": ["25"]},
            {"code": "80053", "charge": Decimal("42.5"), "units": Decimal(2)},
        ],
        "total_charge": Decimal("167.50"),
        "date_of_service": "2025-03-10",
        "bill_submit_date": "2025-03-12",
        "claim_status": "In Review",
        "payment_status": "Pending",
        "created_timestamp": "2025-03-10T14:30:00+02:00",
        "patient": {
            "first_name": "Ava",
            "last_name": "Okafor",
            "dob": "1980-03-11",
            "gender": "female",
            "address": {"street": "12 Oak St", "city": "Albany", "state": "ny", "zip": "03601"},
            "phone": "555-010-2000",
            "email": "ava@example.com",
        },
        "provider": {
            "name": "Riverside Family Clinic",
            "npi": "1234567893",
            "address": {"street": "1 Health Pkwy", "city": "Albany", "state": "NY", "zip": Decimal(1220)},
            "taxonomy": "207Q00000X",
            "credentials": "MD",
        },
        "payer": {"name": "Blue Harbor Health", "payer_id": "BHH01", "contact_number": "800-555-0100"},
    }


def event(
    new: dict[str, Any] | None = None,
    old: dict[str, Any] | None = None,
    name: str = "INSERT",
    key: str | None = "CLM-1",
    event_id: str = "ev-1",
    time_us: int = EVENT_TIME_US,
) -> ChangeEvent:
    return ChangeEvent(
        event_id=event_id,
        event_name=name,
        table_name="InsuranceClaims",
        aws_region="us-east-1",
        event_time_us=time_us,
        ttl_delete=False,
        keys={} if key is None else {"claim_id": key},
        new_image=new,
        old_image=old,
        kinesis={"shard_id": "shardId-000000000000", "sequence_number": "4966" + "0" * 50, "partition_key": "pk",
                 "arrival_time_ms": 1_761_955_201_000},
        size_bytes=100,
    )


def with_change(base: dict[str, Any], path: str, value: Any) -> dict[str, Any]:
    """A deep copy of ``base`` with ``a.b.c`` set to ``value`` (``...`` as value deletes it)."""
    result = copy.deepcopy(base)
    node = result
    parts = path.split(".")
    for part in parts[:-1]:
        node = node[int(part)] if isinstance(node, list) else node[part]
    last: Any = int(parts[-1]) if isinstance(node, list) else parts[-1]
    if value is ...:
        del node[last]
    else:
        node[last] = value
    return result


def record_bytes(new: dict[str, Any] | None, name: str = "INSERT", old: dict[str, Any] | None = None,
                 number: int = 0, key: str | None = None) -> bytes:
    return orjson.dumps(kinesis_record(new, name, EVENT_TIME_US + number, number, old_item=old, key=key))
