"""Inputs for the real-NiFi test and what the offline runtime makes of them, to compare against NiFi's answer."""

from __future__ import annotations

import json
from typing import Any

from claimflow.claims.synthetic import claim_records
from claimflow_offline.java import RoutedRunner
from claimflow_offline.runner import TestRunner
from processors._claims import ALL_SENTINELS, record

ROW_RELATIONSHIPS = ("insert", "modify", "remove")
# Attributes NiFi's GetFile or the framework set that the offline runner does not (or sets differently).
FRAMEWORK_ATTRIBUTES = ("uuid", "filename", "path", "absolute.path", "file.creationTime", "file.lastModifiedTime",
                        "file.lastAccessTime", "file.owner", "file.group", "file.permissions", "file.size",
                        # PartitionRecord's: a random id per parent, the place of a partition in a HashMap's
                        # (unspecified) order, and the parent's file name (GetFile's here)
                        "fragment.identifier", "fragment.index", "segment.original.filename")


def _line(value: dict[str, Any]) -> str:
    return json.dumps(value, separators=(",", ":"))


def _synthetic(count: int) -> list[dict[str, Any]]:
    return [json.loads(r) for r in claim_records(count)]


def cases() -> dict[str, bytes]:
    """Named FlowFile contents: good records, malformed JSON, poison records between good ones, a TTL delete and a
    REMOVE. Records carry the PHI sentinels of tests/processors/_claims.py."""
    good = [record(n) for n in range(3)] + [record(3, "MODIFY"), record(4, "REMOVE")]
    poison_tag = record(10)
    poison_tag["dynamodb"]["NewImage"]["total_charge"] = {"XX": "12.50"}  # an unknown DynamoDB type tag
    poison_npi = record(11)
    npi = poison_npi["dynamodb"]["NewImage"]["provider"]["M"]["npi"]["S"]
    poison_npi["dynamodb"]["NewImage"]["provider"]["M"]["npi"]["S"] = npi[:-1] + str((int(npi[-1]) + 1) % 10)
    unknown_event = record(12)
    unknown_event["eventName"] = "TRUNCATE"
    expired = record(13, "REMOVE")
    expired["userIdentity"] = {"type": "Service", "principalId": "dynamodb.amazonaws.com"}
    return {
        "good": "".join(_line(r) + "\n" for r in good).encode(),
        "malformed": b'{"awsRegion":"us-east-1","eventID":"0f","eventName":"INSERT","dynamodb":{"NewImage":{"claim',
        "poison": "".join(_line(r) + "\n" for r in (good[0], poison_tag, good[3], poison_npi, unknown_event,
                                                     good[4])).encode(),
        "ttl_delete": (_line(expired) + "\n").encode(),
        "remove": (_line(record(14, "REMOVE")) + "\n").encode(),
    }


def throughput_content(count: int = 10_000) -> bytes:
    return b"".join(json.dumps(r, separators=(",", ":")).encode() + b"\n" for r in _synthetic(count))


def offline(processor: str, content: bytes, attributes: dict[str, str] | None = None) -> TestRunner | RoutedRunner:
    """The offline runtime's run of ``content``; a claim processor's through the offline models of the flows'
    PartitionRecord and RouteOnAttribute."""
    runner = TestRunner(processor)
    runner.enqueue(content, attributes)
    runner.run()
    return runner if processor == "DecodeDynamoDBChange" else RoutedRunner(runner)


def comparable_row(row: dict[str, Any]) -> dict[str, Any]:
    """A row without the values only the moment of processing decides."""
    return {k: v for k, v in row.items() if k != "ingestTime"}


def comparable_dead_letter(item: dict[str, Any]) -> dict[str, Any]:
    """A dead letter with its original record parsed (key order is the writer's business)."""
    parsed = dict(item)
    if isinstance(parsed.get("record"), str):
        parsed["record"] = json.loads(parsed["record"])
    return parsed


def own_attributes(attributes: dict[str, str]) -> dict[str, str]:
    return {k: v for k, v in attributes.items() if k not in FRAMEWORK_ATTRIBUTES}


def phi_in(text: str) -> list[str]:
    return [s for s in ALL_SENTINELS if s in text]
