"""Synthetic Kinesis-DynamoDB claim records for the processor tests, carrying made-up PHI sentinels.

The sentinels are distinctive made-up values placed in every direct identifier; tests assert that none of them
ever appears in a FlowFile attribute or a log message (content may hold PHI; attributes and logs never).
"""

from __future__ import annotations

import json
import random
from typing import Any

from claimflow.claims.synthetic import claim_item, kinesis_record

PHI_SENTINELS = {
    "first_name": "Zelphiax",
    "last_name": "Quornbyte",
    "email": "zelphiax.quornbyte@phi-sentinel.example",
    "phone": "555-424-2424",
}
STREET_SENTINEL = "4242 Sentinelway Rd"
MEMBER_SENTINEL = "MBRSENTINEL42"
DOB_SENTINEL = "1951-07-04"
ALL_SENTINELS = (*PHI_SENTINELS.values(), STREET_SENTINEL, MEMBER_SENTINEL, DOB_SENTINEL)
HMAC_KEY = "made-up test key 40 bytes: q7Rz2Lw9Xc4Vb"  # a made-up test key of 40 bytes
START_US = 1_761_955_200_000_000


def claim(number: int, seed: int = 11) -> dict[str, Any]:
    item = claim_item(random.Random(seed * 1_000 + number), number)
    item["member_id"] = MEMBER_SENTINEL
    item["patient"].update(PHI_SENTINELS)
    item["patient"]["date_of_birth"] = DOB_SENTINEL
    item["patient"]["address"]["street"] = STREET_SENTINEL
    return item


def record(number: int, event_name: str = "INSERT", **changes: Any) -> dict[str, Any]:
    """A Kinesis record of claim ``number``; ``changes`` override fields of the new (or, for REMOVE, old) item."""
    item = {**claim(number), **changes}
    when = START_US + number * 1_000_003
    if event_name == "REMOVE":
        return kinesis_record(None, "REMOVE", when, number, old_item=item)
    if event_name == "MODIFY":
        return kinesis_record(item, "MODIFY", when, number, old_item=claim(number))
    return kinesis_record(item, "INSERT", when, number)


def ndjson(records: list[dict[str, Any]] | list[bytes]) -> bytes:
    return b"\n".join(r if isinstance(r, bytes) else json.dumps(r).encode() for r in records) + b"\n"


def mixed_batch() -> tuple[list[dict[str, Any]], dict[str, int]]:
    """Ten good records (6 INSERT, 2 MODIFY, 2 REMOVE) and the counts expected per relationship."""
    names = ["INSERT", "MODIFY", "INSERT", "REMOVE", "INSERT", "INSERT", "MODIFY", "INSERT", "REMOVE", "INSERT"]
    return [record(n, name) for n, name in enumerate(names)], {"insert": 6, "modify": 2, "remove": 2}


def malformed_line() -> bytes:
    """A truncated record that quotes a sentinel: its reason must not."""
    return ('{"eventID": "torn-1", "eventName": "INSERT", "dynamodb": {"NewImage": {"first_name": {"S": "'
            + PHI_SENTINELS["first_name"] + '"').encode()


def unknown_operation() -> dict[str, Any]:
    bad = record(90)
    bad["eventName"] = "UPSERT"
    return bad


def key_mismatch() -> dict[str, Any]:
    """A decodable INSERT whose image names another claim than its key: a claim the core must reject."""
    bad = record(91)
    bad["dynamodb"]["Keys"]["claim_id"]["S"] = "CLM-99999999"
    return bad


def remove_with_broken_old_image() -> dict[str, Any]:
    """A REMOVE whose old image is not a valid claim: a delete must still get through."""
    bad = record(92, "REMOVE")
    bad["dynamodb"]["OldImage"] = {"claim_id": {"S": "CLM-00000092"}, "total_charge": {"S": "not money"}}
    return bad


def assert_no_phi(text: str) -> None:
    leaked = [s for s in ALL_SENTINELS if s in text]
    assert leaked == [], f"PHI sentinels leaked: {leaked}"


def fail_second_call(monkeypatch: Any, module: Any, name: str) -> None:
    """Make ``module.name`` raise ``KeyError("Quornbyte")`` (a message that could be data) on its second call only,
    so one record of a FlowFile fails unexpectedly and the others go through the real function."""
    real = getattr(module, name)
    calls = {"n": 0}

    def flaky(*args: Any, **kwargs: Any) -> Any:
        calls["n"] += 1
        if calls["n"] == 2:
            raise KeyError("Quornbyte")
        return real(*args, **kwargs)

    monkeypatch.setattr(module, name, flaky)
