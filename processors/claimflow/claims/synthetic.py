"""Deterministic synthetic claims as Kinesis DynamoDB records, for tests and the benchmark: no real person.

The claims' content is ``claimflow.claims.content``'s (the demo's too): billable ICD-10-CM codes, real CPT / HCPCS
codes, valid NPIs, nested snake_case items. Here they get a readable id (``CLM-00000042``), a status anywhere in
the lifecycle, and N values as strings in DynamoDB JSON.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from datetime import date
from typing import Any

import orjson

from claimflow.claims import content
from claimflow.claims.content import PAYMENT_FOR_STATUS
from claimflow.claims.mapping import dynamodb_json

AS_OF = date(2025, 11, 1)  # the claims' "today": claim_records' first event time
# Lifecycle order, in the status table's words ("Resubmitted" is flagged CLAIM_STATUS_UNRECOGNISED, so it is left
# out: these claims are clean). A MODIFY's old image holds the status before (the first one's: the last).
STATUSES = (content.SUBMITTED, content.IN_REVIEW, content.APPROVED, content.DENIED, content.PAID)


def claim_item(rng: random.Random, number: int) -> dict[str, Any]:
    """One realistic claim item (plain values, N as Decimal), the way the demo writes it to DynamoDB, with the id
    ``CLM-<number>`` and a status drawn from the lifecycle."""
    patient = content.patient(rng, number, AS_OF)
    item = content.submitted_claim(rng, patient, content.provider(rng), AS_OF)
    status = rng.choice(STATUSES)
    item.update(claim_id=f"CLM-{number:08d}", claim_status=status, payment_status=PAYMENT_FOR_STATUS[status])
    return item


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
    """The item as it was before a MODIFY: the claim status before (and its payment status)."""
    status = STATUSES[STATUSES.index(item["claim_status"]) - 1]
    return {**item, "claim_status": status, "payment_status": PAYMENT_FOR_STATUS[status]}


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
