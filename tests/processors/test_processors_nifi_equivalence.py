"""Differential: through NiFi's record path (reader inference, the flow's row writer), both claim processors emit
exactly what the core computes from the raw bytes, for batches of claims with heterogeneous shapes."""

from __future__ import annotations

import json
import random
from typing import Any

import pytest

from claimflow.claims import ClaimSettings, route_records
from claimflow.claims.synthetic import claim_item, kinesis_record
from claimflow.flow.definitions import claim_row_wire_schema
from claimflow_offline.java import RoutedRunner
from claimflow_offline.runner import TestRunner

FLOW_WRITER = claim_row_wire_schema()


def heterogeneous_batch(seed: int) -> bytes:
    """Eight changes whose items drop, add or retype fields, so NiFi's merged schema pads and widens them, and two
    that cannot become rows (an unknown operation, an image of another claim than the key)."""
    rng = random.Random(seed)
    lines = []
    for number in range(8):
        item = claim_item(rng, number)
        for key in rng.sample(sorted(k for k in item if k != "claim_id"), rng.randint(0, 3)):
            del item[key]
        if rng.random() < 0.3:
            item["diagnosis_codes"] = ",".join(item.get("diagnosis_codes", ["E11.9"]))
        if rng.random() < 0.3 and "patient" in item:
            item["patient"]["middle_name"] = "Q"
        if rng.random() < 0.2:
            item["total_charge"] = str(item.get("total_charge", "10.00"))
        name = rng.choice(["INSERT", "INSERT", "MODIFY", "REMOVE"])
        change = kinesis_record(
            None if name == "REMOVE" else item, name, 1_761_955_200_000_000 + number, number,
            old_item=None if name == "INSERT" else item,
        )
        if number == seed % 8:
            change = {**change, "eventName": "UPSERT"}
        elif number == (seed + 3) % 8 and name != "REMOVE":
            change["dynamodb"]["Keys"]["claim_id"]["S"] = "CLM-99999999"
        lines.append(json.dumps(change).encode())
    return b"\n".join(lines)


def _rows(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{k: v for k, v in row.items() if k != "ingestTime"} for row in rows]


@pytest.mark.parametrize("seed", range(8))
@pytest.mark.parametrize("processor", ["TransformClaimChange", "ProcessClaimChange"])
def test_processors_nifi_record_path_equals_the_core(processor: str, seed: int) -> None:
    data = heterogeneous_batch(seed)
    expected: dict[str, list[dict[str, Any]]] = {}
    for routed in route_records(data, ClaimSettings(), 0):
        expected.setdefault(routed.relationship, []).append(routed.row or {"error": routed.error})
    content = data
    if processor == "TransformClaimChange":
        decoder = TestRunner("DecodeDynamoDBChange")
        decoder.enqueue(data)
        decoder.run()
        content = decoder.get_flowfiles_for("success")[0].content
    runner = TestRunner(processor, infer_schema_like_nifi=True, record_writer_schema=FLOW_WRITER, suppress_missing=True)
    runner.enqueue(content)
    runner.run()
    # A claim processor's one output goes through the flows' PartitionRecord + RouteOnAttribute.
    claims = RoutedRunner(runner)
    assert claims.get_flowfiles_for("failure") == []
    for relationship in ("insert", "modify", "remove"):
        emitted = [r for flowfile in claims.get_flowfiles_for(relationship) for r in flowfile.records()]
        assert _rows(emitted) == _rows(expected.get(relationship, [])), relationship
    dead = [r["error"] for flowfile in claims.get_flowfiles_for("invalid") for r in flowfile.records()]
    assert sorted(dead) == sorted(e["error"] for e in expected.get("invalid", []))
