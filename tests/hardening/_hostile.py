"""Builders of hostile Kinesis DynamoDB records, each mixed with good ones; the PHI sentinel they carry."""

from __future__ import annotations

import copy
import json
from typing import Any

import orjson

from claimflow.claims.synthetic import claim_records

# Synthetic PHI: a made-up name and birth date. It is placed inside the hostile field (and in the hostile
# record's patient), so any echo of input in stderr, logs, attributes or reasons shows.
SENTINEL = "ZZSENTINEL Testpatient 1931-02-29"
SENTINEL_PARTS = ("ZZSENTINEL", "Testpatient")

GOOD_COUNT = 4
HOSTILE_INDEX = 2  # the hostile line sits between good ones


def good_lines(seed: int = 41) -> list[bytes]:
    return list(claim_records(GOOD_COUNT, seed=seed))


def base_record(seed: int = 43) -> dict[str, Any]:
    """A valid INSERT of a claim none of the good lines has, its patient named by the sentinel."""
    record = orjson.loads(list(claim_records(GOOD_COUNT + 1, seed=seed))[GOOD_COUNT])
    record["eventName"] = "INSERT"
    record["dynamodb"].pop("OldImage", None)
    claim_id = "CLM-77777777"
    record["dynamodb"]["Keys"] = {"claim_id": {"S": claim_id}}
    image = record["dynamodb"].setdefault("NewImage", {})
    image["claim_id"] = {"S": claim_id}
    patient = image.get("patient", {}).get("M")
    if isinstance(patient, dict):
        patient["first_name"] = {"S": "ZZSENTINEL"}
        patient["last_name"] = {"S": "Testpatient"}
    return record


def batch(hostile: bytes, seed: int = 41) -> bytes:
    good = good_lines(seed)
    return b"\n".join([*good[:HOSTILE_INDEX], hostile, *good[HOSTILE_INDEX:]]) + b"\n"


def dumps(record: Any) -> bytes:
    try:
        return orjson.dumps(record)
    except TypeError:  # an integer beyond 64 bits: JSON allows it, orjson does not write it
        return json.dumps(record, separators=(",", ":")).encode()


def mutate(**changes: Any) -> dict[str, Any]:
    """The base record with top-level (``eventID=...``) or ``dynamodb__Field=...`` changes; None deletes."""
    record = copy.deepcopy(base_record())
    for name, value in changes.items():
        target = record
        parts = name.split("__")
        for part in parts[:-1]:
            target = target[part]
        if value is _DELETE:
            target.pop(parts[-1], None)
        else:
            target[parts[-1]] = value
    return record


_DELETE = object()
DELETE: Any = _DELETE


def with_image(name: str, value: Any) -> dict[str, Any]:
    record = base_record()
    record["dynamodb"]["NewImage"][name] = value
    return record


def with_key(claim_id: str) -> dict[str, Any]:
    record = base_record()
    record["dynamodb"]["Keys"] = {"claim_id": {"S": claim_id}}
    record["dynamodb"]["NewImage"]["claim_id"] = {"S": claim_id}
    return record


def deep_text(levels: int) -> bytes:
    """The base record with an extra attribute ``levels`` M containers deep, written as text (orjson and json
    both refuse to write it)."""
    record = base_record()
    record["dynamodb"]["NewImage"]["deep"] = "@@DEEP@@"
    text = orjson.dumps(record)
    deep = b'{"M":{"k":' * levels + b'{"S":"ZZSENTINEL Testpatient 1931-02-29"}' + b"}}" * levels
    return text.replace(b'"@@DEEP@@"', deep)
