"""Builders for synthetic Kinesis-DynamoDB change records (no real PHI: every value is made up)."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import orjson

REPO = Path(__file__).resolve().parents[2]
SAMPLES = REPO / "tests" / "fixtures" / "kinesis-dynamodb-public.ndjson"  # tests/fixtures/README.md

# A made-up value that stands in for PHI: it must never appear in an error message.
PHI_SENTINEL = "SENTINEL-PHI-Zelda-Q-Public"


def claim_image(claim_id: str = "CLM-00000001", status: str = "SUBMITTED") -> dict[str, Any]:
    return {
        "claim_id": {"S": claim_id},
        "patientFirstName": {"S": PHI_SENTINEL},
        "claimStatus": {"S": status},
        "totalCharge": {"N": "1234.50"},
        "diagnosisCodes": {"L": [{"S": "E11.9"}, {"S": "I10"}]},
        "procedureDetails": {
            "L": [{"M": {"code": {"S": "99213"}, "charge": {"N": "200.00"}, "units": {"N": "1"}}}],
        },
        "isEmergency": {"BOOL": False},
        "notes": {"NULL": True},
    }


def change_record(
    event_name: str = "INSERT",
    claim_id: str = "CLM-00000001",
    event_id: str | None = None,
    time: int = 1720740233012995,
    precision: str | None = "MICROSECOND",
    ttl: bool = False,
) -> dict[str, Any]:
    """A Kinesis-DynamoDB change record as DynamoDB writes it into the stream."""
    dynamodb: dict[str, Any] = {
        "ApproximateCreationDateTime": time,
        "Keys": {"claim_id": {"S": claim_id}},
        "SizeBytes": 321,
    }
    if event_name in ("INSERT", "MODIFY"):
        dynamodb["NewImage"] = claim_image(claim_id, "APPROVED" if event_name == "MODIFY" else "SUBMITTED")
    if event_name in ("MODIFY", "REMOVE"):
        dynamodb["OldImage"] = claim_image(claim_id)
    if precision is not None:
        dynamodb["ApproximateCreationDateTimePrecision"] = precision
    return {
        "awsRegion": "us-east-1",
        "eventID": event_id or f"evt-{event_name.lower()}-{claim_id}",
        "eventName": event_name,
        "userIdentity": {"type": "Service", "principalId": "dynamodb.amazonaws.com"} if ttl else None,
        "recordFormat": "application/json",
        "tableName": "InsuranceClaims",
        "dynamodb": dynamodb,
        "eventSource": "aws:dynamodb",
    }


def with_attribute(record: dict[str, Any], name: str, value: Any, image: str = "NewImage") -> dict[str, Any]:
    """A copy of ``record`` with one attribute of ``image`` replaced (raw DynamoDB JSON value)."""
    changed = copy.deepcopy(record)
    changed["dynamodb"][image][name] = value
    return changed


def ndjson(*records: Any) -> bytes:
    return b"\n".join(r if isinstance(r, bytes) else orjson.dumps(r) for r in records) + b"\n"


def nested(levels: int, leaf: dict[str, Any] | None = None) -> dict[str, Any]:
    """An attribute value with ``levels`` M / L containers (alternating) around a leaf."""
    value: dict[str, Any] = leaf or {"S": "leaf"}
    for level in range(levels):
        value = {"M": {"k": value}} if level % 2 == 0 else {"L": [value]}
    return value
